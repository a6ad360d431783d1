"""docker-compose.yml and the Dockerfile, checked without Docker (no engine runs here).

The file is read as YAML and held to what docs/running.md promises: the five services, each
with a health check, state in named volumes, the services wired to Postgres and NATS by name,
NATS with the authorization config `forge up` gives its own (checked by the real nats-server),
trainers that can be scaled, and commands that `forge` accepts. The gRPC health probe the
checks run is run here for real against a health server. The Dockerfile must copy every
package pyproject.toml installs.
"""

from __future__ import annotations

import argparse
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from concurrent import futures
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml
from grpc_health.v1 import health, health_pb2, health_pb2_grpc

from forge_cli.main import build_parser
from forge_cli.nats_server import SCHEDULER_USER, authorization_config, nats_server_binary

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"nats", "postgres", "scheduler", "trainer", "gateway"}
FORGE_SERVICES = {"scheduler", "trainer", "gateway"}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    return loaded


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def test_it_runs_the_five_services(compose) -> None:
    assert set(services(compose)) == SERVICES


def test_every_service_has_a_health_check_and_a_restart_policy(compose) -> None:
    for name, service in services(compose).items():
        check = service.get("healthcheck")
        assert check, f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
        assert {"interval", "timeout", "retries"} <= set(check), name
        assert service.get("restart") == "unless-stopped", name


def test_state_lives_in_declared_named_volumes(compose) -> None:
    declared = set(compose["volumes"])
    used = set()
    for name, service in services(compose).items():
        for mount in service.get("volumes", []):
            source, target = mount.split(":")[:2]
            assert source in declared, f"{name} mounts {source}, which is not declared"
            used.add(source)
    assert used == declared
    for stateful, target in [
        ("nats", "/data"),
        ("postgres", "/var/lib/postgresql/data"),
        ("scheduler", "/data"),
    ]:
        assert any(m.endswith(f":{target}") for m in services(compose)[stateful]["volumes"])


def test_nats_runs_with_jetstream_and_a_store_on_its_volume(compose) -> None:
    nats = services(compose)["nats"]
    command = nats["command"]
    assert "--jetstream" in command
    assert command[command.index("--store_dir") + 1] == "/data"
    assert "js-enabled-only=true" in " ".join(nats["healthcheck"]["test"])


