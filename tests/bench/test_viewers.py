"""The benchmark's bare WebSocket viewer reads what a real aiohttp server sends: every frame
size, split however TCP splits it, and the close."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from bench.platform import Latency
from bench.viewers import Emissions, Viewer, upgrade_request

EMITTED = "2026-12-02T07:00:00.250Z"


def test_a_viewer_gets_every_event_of_any_size_and_the_close():
    sizes = [10, 200, 70_000]  # one-byte, two-byte and eight-byte length fields

    async def events(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=("azuraforge.v1",))
        await ws.prepare(request)
        for seq, size in enumerate(sizes, start=1):
            await ws.send_str(json.dumps({"seq": seq, "emitted_at": EMITTED, "pad": "x" * size}))
        await ws.close(code=1000, message=b"experiment_finished")
        return ws

    async def scenario() -> tuple[Viewer, Emissions]:
        app = web.Application()
        app.router.add_get("/events", events)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        emissions = Emissions()
        try:
            request = upgrade_request("127.0.0.1", port, "/events", "token")
            _, viewer = await asyncio.get_running_loop().create_connection(
                lambda: Viewer(request, emissions), "127.0.0.1", port
            )
            await asyncio.wait_for(viewer.closed, 30)
        finally:
            await runner.cleanup()
        return viewer, emissions

    viewer, emissions = asyncio.run(scenario())

    assert [seq for seq, _ in viewer.arrivals] == [1, 2, 3]
    assert (viewer.close_code, viewer.close_reason) == (1000, "experiment_finished")
    assert set(emissions.at) == {1, 2, 3}
    assert emissions.at[1] % 1 == 0.25


def test_latency_percentiles_are_read_from_the_sorted_delays():
    latency = Latency.of([i / 1000 for i in range(100, 0, -1)])

    assert (latency.p50_ms, latency.p99_ms, latency.max_ms, latency.count) == (51, 100, 100, 100)
