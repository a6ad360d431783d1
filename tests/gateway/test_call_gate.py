"""A crowd of viewers joining at once never has more calls waiting on the scheduler than the gate.

gRPC's server sheds the calls that queue up in it past its limit, as CANCELLED (see
`gateway.call_gate`). Here a real gRPC server holds every `GetExperiment` until the test lets
them go, so the calls a crowd of viewers makes pile up exactly as they would on a busy
scheduler; the gateway must hold back all but `MAX_WAITING` of them, and then every viewer
still gets every event.
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp
import pytest

from gateway.call_gate import MAX_WAITING
from gateway.keys import SCHEDULER
from gateway.settings import GatewaySettings
from tests.gateway.harness import API, lone_gateway, protocols, read_all
from tests.gateway.scripted import EXPERIMENT as SCRIPTED
from tests.gateway.scripted import running_script
from tests.stack import WAIT_S
from tests.waiting import until

pytestmark = pytest.mark.timeout(120)

BEYOND = 20  # viewers more than the gate has places for


def test_a_crowd_joining_waits_in_the_gateway_not_on_the_scheduler_and_gets_everything(
    tmp_path: Path,
) -> None:
    count = 3

    async def scenario() -> tuple[int, list[tuple[list[int], int | None]]]:
        async with running_script(count, 10) as (script, address):
            script.answer_lookups.clear()
            settings = GatewaySettings(scheduler_addr=address, webapp_dir=tmp_path)
            async with (
                lone_gateway(settings) as gateway,
                # More sockets than a session's default 100 connections.
                aiohttp.ClientSession(gateway.url, connector=aiohttp.TCPConnector(limit=0)) as http,
                contextlib.AsyncExitStack() as sockets,
            ):
                gate = gateway.app[SCHEDULER].gate
                url = f"{API}/experiments/{SCRIPTED}/events"
                crowd = [
                    await sockets.enter_async_context(
                        http.ws_connect(url, protocols=protocols("t"))
                    )
                    for _ in range(MAX_WAITING + BEYOND)
                ]
                # Every viewer has made its lookup: the gate's places are all taken on the
                # scheduler, and the rest of the crowd waits for one in the gateway.
                await until(
                    lambda: script.lookups_held == MAX_WAITING and gate.queued == BEYOND,
                    WAIT_S,
                    f"{MAX_WAITING} lookups held by the scheduler and {BEYOND} in the gateway",
                )
                most_held = script.most_lookups_held
                script.answer_lookups.set()
                script.go.set()
                received = await asyncio.gather(*(read_all(ws) for ws in crowd))
        return most_held, [([e["seq"] for e in r.events], r.code) for r in received]

    most_held, received = asyncio.run(scenario())

    assert most_held == MAX_WAITING
    assert received == [(list(range(1, count + 1)), 1000)] * (MAX_WAITING + BEYOND)
