"""`GET /healthz`: 200 while the scheduler serves, 503 saying why not, and no token needed."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import GatewaySettings
from tests.gateway.harness import gateway_on_stack, lone_gateway
from tests.gateway.refuser import running_refuser

pytestmark = pytest.mark.timeout(180)


@pytest.mark.usefixtures("probe_pipeline")
def test_a_gateway_whose_scheduler_serves_is_healthy(tmp_path: Path, nats_url: str):
    async def scenario() -> tuple[int, Any, str | None]:
        async with (
            gateway_on_stack(tmp_path, nats_url, trainers=0) as gateway,
            gateway.http.get("/healthz") as response,
        ):
            return response.status, await response.json(), response.headers.get("Cache-Control")

    status, body, cache = asyncio.run(scenario())

    assert (status, body) == (200, {"status": "ok", "scheduler": "serving"})
    assert cache == "no-store"


def test_a_gateway_without_its_scheduler_is_not(tmp_path: Path):
    async def scenario() -> tuple[int, Any]:
        async with running_refuser() as (_refuser, address):
            pass  # The port is free again: nothing listens there now.
        settings = GatewaySettings(scheduler_addr=address, webapp_dir=tmp_path)
        async with lone_gateway(settings) as gateway, gateway.http.get("/healthz") as response:
            return response.status, await response.json()

    assert asyncio.run(scenario()) == (503, {"status": "unavailable", "scheduler": "unreachable"})
