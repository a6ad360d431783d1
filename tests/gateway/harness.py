"""A real gateway on a loopback port, alone or in front of the real stack (`tests/stack.py`).

`running_gateway` serves `create_app(settings)` with aiohttp's `AppRunner` on a free port, the
same app `forge gateway` runs; `gateway_on_stack` puts it in front of a real scheduler with a
trainer running the `trainer_probe` pipeline, and hands out an HTTP client for it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from gateway.app import AccessLogger, create_app
from gateway.settings import GatewaySettings
from tests.stack import ADMIN_PASSWORD, CLUSTER_TOKEN, WAIT_S, Stack, running_stack
from tests.waiting import until

API = "/api/v1"
CLOSED = (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.CLOSED)
TERMINAL = frozenset(
    {
        "EXPERIMENT_STATUS_SUCCEEDED",
        "EXPERIMENT_STATUS_FAILED",
        "EXPERIMENT_STATUS_CANCELLED",
        "EXPERIMENT_STATUS_STOPPED_EARLY",
    }
)


@asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[tuple[str, web.Application]]:
    """The gateway for `settings` on a free loopback port: its base URL and its app."""
    app = create_app(settings)
    runner = web.AppRunner(app, access_log_class=AccessLogger)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        yield f"http://127.0.0.1:{port}", app
    finally:
        await runner.cleanup()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@dataclass
class Gateway:
    """A running gateway, an HTTP client for it, and the stack behind it (if any)."""

    url: str
    app: web.Application
    http: aiohttp.ClientSession
    stack: Stack
    tokens: dict[str, str] = field(default_factory=dict)

    async def login(self, username: str, password: str) -> str:
        async with self.http.post(
            f"{API}/auth/token", data={"username": username, "password": password}
        ) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["access_token"])

    async def admin(self) -> str:
        if "admin" not in self.tokens:
            self.tokens["admin"] = await self.login("admin", ADMIN_PASSWORD)
        return self.tokens["admin"]

    async def add_user(self, username: str) -> str:
        """A new account made through the gateway by the admin, logged in: its token."""
        async with self.http.post(
            f"{API}/users",
            json={"username": username, "password": f"{username}-password"},
            headers=bearer(await self.admin()),
        ) as response:
            assert response.status == 201, await response.text()
        self.tokens[username] = await self.login(username, f"{username}-password")
        return self.tokens[username]

    async def submit(self, token: str, config: dict[str, Any] | None = None) -> dict[str, Any]:
        async with self.http.post(
            f"{API}/experiments",
            json={"pipeline": "trainer_probe", "config": config or {}},
            headers=bearer(token),
        ) as response:
            assert response.status == 201, await response.text()
            body: dict[str, Any] = await response.json()
            return body

    async def get(self, token: str, experiment_id: str) -> dict[str, Any]:
        async with self.http.get(
            f"{API}/experiments/{experiment_id}", headers=bearer(token)
        ) as response:
            assert response.status == 200, await response.text()
            body: dict[str, Any] = await response.json()
            return body

    async def finished(self, token: str, experiment_id: str) -> dict[str, Any]:
        """The experiment once it has ended and its files are stored, polled through the
        gateway as a REST client would."""

        async def ended() -> dict[str, Any] | None:
            experiment = await self.get(token, experiment_id)
            done = experiment["status"] in TERMINAL and not experiment["files_pending"]
            return experiment if done else None

        return await until(ended, WAIT_S, f"experiment {experiment_id} to end", interval=0.1)

    def events_url(self, experiment_id: str, after: int | None = None) -> str:
        query = "" if after is None else f"?after={after}"
        return f"{API}/experiments/{experiment_id}/events{query}"

    async def all_events(
        self, token: str, experiment_id: str, after: int | None = None
    ) -> Received:
        """Every event the experiment's WebSocket sends, and how it closes."""
        async with self.http.ws_connect(
            self.events_url(experiment_id, after), protocols=protocols(token)
        ) as ws:
            return await read_all(ws)


def protocols(token: str) -> tuple[str, str]:
    """The subprotocols a browser offers to send its token (see gateway.routes.events)."""
    return ("azuraforge.v1", f"bearer.{token}")


@dataclass
class Received:
    """What a WebSocket sent before it closed: its messages as JSON, and its close frame."""

    events: list[dict[str, Any]]
    code: int | None
    reason: str


async def read_all(ws: aiohttp.ClientWebSocketResponse) -> Received:
    """The socket's messages, until it closes."""
    events = []
    async with asyncio.timeout(WAIT_S):
        while True:
            message = await ws.receive()
            if message.type is aiohttp.WSMsgType.TEXT:
                events.append(json.loads(message.data))
                continue
            assert message.type in CLOSED, message
            reason = message.extra if message.type is aiohttp.WSMsgType.CLOSE else ""
            return Received(events, ws.close_code, str(reason or ""))


@dataclass
class LoneGateway:
    """A running gateway with no stack behind it (or a stand-in), and an HTTP client for it."""

    url: str
    app: web.Application
    http: aiohttp.ClientSession


@asynccontextmanager
async def lone_gateway(settings: GatewaySettings) -> AsyncIterator[LoneGateway]:
    """A gateway for `settings` on a free port, with a client; for tests that need no stack."""
    async with running_gateway(settings) as (url, app), aiohttp.ClientSession(url) as http:
        yield LoneGateway(url, app, http)


@asynccontextmanager
async def gateway_on_stack(
    tmp_path: Path,
    nats_url: str,
    settings: GatewaySettings | None = None,
    database_url: str | None = None,
    **stack_settings: Any,
) -> AsyncIterator[Gateway]:
    """The real stack (SQLite unless `database_url` names another, one trainer) and a gateway.

    Unless `settings` say otherwise, the gateway holds the cluster token, as under `forge up`,
    so that it vouches for its clients' addresses at login.
    """
    database = database_url or f"sqlite:///{tmp_path / 'forge.db'}"
    async with running_stack(tmp_path, database, nats_url, **stack_settings) as stack:
        base = settings or GatewaySettings(
            webapp_dir=tmp_path / "no-webapp", cluster_token=CLUSTER_TOKEN
        )
        async with (
            running_gateway(replace(base, scheduler_addr=stack.address)) as (url, app),
            aiohttp.ClientSession(url) as http,
        ):
            yield Gateway(url, app, http, stack)
