"""`forge up` for real: the README's run command, as a subprocess, used as a new user would.

It starts NATS, the scheduler and a trainer in a fresh data folder on free ports, prints a
generated admin password (the scheduler answering on loopback only); the `forge` CLI logs in
with it, submits a small weather forecast and watches it succeed; then Ctrl-C (SIGINT) stops
everything with status 0, and no process of any service, nor any process one of them
started, is left. It runs under the umask most
shells have, 022, and everything it wrote in the data folder is the user's alone all the same.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2_grpc
from grpc_health.v1.health import HealthServicer

from azuraforge.tls import TlsSettings
from forge_cli import up
from forge_cli.main import build_parser
from forge_cli.supervisor import group_exists
from forge_cli.up import AdminAccount, Plan, free_port, grpc_serving
from tests.certificates import Certificates
from tests.processes import FORGE, PASSWORD, Output, kill_group

TINY_FORECAST = ["epochs=2", "end=2012-03-31", "hidden_size=8"]
ADMIN = AdminAccount("admin", None, existed=True)
TLS_VARIABLES = (
    "FORGE_TLS_CERT",
    "FORGE_TLS_KEY",
    "FORGE_TLS_CA",
    "FORGE_TLS_CLIENT_CERT",
    "FORGE_TLS_CLIENT_KEY",
    "FORGE_TLS_CLIENT_CA",
)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A new user's environment: an empty data folder, no login saved, no NATS configured."""
    environ = {
        **os.environ,
        "FORGE_DATA_DIR": str(tmp_path / "var"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "NO_COLOR": "1",
    }
    for variable in (
        "FORGE_NATS_URL",
        "FORGE_ADMIN_PASSWORD",
        "FORGE_TOKEN",
        "FORGE_TOKEN_FILE",
        "FORGE_SCHEDULER_ADDR",
        "FORGE_DATABASE_URL",
        "FORGE_CLUSTER_TOKEN",
        "FORGE_JWT_SECRET",
        "FORGE_SCHEDULER_HOST",
        *TLS_VARIABLES,
    ):
        environ.pop(variable, None)
    return environ


@pytest.fixture
def forge_up(env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[str], Output, str]]:
    """`forge up` on free ports; whatever a failing test leaves is killed, group by group."""
    port = free_port()
    ports = ["--scheduler-port", str(port), "--gateway-port", str(free_port())]
    process = subprocess.Popen(
        [str(FORGE), "up", *ports, "--grace", "20"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        process_group=0,
        umask=0o022,  # a usual shell's, which would leave new files readable by everyone
    )
    output = Output(process)
    try:
        yield process, output, f"127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in output.children().values():
            kill_group(pid)
        output.close()


def test_forge_up_runs_an_experiment_and_stops_cleanly_on_ctrl_c(forge_up, env) -> None:
    process, output, address = forge_up
    output.wait_for(re.compile(r"^up +\| AzuraForge is up: scheduler "))
    password = output.wait_for(PASSWORD, timeout=5)[1]
    children = output.children()
    assert set(children) == {"nats", "scheduler", "trainer-1", "gateway"}
    assert_loopback_only(int(address.rpartition(":")[2]))
    assert any(line.startswith("trainer-1 | ") for line in output.lines)

    login = forge(
        env,
        "login",
        "--scheduler",
        address,
        "--username",
        "admin",
        "--password-stdin",
        input=f"{password}\n",
    )
    assert login.returncode == 0, login.stderr
    assert "Logged in to" in login.stdout

    sets = [arg for value in TINY_FORECAST for arg in ("--set", value)]
    submit = forge(env, "submit", "weather_forecaster", *sets, "--watch", "--scheduler", address)
    assert submit.returncode == 0, submit.stdout + submit.stderr
    assert "Epoch 2/2" in submit.stdout
    assert "Experiment SUCCEEDED" in submit.stdout
    assert_private(Path(env["FORGE_DATA_DIR"]))

    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=120) == 0, "\n".join(output.lines[-40:])
    output.close()
    lines = output.lines
    stops = [
        lines.index(f"up        | stopping {name}")
        for name in ("gateway", "scheduler", "trainer-1", "nats")
    ]
    # The scheduler stops placing before the trainers go, so no run is lost to the stop.
    assert stops == sorted(stops), "the gateway, then the scheduler, then the trainers"
    assert lines[-1] == "up        | stopped"
    for name, pid in children.items():
        assert not group_exists(pid), f"a process of {name}'s group outlived forge up"


