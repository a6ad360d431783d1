"""`forge trainer`: the console script serves until SIGTERM, and refuses settings it cannot use."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from forge_cli.main import main

FORGE = Path(sys.executable).parent / "forge"


def test_the_trainer_serves_until_sigterm(tmp_path: Path) -> None:
    env = {**os.environ, "FORGE_DATA_DIR": str(tmp_path), "FORGE_CLUSTER_TOKEN": "secret"}
    env.pop("FORGE_SCHEDULER_ADDR", None)
    trainer = subprocess.Popen(
        [str(FORGE), "trainer", "--host", "127.0.0.1", "--port", "0", "--slots", "2"],
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert trainer.stderr is not None
        line = trainer.stderr.readline()
        match = re.search(r"trainer \S+ serving on port (\d+) \(2 slot\(s\)", line)
        assert match, line
        with grpc.insecure_channel(f"127.0.0.1:{match[1]}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            answer = health.Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert answer.status == health_pb2.HealthCheckResponse.SERVING
        trainer.send_signal(signal.SIGTERM)
        assert trainer.wait(timeout=20) == 0
    finally:
        trainer.kill()
        trainer.wait()


def test_without_a_cluster_token_it_says_what_to_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORGE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("FORGE_CLUSTER_TOKEN", raising=False)

    assert main(["trainer"]) == 2
    assert "forge trainer: no cluster token" in capsys.readouterr().err


def test_a_port_in_use_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FORGE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("FORGE_CLUSTER_TOKEN", "secret")
    monkeypatch.delenv("FORGE_SCHEDULER_ADDR", raising=False)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code = main(["trainer", "--host", "127.0.0.1", "--port", str(port)])

    assert code == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
