"""`forge gateway` as a user runs it: it serves until SIGTERM, and refuses a port it cannot use."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.stack import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.timeout(120)
FORGE = [sys.executable, "-m", "forge_cli.main", "gateway"]
# Importing aiohttp and grpc on a loaded machine takes seconds, not minutes.
START_S = 60.0


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def environment(tmp_path: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("FORGE_")}
    # No web UI where this gateway looks: the checkout's own build may exist beside the package.
    return {
        **env,
        "FORGE_SCHEDULER_ADDR": "127.0.0.1:9",
        "FORGE_WEBAPP_DIR": str(tmp_path / "no-web-ui"),
    }


def test_forge_gateway_serves_until_sigterm(tmp_path: Path):
    port = free_port()
    process = subprocess.Popen(
        [*FORGE, "--port", str(port), "--host", "127.0.0.1"],
        cwd=tmp_path,
        env=environment(tmp_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:

        def served() -> tuple[int, bytes]:
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            return get(f"http://127.0.0.1:{port}/api/v1/openapi.json")

        status, body = wait_until(served, START_S, "forge gateway to start", interval=0.2)
        ui_status, ui = get(f"http://127.0.0.1:{port}/")
        pipelines_status, _ = get(f"http://127.0.0.1:{port}/api/v1/pipelines")
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()

    assert status == 200
    assert json.loads(body)["info"]["title"] == "AzuraForge API"
    # No web UI built in this folder: the page says so instead of failing.
    assert ui_status == 503 and b"npm run build" in ui
    assert pipelines_status == 401
    assert process.returncode == 0
    text = output.decode()
    assert f"serving on port {port}" in text
    assert "no web UI built in" in text
    assert "GET /api/v1/openapi.json" in text


def test_forge_gateway_refuses_a_taken_port_and_a_bad_setting(tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        in_use = subprocess.run(
            [*FORGE, "--port", str(port), "--host", "127.0.0.1"],
            cwd=tmp_path,
            env=environment(tmp_path),
            capture_output=True,
            text=True,
            timeout=START_S,
        )
    bad = subprocess.run(
        FORGE,
        cwd=tmp_path,
        env={**environment(tmp_path), "FORGE_GATEWAY_PORT": "http"},
        capture_output=True,
        text=True,
        timeout=START_S,
    )

    assert in_use.returncode == 2
    assert f"cannot listen on port {port}" in in_use.stderr
    assert bad.returncode == 2
    assert "FORGE_GATEWAY_PORT='http'" in bad.stderr