def test_nats_runs_with_forge_ups_authorization_config(compose, tmp_path: Path) -> None:
    nats = services(compose)["nats"]
    command = nats["command"]
    (mount,) = nats["configs"]
    assert command[command.index("--config") + 1] == mount["target"]
    content = compose["configs"][mount["source"]]["content"]
    passwords = {"FORGE_NATS_PASSWORD": "scheduler-pw", "FORGE_NATS_READER_PASSWORD": "reader-pw"}
    rendered = interpolate(content, passwords)

    assert rendered == authorization_config("scheduler-pw", "reader-pw")
    config = tmp_path / "forge-auth.conf"
    config.write_text(rendered)
    checked = subprocess.run(
        [nats_server_binary(), "-t", "-c", str(config)], capture_output=True, text=True, timeout=60
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_the_scheduler_is_the_nats_identity_that_may_publish(compose) -> None:
    env = services(compose)["scheduler"]["environment"]
    content = compose["configs"]["nats-auth"]["content"]
    assert env["FORGE_NATS_USER"] == SCHEDULER_USER
    assert env["FORGE_NATS_PASSWORD"].startswith("${FORGE_NATS_PASSWORD:?"), "required"
    assert f'password: "{env["FORGE_NATS_PASSWORD"]}"' in content
    for name in ("trainer", "gateway"):
        assert "FORGE_NATS_PASSWORD" not in services(compose)[name].get("environment", {})


def test_the_scheduler_uses_postgres_and_nats_by_service_name(compose) -> None:
    env = services(compose)["scheduler"]["environment"]
    assert re.fullmatch(
        r"postgresql\+psycopg2://forge:.+@postgres:5432/forge", env["FORGE_DATABASE_URL"]
    )
    assert env["FORGE_NATS_URL"] == "nats://nats:4222"
    depends = services(compose)["scheduler"]["depends_on"]
    assert depends == {
        "postgres": {"condition": "service_healthy"},
        "nats": {"condition": "service_healthy"},
    }


def test_the_scheduler_trainers_and_gateway_share_a_required_cluster_token(compose) -> None:
    # The gateway vouches with it for its clients' addresses at login (docs/running.md).
    tokens = {
        services(compose)[name]["environment"]["FORGE_CLUSTER_TOKEN"]
        for name in ("scheduler", "trainer", "gateway")
    }
    (token,) = tokens
    assert token.startswith("${FORGE_CLUSTER_TOKEN:?"), "no cluster may run on a default token"


def test_the_gateway_is_healthy_while_its_scheduler_serves(compose) -> None:
    probe = " ".join(services(compose)["gateway"]["healthcheck"]["test"])
    assert "http://127.0.0.1:8080/healthz" in probe


def test_trainers_scale_out(compose) -> None:
    trainer = services(compose)["trainer"]
    assert "ports" not in trainer, "published ports would clash between replicas"
    assert "container_name" not in trainer
    assert "replicas" in trainer["deploy"]
    assert trainer["depends_on"] == {"scheduler": {"condition": "service_healthy"}}
    argv = forge_argv(trainer["command"])
    assert argv[argv.index("--scheduler") + 1] == "scheduler:50051"
    assert "--advertise" in argv


def test_only_the_scheduler_and_the_gateway_are_published(compose) -> None:
    published = {name for name, service in services(compose).items() if "ports" in service}
    assert published == {"scheduler", "gateway"}
    assert services(compose)["scheduler"]["ports"] == ["50051:50051"]
    assert services(compose)["gateway"]["ports"] == ["8080:8080"]


def test_forge_services_build_this_image_and_run_commands_forge_accepts(compose) -> None:
    commands = subparsers()
    for name in FORGE_SERVICES:
        service = services(compose)[name]
        assert service["build"] == "."
        assert service["image"] == "azuraforge:latest"
        argv = forge_argv(service["command"])
        assert argv[0] in commands, f"`forge {argv[0]}` is no command"
        commands[argv[0]].parse_args(argv[1:])  # exits (fails the test) on a bad flag


def test_the_grpc_health_probe_tells_serving_from_not(compose, health_server) -> None:
    servicer, port = health_server
    test = services(compose)["scheduler"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "python", "-c"]
    probe = [sys.executable, "-c", test[3], f"127.0.0.1:{port}"]
    assert services(compose)["trainer"]["healthcheck"]["test"][3] == test[3]

    assert subprocess.run(probe, timeout=60).returncode == 0
    servicer.set("", health_pb2.HealthCheckResponse.NOT_SERVING)
    assert subprocess.run(probe, timeout=60, capture_output=True).returncode != 0


def test_the_dockerfile_copies_every_package_pyproject_installs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    copied = set(re.findall(r"^COPY (\S+) \1$", dockerfile, flags=re.MULTILINE))
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = {
        name
        for name in project["tool"]["setuptools"]["packages"]["find"]["include"]
        if "." not in name
    }
    # azuraforge is the generated code, which lives in protos/.
    assert packages - {"azuraforge"} <= copied
    assert "protos" in copied
    assert re.search(r"^FROM python:3\.1[1-9]", dockerfile, flags=re.MULTILINE)
    assert re.search(r"^USER (?!root)", dockerfile, flags=re.MULTILINE), "run as a plain user"


@pytest.fixture
def health_server() -> Iterator[tuple[health.HealthServicer, int]]:
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    servicer = health.HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    servicer.set("", health_pb2.HealthCheckResponse.SERVING)
    try:
        yield servicer, port
    finally:
        server.stop(None)


def interpolate(text: str, values: dict[str, str]) -> str:
    """`text` with its `${NAME:?message}` references replaced as Compose replaces them."""

    def value(reference: re.Match[str]) -> str:
        return values[reference[1]]

    return re.sub(r"\$\{([A-Z_]+):\?[^}]*\}", value, text)


def forge_argv(command: list[str]) -> list[str]:
    """The `forge` arguments of a compose command, direct or under `sh -c 'exec forge …'`."""
    if command[:2] == ["sh", "-c"]:
        words = shlex.split(command[2].replace("$$", "$"))
        assert words[0] == "exec", "a shell must exec forge, or signals stop at the shell"
        command = words[1:]
    assert command[0] == "forge"
    return command[1:]


def subparsers() -> dict[str, Any]:
    parser = build_parser()
    (action,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)
