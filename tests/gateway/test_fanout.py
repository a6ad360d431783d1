"""The shared live stream: one per experiment, late joiners, slow viewers, its end.

The first tests drive `Fanout` with `Log`, an in-memory stand-in for `WatchExperiment` (a
stored log that grows), to reach states a real run cannot be steered into, such as a viewer
that never reads. The last ones run the real stack behind a real gateway.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncGenerator
from datetime import datetime
from pathlib import Path
from typing import Any

import grpc
import pytest

from azuraforge.v1 import events_pb2
from gateway.fanout import Fanout, Frame, Metadata, SlowViewer, Viewer
from gateway.keys import FANOUT
from gateway.settings import GatewaySettings
from tests.gateway.harness import (
    API,
    Gateway,
    LoneGateway,
    gateway_on_stack,
    lone_gateway,
    protocols,
    read_all,
)
from tests.gateway.scripted import EXPERIMENT as SCRIPTED
from tests.gateway.scripted import running_script
from tests.stack import WAIT_S
from tests.waiting import until

pytestmark = pytest.mark.timeout(180)

EXPERIMENT = "e1"
CREDENTIALS: Metadata = (("authorization", "Bearer t"),)


class Log:
    """An experiment's stored events, streamed as `WatchExperiment` streams them."""

    def __init__(self) -> None:
        self.events: list[events_pb2.ExperimentEvent] = []
        self.finished = False
        self.failure: BaseException | None = None
        self.calls: list[int] = []
        self.open = 0
        self._grew = asyncio.Condition()

    async def append(self, count: int = 1, *, finish: bool = False) -> None:
        async with self._grew:
            for _ in range(count):
                seq = len(self.events) + 1
                self.events.append(events_pb2.ExperimentEvent(experiment_id=EXPERIMENT, seq=seq))
            self.finished = finish
            self._grew.notify_all()

    async def fail(self, error: BaseException) -> None:
        async with self._grew:
            self.failure = error
            self._grew.notify_all()

    async def watch(
        self, experiment_id: str, after_seq: int, metadata: Metadata
    ) -> AsyncGenerator[events_pb2.ExperimentEvent, None]:
        assert (experiment_id, metadata) == (EXPERIMENT, CREDENTIALS)
        self.calls.append(after_seq)
        self.open += 1
        try:
            seq = after_seq
            while True:
                while seq < len(self.events):
                    seq += 1
                    yield self.events[seq - 1]
                if self.finished:
                    return
                if self.failure is not None:
                    raise self.failure
                async with self._grew:
                    await self._grew.wait()
        finally:
            self.open -= 1


async def settle() -> None:
    """Let the feed's task run until it waits for the log again."""
    for _ in range(20):
        await asyncio.sleep(0)


def viewers(gateway: LoneGateway) -> int:
    """How many clients watch the scripted experiment through the gateway."""
    feed = gateway.app[FANOUT].feed(SCRIPTED)
    return 0 if feed is None else feed.viewers


async def next_seq(viewer: Viewer) -> int:
    event = await viewer.next()
    assert event is not None
    return event.seq


async def drain_frames(viewer: Viewer) -> list[Frame]:
    frames = []
    while (frame := await viewer.next()) is not None:
        frames.append(frame)
    return frames


async def drain(viewer: Viewer) -> list[int]:
    seqs = []
    while (event := await viewer.next()) is not None:
        seqs.append(event.seq)
    return seqs


def unavailable() -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(
        grpc.StatusCode.UNAVAILABLE, grpc.aio.Metadata(), grpc.aio.Metadata(), "gone", None
    )


def test_viewers_of_an_experiment_share_one_stream_which_stops_with_the_last():
    async def scenario():
        log = Log()
        await log.append(3)
        fanout = Fanout(log.watch, capacity=100)
        with fanout.watch(EXPERIMENT, 3, CREDENTIALS) as first:
            await settle()
            with fanout.watch(EXPERIMENT, 3, CREDENTIALS) as second:
                await log.append(2)
                await settle()
                feed = fanout.feed(EXPERIMENT)
                assert feed is not None and feed.viewers == 2
                seen = [await next_seq(first), await next_seq(second)]
            await settle()
            assert log.open == 1
        await settle()
        return log.calls, log.open, fanout.feed(EXPERIMENT), seen

    calls, still_open, feed, seen = asyncio.run(scenario())

    # One stream, started after the stored position the first viewer read.
    assert calls == [3]
    assert seen == [4, 4]
    assert (still_open, feed) == (0, None)


def test_a_late_joiner_learns_the_boundary_after_which_the_feed_has_every_event():
    async def scenario():
        log = Log()
        fanout = Fanout(log.watch, capacity=100)
        with fanout.watch(EXPERIMENT, 0, CREDENTIALS) as early:
            await log.append(5)
            await settle()
            # Joining late with a stale stored position: the feed is further on.
            with fanout.watch(EXPERIMENT, 2, CREDENTIALS) as late:
                await log.append(3, finish=True)
                return late.boundary, await drain(late), await drain(early)

    boundary, late, early = asyncio.run(scenario())

    assert boundary == 5
    assert late == [6, 7, 8]
    assert early == [1, 2, 3, 4, 5, 6, 7, 8]


