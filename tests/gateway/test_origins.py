"""Which pages may open the WebSockets: the gateway's own, and the origins it is told to trust.

A browser lets any site's page open a WebSocket to any server and says which page in `Origin`.
On the real stack: another site's page gets 403 before the upgrade, unless
`FORGE_GATEWAY_CORS_ORIGINS` lists it; the gateway's own pages and clients that send no
`Origin` (no browser) open sockets as before.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import pytest

from gateway.settings import GatewaySettings
from tests.gateway.harness import API, Gateway, gateway_on_stack, protocols
from tests.stack import CLUSTER_TOKEN

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]

LISTED = "https://ui.example.com"


async def open_socket(gateway: Gateway, path: str, origin: str | None) -> int:
    """101 when the socket opens (it is closed again at once), else the status refused with."""
    token = await gateway.admin()
    try:
        async with gateway.http.ws_connect(path, protocols=protocols(token), origin=origin):
            return 101
    except aiohttp.WSServerHandshakeError as error:
        return error.status


def test_other_sites_pages_are_refused_and_the_gateways_own_let_in(tmp_path: Path, nats_url: str):
    settings = GatewaySettings(
        webapp_dir=tmp_path / "no-webapp",
        cluster_token=CLUSTER_TOKEN,
        cors_origins=frozenset({LISTED}),
    )

    async def scenario() -> dict[str, dict[str, int]]:
        async with gateway_on_stack(tmp_path, nats_url, settings, trainers=0) as gateway:
            experiment = await gateway.submit(await gateway.admin())
            paths = {
                "events": f"{API}/events",
                "experiment": gateway.events_url(experiment["experiment_id"]),
            }
            origins = {
                "own": gateway.url,
                "same port, another host name": gateway.url.replace("127.0.0.1", "localhost"),
                "listed": LISTED,
                "none": None,
                "another site": "https://evil.example",
                "null": "null",
            }
            return {
                name: {
                    route: await open_socket(gateway, path, origin) for route, path in paths.items()
                }
                for name, origin in origins.items()
            }

    answers = asyncio.run(scenario())

    for name in ("own", "listed", "none"):
        assert answers[name] == {"events": 101, "experiment": 101}, name
    for name in ("another site", "null", "same port, another host name"):
        assert answers[name] == {"events": 403, "experiment": 403}, name


def test_a_refused_origin_is_told_why_in_json(tmp_path: Path, nats_url: str):
    async def scenario() -> tuple[int, dict[str, object]]:
        async with (
            gateway_on_stack(tmp_path, nats_url, trainers=0) as gateway,
            gateway.http.get(
                f"{API}/events",
                headers={
                    "Origin": "https://evil.example",
                    "Connection": "Upgrade",
                    "Upgrade": "websocket",
                    "Sec-WebSocket-Version": "13",
                    "Sec-WebSocket-Key": "dGhlIHNhbXBsZSBub25jZQ==",
                },
            ) as response,
        ):
            return response.status, await response.json()

    status, body = asyncio.run(scenario())

    assert status == 403
    error = body["error"]
    assert isinstance(error, dict)
    assert error["code"] == "forbidden"
    assert "FORGE_GATEWAY_CORS_ORIGINS" in error["message"]


def test_any_origin_is_let_in_with_a_star(tmp_path: Path, nats_url: str):
    settings = GatewaySettings(webapp_dir=tmp_path / "no-webapp", cors_origins=frozenset("*"))

    async def scenario() -> int:
        async with gateway_on_stack(tmp_path, nats_url, settings, trainers=0) as gateway:
            return await open_socket(gateway, f"{API}/events", "https://anywhere.example")

    assert asyncio.run(scenario()) == 101
