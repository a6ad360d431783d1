"""`forge scheduler`: serves until SIGTERM, prints a generated admin password once, keeps its
data private whatever the umask, and refuses to start without a NATS that lets it in."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from forge_cli.main import main
from tests.stack import ForgeNats, free_port

FORGE = Path(sys.executable).parent / "forge"

pytestmark = pytest.mark.timeout(120)


def clean_environment(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FORGE_")}
    env["FORGE_DATA_DIR"] = str(tmp_path)
    return env


def test_the_scheduler_serves_until_sigterm(tmp_path: Path, forge_nats: ForgeNats) -> None:
    port = free_port()
    data = tmp_path / "var"
    scheduler = subprocess.Popen(
        [str(FORGE), "scheduler", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={
            **clean_environment(data),
            "FORGE_NATS_URL": forge_nats.url,
            "FORGE_NATS_USER": "forge-scheduler",
            "FORGE_NATS_PASSWORD": forge_nats.identities.scheduler.value,
        },
        umask=0o022,  # a usual shell's: the data must be private all the same
    )
    try:
        assert scheduler.stderr is not None and scheduler.stdout is not None
        for line in scheduler.stderr:
            if "scheduler serving on port" in line:
                break
        assert f"scheduler serving on port {port}" in line, line
        assert f"NATS {forge_nats.url} as user 'forge-scheduler'" in line
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            answer = health_pb2_grpc.HealthStub(channel).Check(
                health_pb2.HealthCheckRequest(service="azuraforge.v1.SchedulerService"),
                timeout=10,
            )
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        scheduler.send_signal(signal.SIGTERM)
        output, _ = scheduler.communicate(timeout=30)
    finally:
        if scheduler.poll() is None:
            scheduler.kill()
            scheduler.wait()
    assert scheduler.returncode == 0
    assert re.search(
        r"created the account 'admin' with the generated password\n\n    \S{20,}", output
    )
    assert forge_nats.identities.scheduler.value not in output
    assert data.stat().st_mode & 0o777 == 0o700
    for name in ("forge.db", "cluster-token", "jwt-secret"):
        assert (data / name).stat().st_mode & 0o777 == 0o600, name


def test_without_nats_the_scheduler_says_how_to_get_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [name for name in os.environ if name.startswith("FORGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FORGE_DATA_DIR", str(tmp_path))

    assert main(["scheduler", "--port", str(free_port())]) == 2
    assert "FORGE_NATS_URL" in capsys.readouterr().err


def test_an_unreachable_nats_stops_the_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr("scheduler.bus.CONNECT_TIMEOUT_S", 1.0)
    for name in [name for name in os.environ if name.startswith("FORGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FORGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FORGE_ADMIN_PASSWORD", "admin-password")
    nowhere = f"nats://127.0.0.1:{free_port()}"

    port = str(free_port())

    code = main(["scheduler", "--host", "127.0.0.1", "--port", port, "--nats-url", nowhere])

    assert code == 1
    assert f"cannot reach NATS at {nowhere}" in capsys.readouterr().err


def test_a_nats_that_refuses_the_scheduler_stops_the_start_naming_the_settings(
    tmp_path: Path,
    forge_nats: ForgeNats,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr("scheduler.bus.CONNECT_TIMEOUT_S", 1.0)
    for name in [name for name in os.environ if name.startswith("FORGE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("FORGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FORGE_ADMIN_PASSWORD", "admin-password")
    monkeypatch.setenv("FORGE_NATS_USER", "forge-scheduler")
    monkeypatch.setenv("FORGE_NATS_PASSWORD", "not-the-password")
    port = str(free_port())

    code = main(["scheduler", "--host", "127.0.0.1", "--port", port, "--nats-url", forge_nats.url])

    assert code == 1
    error = capsys.readouterr().err
    assert f"NATS at {forge_nats.url} refused the scheduler" in error
    assert "as user 'forge-scheduler'" in error
    assert "FORGE_NATS_PASSWORD" in error
    assert "not-the-password" not in error