def test_a_viewer_that_falls_behind_is_cut_off_without_holding_up_the_others():
    async def scenario():
        log = Log()
        fanout = Fanout(log.watch, capacity=3)
        cut_off = []
        with (
            fanout.watch(EXPERIMENT, 0, CREDENTIALS) as idle,
            fanout.watch(EXPERIMENT, 0, CREDENTIALS) as reader,
        ):
            idle.on_cut_off(lambda: cut_off.append(time.monotonic()))
            received = []
            for _ in range(10):
                await log.append()
                await settle()
                received.append(await next_seq(reader))
            feed = fanout.feed(EXPERIMENT)
            assert feed is not None
            viewers = feed.viewers
            with pytest.raises(SlowViewer):
                await idle.next()
            return received, len(cut_off), viewers

    received, cut_offs, viewers = asyncio.run(scenario())

    assert received == list(range(1, 11))
    assert cut_offs == 1
    # The idle viewer left the feed the moment its buffer overflowed.
    assert viewers == 1


def test_each_event_is_serialised_once_however_many_viewers_it_has():
    encoded: list[int] = []

    def encode(event: events_pb2.ExperimentEvent) -> str:
        encoded.append(event.seq)
        return f"event {event.seq}"

    async def scenario():
        log = Log()
        fanout = Fanout(log.watch, capacity=100, encode=encode)
        with contextlib.ExitStack() as viewers:
            crowd = [
                viewers.enter_context(fanout.watch(EXPERIMENT, 0, CREDENTIALS)) for _ in range(50)
            ]
            await log.append(3, finish=True)
            await settle()
            return [[frame.text for frame in await drain_frames(viewer)] for viewer in crowd]

    texts = asyncio.run(scenario())

    assert encoded == [1, 2, 3]
    assert texts == [["event 1", "event 2", "event 3"]] * 50


def test_an_idle_viewer_takes_frames_through_its_sink_and_a_busy_one_through_its_buffer():
    async def scenario():
        log = Log()
        fanout = Fanout(log.watch, capacity=100)
        written: list[int] = []
        accepting = True

        def sink(frame: Frame) -> bool:
            if accepting:
                written.append(frame.seq)
            return accepting

        with fanout.watch(EXPERIMENT, 0, CREDENTIALS) as viewer:
            viewer.write_through(sink)
            # Busy (its task is not waiting in `next`): the sink is not used, order is kept.
            await log.append(2)
            await settle()
            busy = [await next_seq(viewer), await next_seq(viewer)]
            # Idle: the feed writes straight through, and the task is not woken.
            waiting = asyncio.create_task(viewer.next())
            await settle()
            await log.append(3)
            await settle()
            woken_while_idle = waiting.done()
            # The sink refuses (the socket is full): the frames wait in the buffer, in order.
            accepting = False
            await log.append(2, finish=True)
            await settle()
            frame = await waiting
            assert frame is not None
            refused = [frame.seq, *await drain(viewer)]
            return busy, written, woken_while_idle, refused

    busy, written, woken_while_idle, refused = asyncio.run(scenario())

    assert busy == [1, 2]
    assert written == [3, 4, 5]
    assert not woken_while_idle
    assert refused == [6, 7]


def test_a_viewer_whose_sink_refuses_is_cut_off_when_its_buffer_overflows():
    async def scenario():
        log = Log()
        fanout = Fanout(log.watch, capacity=3)
        cut_off = []
        with fanout.watch(EXPERIMENT, 0, CREDENTIALS) as viewer:
            viewer.on_cut_off(lambda: cut_off.append(True))
            viewer.write_through(lambda frame: False)
            waiting = asyncio.create_task(viewer.next())
            await settle()
            await log.append(5)
            await settle()
            with pytest.raises(SlowViewer):
                await waiting
            feed = fanout.feed(EXPERIMENT)
            return cut_off, 0 if feed is None else feed.viewers

    assert asyncio.run(scenario()) == ([True], 0)


def test_the_end_of_the_stream_ends_every_viewer_after_what_it_has_left():
    async def scenario():
        log = Log()
        fanout = Fanout(log.watch, capacity=100)
        with fanout.watch(EXPERIMENT, 0, CREDENTIALS) as viewer:
            await log.append(4, finish=True)
            await settle()
            # A viewer arriving after the end gets a new feed, not the finished one.
            assert fanout.feed(EXPERIMENT) is None
            return await drain(viewer)

    assert asyncio.run(scenario()) == [1, 2, 3, 4]


def test_a_failed_stream_reaches_every_viewer_as_its_error():
    async def scenario():
        log = Log()
        fanout = Fanout(log.watch, capacity=100)
        with (
            fanout.watch(EXPERIMENT, 0, CREDENTIALS) as one,
            fanout.watch(EXPERIMENT, 0, CREDENTIALS) as two,
        ):
            await log.append(1)
            await settle()
            await log.fail(unavailable())
            await settle()
            outcomes = []
            for viewer in (one, two):
                assert await next_seq(viewer) == 1
                with pytest.raises(grpc.aio.AioRpcError) as raised:
                    await viewer.next()
                outcomes.append(raised.value.code())
            return outcomes

    assert asyncio.run(scenario()) == [grpc.StatusCode.UNAVAILABLE] * 2