def assert_loopback_only(port: int) -> None:
    """Nothing answers on `port` at this machine's address on the network (if it has one)."""
    outward = this_machines_address()
    if outward is None:
        return  # no network: nothing beyond this machine to be reached from
    with socket.socket() as probe:
        probe.settimeout(5)
        reached = probe.connect_ex((outward, port)) == 0
    assert not reached, f"the scheduler answers on {outward}:{port}, beyond this machine"


def this_machines_address() -> str | None:
    """The address this machine reaches the network from; None without a route out."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        try:
            udp.connect(("192.0.2.1", 9))  # a documentation address: no packet is sent
        except OSError:
            return None
        address: str = udp.getsockname()[0]
    return None if address.startswith("127.") else address


def assert_private(data_dir: Path) -> None:
    """The data folder 0700, its database files 0600, and nothing in it open to others."""
    assert data_dir.stat().st_mode & 0o777 == 0o700
    # Written by SQLite when it pleases, the WAL files exist while the scheduler runs.
    for name in ("forge.db", "forge.db-wal", "forge.db-shm", "nats.conf", "nats-password"):
        assert (data_dir / name).stat().st_mode & 0o777 == 0o600, name
    entries = list(data_dir.rglob("*"))
    kinds = {path.relative_to(data_dir).parts[0] for path in entries}
    assert {"nats", "trainer"} <= kinds, "the NATS store and the trainer's runs are checked"
    open_to_others = [
        f"{path} {path.stat().st_mode & 0o777:04o}"
        for path in entries
        if not path.is_symlink() and path.stat().st_mode & 0o077
    ]
    assert open_to_others == []


def test_a_second_forge_up_on_a_taken_port_says_which_flag_to_change(env) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [str(FORGE), "up", "--scheduler-port", str(port)],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )
    assert result.returncode == 2
    assert f"port {port} is in use" in result.stderr
    assert "--scheduler-port" in result.stderr


def forge(
    env: dict[str, str], *args: str, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(FORGE), *args], input=input, capture_output=True, text=True, env=env, timeout=300
    )


def plan(environ: dict[str, str], *argv: str) -> Plan:
    args = build_parser().parse_args(["up", *argv])
    return Plan.from_args(args, environ)


def test_the_plan_starts_nats_unless_a_nats_url_is_set(tmp_path: Path) -> None:
    bundled = plan({"FORGE_DATA_DIR": str(tmp_path)})
    external = plan({"FORGE_DATA_DIR": str(tmp_path), "FORGE_NATS_URL": "nats://elsewhere:4222"})

    assert [s.name for s in bundled.services()][:2] == ["nats", "scheduler"]
    nats = bundled.services()[0]
    assert "--jetstream" in nats.argv
    assert nats.argv[nats.argv.index("--store_dir") + 1] == str(tmp_path / "nats")
    assert nats.argv[nats.argv.index("--config") + 1] == str(tmp_path / "nats.conf")
    assert bundled.env()["FORGE_NATS_URL"] == f"nats://127.0.0.1:{bundled.nats_port}"
    assert "nats" not in [s.name for s in external.services()]
    assert external.env()["FORGE_NATS_URL"] == "nats://elsewhere:4222"


def test_only_the_scheduler_gets_the_bundled_nats_password(tmp_path: Path) -> None:
    the_plan = plan({"FORGE_DATA_DIR": str(tmp_path), "FORGE_NATS_TOKEN": "a-token"})

    services = {service.name: service for service in the_plan.services()}

    password = (tmp_path / "nats-password").read_text().strip()
    scheduler = services["scheduler"].env
    assert (scheduler["FORGE_NATS_USER"], scheduler["FORGE_NATS_PASSWORD"]) == (
        "forge-scheduler",
        password,
    )
    assert scheduler["FORGE_NATS_TOKEN"] == ""  # the bundled server knows no token
    for name, service in services.items():
        if name != "scheduler":
            assert password not in service.env.values(), name
    assert f'password: "{password}"' in (tmp_path / "nats.conf").read_text()


def test_trainers_get_stable_names_and_share_the_cores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    the_plan = plan(
        {"FORGE_DATA_DIR": str(tmp_path)}, "--trainers", "3", "--scheduler-port", "6000"
    )

    trainers = [s for s in the_plan.services() if s.name.startswith("trainer")]

    assert [t.name for t in trainers] == ["trainer-1", "trainer-2", "trainer-3"]
    ports = set()
    for trainer in trainers:
        argv = trainer.argv
        assert argv[argv.index("--id") + 1] == trainer.name
        assert argv[argv.index("--scheduler") + 1] == "127.0.0.1:6000"
        assert argv[argv.index("--threads") + 1] == "2"
        # A port of its own, fixed in its command, so that a restart keeps its address and
        # `forge up` knows where to ask its health service.
        port = int(argv[argv.index("--port") + 1])
        assert port > 0 and trainer.ready_what.endswith(f"127.0.0.1:{port}")
        ports.add(port)
    assert len(ports) == 3


def test_a_port_setting_it_cannot_use_is_refused_by_name(tmp_path: Path) -> None:
    with pytest.raises(up.UsageError, match="FORGE_SCHEDULER_PORT='fifty' is not a whole number"):
        plan({"FORGE_DATA_DIR": str(tmp_path), "FORGE_SCHEDULER_PORT": "fifty"})
    with pytest.raises(up.UsageError, match="--gateway-port 70000 is out of range"):
        plan({"FORGE_DATA_DIR": str(tmp_path)}, "--gateway-port", "70000")
    with pytest.raises(up.UsageError, match="FORGE_GATEWAY_PORT 0 is out of range: use 1"):
        plan({"FORGE_DATA_DIR": str(tmp_path), "FORGE_GATEWAY_PORT": "0"})


def test_the_banner_says_how_to_run_this_forge_from_here(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clone = tmp_path / "clone"
    (clone / ".venv" / "bin").mkdir(parents=True)
    (clone / ".venv" / "bin" / "forge").touch(mode=0o755)
    monkeypatch.setattr("sys.executable", str(clone / ".venv" / "bin" / "python"))
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    admin = up.AdminAccount("admin", "s3cret", existed=False)

    monkeypatch.chdir(clone)
    in_the_clone = up.pasteable_forge()
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    elsewhere = up.pasteable_forge()
    monkeypatch.setenv("PATH", str(clone / ".venv" / "bin"))
    activated = up.pasteable_forge()

    assert in_the_clone == ".venv/bin/forge"
    assert elsewhere == str(clone / ".venv" / "bin" / "forge")
    assert activated == "forge"
    assert (
        admin.lines("127.0.0.1:50051", in_the_clone)[-1]
        == "    .venv/bin/forge login --username admin"
    )


def test_the_scheduler_listens_on_loopback_unless_told_otherwise(tmp_path: Path) -> None:
    environ = {"FORGE_DATA_DIR": str(tmp_path)}

    def scheduler_argv(the_plan: Plan) -> list[str]:
        (scheduler,) = [s for s in the_plan.services() if s.name == "scheduler"]
        return scheduler.argv

    default = plan(environ, "--scheduler-port", "6000")
    everywhere = plan(environ, "--scheduler-port", "6000", "--scheduler-host", "0.0.0.0")
    one_address = plan({**environ, "FORGE_SCHEDULER_HOST": "10.1.2.3"}, "--scheduler-port", "6000")

    argv = scheduler_argv(default)
    assert argv[argv.index("--host") + 1] == "127.0.0.1"
    argv = scheduler_argv(everywhere)
    assert argv[argv.index("--host") + 1] == "0.0.0.0"
    # The services forge up starts reach the scheduler where it listens.
    assert everywhere.scheduler_address == "127.0.0.1:6000"
    assert one_address.scheduler_address == "10.1.2.3:6000"
    argv = scheduler_argv(one_address)
    assert argv[argv.index("--host") + 1] == "10.1.2.3"
    assert any("beyond this machine" in line for line in everywhere.banner(ADMIN))


def test_tls_settings_forge_up_cannot_use_are_refused_by_name(
    tmp_path: Path, certificates: Certificates
) -> None:
    environ = {"FORGE_DATA_DIR": str(tmp_path)}
    serving = {
        "FORGE_TLS_CERT": str(certificates.server_cert),
        "FORGE_TLS_KEY": str(certificates.server_key),
    }

    with pytest.raises(up.UsageError, match="need FORGE_TLS_CA to trust them"):
        plan({**environ, **serving}).check_tls()
    with pytest.raises(up.UsageError, match="FORGE_TLS_CERT and FORGE_TLS_KEY go together"):
        plan({**environ, "FORGE_TLS_CERT": str(certificates.server_cert)}).check_tls()
    plan({**environ, **serving, "FORGE_TLS_CA": str(certificates.ca)}).check_tls()


def test_forge_up_asks_a_tls_scheduler_if_it_is_ready_over_tls(
    certificates: Certificates,
) -> None:
    serving = TlsSettings.from_env(certificates.server_env())
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    credentials = serving.server_credentials()
    assert credentials is not None
    port = server.add_secure_port("127.0.0.1:0", credentials)
    server.start()
    try:
        address = f"127.0.0.1:{port}"
        assert grpc_serving(address, TlsSettings.from_env(certificates.client_env()))
        assert not grpc_serving(address, TlsSettings())
    finally:
        server.stop(None)