def test_closing_the_fanout_stops_every_stream():
    async def scenario():
        log = Log()
        fanout = Fanout(log.watch, capacity=100)
        with fanout.watch(EXPERIMENT, 0, CREDENTIALS):
            await settle()
            assert log.open == 1
            await fanout.close()
            return log.open

    assert asyncio.run(scenario()) == 0


@pytest.mark.usefixtures("probe_pipeline")
def test_an_idle_slow_viewer_does_not_delay_a_fast_one(tmp_path: Path, nats_url: str):
    settings = GatewaySettings(webapp_dir=tmp_path / "no-webapp", viewer_queue_size=4)

    async def scenario(gateway: Gateway):
        token = await gateway.admin()
        experiment = await gateway.submit(token, {"epochs": 6, "epoch_pause": 0.2})
        experiment_id = experiment["experiment_id"]
        url = gateway.events_url(experiment_id)
        async with (
            gateway.http.ws_connect(url, protocols=protocols(token)) as idle,
            gateway.http.ws_connect(url, protocols=protocols(token)) as fast,
        ):
            fast_events = []
            async with asyncio.timeout(WAIT_S):
                async for message in fast:
                    fast_events.append(json.loads(message.data))
                    if len(fast_events) == 1:
                        feed = gateway.app[FANOUT].feed(experiment_id)
                        viewers = feed.viewers if feed is not None else 0
            fast_done = time.time()
            finished = await gateway.get(token, experiment_id)
            # Only now does the idle viewer read what it was sent, or learn it was cut off.
            idle_received = await read_all(idle)
        resumed = []
        if idle_received.code == 4429:
            last = idle_received.events[-1]["seq"] if idle_received.events else 0
            resumed = (await gateway.all_events(token, experiment_id, after=last)).events
        full = (await gateway.all_events(token, experiment_id)).events
        return fast_events, fast_done, finished, idle_received, resumed, full, viewers

    async def main() -> Any:
        async with gateway_on_stack(tmp_path, nats_url, settings) as gateway:
            return await scenario(gateway)

    fast, fast_done, finished, idle, resumed, full, viewers = asyncio.run(main())

    assert fast == full
    assert viewers == 2
    assert finished["status"] == "EXPERIMENT_STATUS_SUCCEEDED"
    # The fast viewer had the last event moments after the run ended, not when the idle one read.
    finished_at = datetime.fromisoformat(finished["finished_at"]).timestamp()
    assert fast_done - finished_at < 5.0
    assert idle.code in (1000, 4429)
    assert idle.events + resumed == full


def test_a_socket_that_stops_reading_is_cut_off_and_the_others_get_everything(tmp_path: Path):
    count, size = 800, 16 * 1024  # 13 MB: more than every buffer between gateway and client.

    async def scenario():
        async with running_script(count, size) as (script, address):
            settings = GatewaySettings(
                scheduler_addr=address, webapp_dir=tmp_path, viewer_queue_size=8
            )
            async with lone_gateway(settings) as gateway:
                url = f"{API}/experiments/{SCRIPTED}/events"
                async with (
                    gateway.http.ws_connect(url, protocols=protocols("t")) as stuck,
                    gateway.http.ws_connect(url, protocols=protocols("t")) as reader,
                ):
                    await until(lambda: viewers(gateway) == 2, WAIT_S, "both clients to join", 0.01)
                    script.go.set()
                    reading = asyncio.create_task(read_all(reader))
                    # Until the gateway cuts the stuck client off, which leaves the feed at once.
                    await until(
                        lambda: viewers(gateway) < 2, WAIT_S, "the stuck client's cut-off", 0.01
                    )
                    # Only now does it read what reached it before the cut, and its close.
                    stuck_received = await read_all(stuck)
                    received = await reading
                calls = list(script.watch_calls)
                resume_url = f"{url}?after={len(stuck_received.events)}"
                async with gateway.http.ws_connect(resume_url, protocols=protocols("t")) as again:
                    resumed = await read_all(again)
                return received, stuck_received, resumed, calls

    received, stuck, resumed, watch_calls = asyncio.run(scenario())

    assert [event["seq"] for event in received.events] == list(range(1, count + 1))
    assert received.code == 1000
    # One shared stream from the start; neither viewer needed a replay of its own.
    assert watch_calls == [0]
    # The stuck one was cut off part way: what it got is a gap-free start of the log.
    assert 0 < len(stuck.events) < count
    resume = f"too slow: reconnect with after={len(stuck.events)}"
    assert (stuck.code, stuck.reason) == (4429, resume)
    assert [event["seq"] for event in stuck.events] == list(range(1, len(stuck.events) + 1))
    # Resuming where the reason said gets exactly the rest.
    assert [event["seq"] for event in resumed.events] == list(
        range(len(stuck.events) + 1, count + 1)
    )
    assert resumed.code == 1000
