"""WatchExperiment's no-gap, no-duplicate rule when NATS loses, repeats or delays events.

The store is real (SQLite and Postgres) and so is NATS; what the test controls is which stored
events get published, and how often, which is what a flaky network would do.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import re
import threading
from typing import Any

import pytest

from azuraforge.v1 import events_pb2
from scheduler.bus import Bus
from scheduler.db.models import ExperimentStatus
from scheduler.recorder import finished_event, log_event
from scheduler.store import DEFAULT_EVENT_BATCH, Store
from scheduler.watch import watch_events

pytestmark = pytest.mark.timeout(120)


def test_lost_repeated_and_late_events_still_reach_the_watcher_once_each_in_order(
    store: Store, nats_url: str, monkeypatch: pytest.MonkeyPatch
):
    # Known once the replay has read everything stored: what is stored after that can only
    # reach the watcher live, or through the gap filling this test is about.
    replayed = threading.Event()
    events_after = store.events_after

    def spying_events_after(*args: Any, **kwargs: Any) -> list[events_pb2.ExperimentEvent]:
        found = events_after(*args, **kwargs)
        if len(found) < DEFAULT_EVENT_BATCH:  # a short batch is the end of the log
            replayed.set()
        return found

    monkeypatch.setattr(store, "events_after", spying_events_after)
    user = store.create_user("alice", "hash")
    experiment = store.create_experiment(user.id, "digits", {})
    store.transition(experiment.id, ExperimentStatus.RUNNING, caller=None)
    before = [store.append_event(experiment.id, log_event(f"before {n}")) for n in range(3)]

    async def scenario() -> list[events_pb2.ExperimentEvent]:
        bus = Bus(nats_url)
        await bus.connect()
        subscribed = asyncio.Event()

        async def on_subscribed() -> None:
            subscribed.set()

        async def collect() -> list[events_pb2.ExperimentEvent]:
            return [
                event
                async for event in watch_events(
                    store, bus, experiment.id, subscribed=on_subscribed, poll_s=0.3
                )
            ]

        watcher = asyncio.create_task(collect())
        async with asyncio.timeout(30):
            await subscribed.wait()
            assert await asyncio.to_thread(replayed.wait, 30)
        # Published although the replay reads them too: never sent twice.
        for event in before:
            await bus.publish_event(event)
        published = store.append_event(experiment.id, log_event("published"))
        lost = store.append_event(experiment.id, log_event("lost on the way"))
        after_gap = store.append_event(experiment.id, log_event("after the gap"))
        for event in (published, after_gap, after_gap, published):
            await bus.publish_event(event)
        # The last one is never published: the watcher finds it in the database when NATS
        # has stayed quiet for poll_s.
        store.finish(
            experiment.id,
            ExperimentStatus.SUCCEEDED,
            finished_event(ExperimentStatus.SUCCEEDED),
            caller=None,
        )
        async with asyncio.timeout(30):
            events = await watcher
        await bus.close()
        assert lost.seq == published.seq + 1
        return events

    events = asyncio.run(scenario())

    assert [event.seq for event in events] == [1, 2, 3, 4, 5, 6, 7]
    assert [event.log_line.message for event in events[3:6]] == [
        "published",
        "lost on the way",
        "after the gap",
    ]
    assert events[-1].HasField("experiment_finished")


def test_a_finished_experiment_is_replayed_from_after_seq_and_the_stream_ends(
    store: Store, nats_url: str
):
    user = store.create_user("alice", "hash")
    experiment = store.create_experiment(user.id, "digits", {})
    store.transition(experiment.id, ExperimentStatus.RUNNING, caller=None)
    for n in range(4):
        store.append_event(experiment.id, log_event(f"line {n}"))
    store.finish(
        experiment.id,
        ExperimentStatus.FAILED,
        finished_event(ExperimentStatus.FAILED, "boom"),
        caller=None,
    )

    async def scenario() -> tuple[list[int], list[int], list[int]]:
        bus = Bus(nats_url)
        await bus.connect()
        try:
            async with asyncio.timeout(30):
                everything = [e.seq async for e in watch_events(store, bus, experiment.id)]
                rest = [e.seq async for e in watch_events(store, bus, experiment.id, 3)]
                nothing = [e.seq async for e in watch_events(store, bus, experiment.id, 5)]
        finally:
            await bus.close()
        return everything, rest, nothing

    assert asyncio.run(scenario()) == ([1, 2, 3, 4, 5], [4, 5], [])


class Drops(logging.Handler):
    """The seqs of the bus messages the watcher says it dropped, in order, awaitable."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.seqs: queue.Queue[int] = queue.Queue()

    def emit(self, record: logging.LogRecord) -> None:
        found = re.search(r"with seq (\d+) that the scheduler did not store", record.getMessage())
        if found:
            self.seqs.put(int(found[1]))

    async def next(self) -> int:
        return await asyncio.to_thread(self.seqs.get, timeout=30)


def test_bus_messages_the_scheduler_did_not_store_never_reach_the_watcher(
    store: Store, nats_url: str, monkeypatch: pytest.MonkeyPatch
):
    replayed = threading.Event()
    events_after = store.events_after

    def spying_events_after(*args: Any, **kwargs: Any) -> list[events_pb2.ExperimentEvent]:
        found = events_after(*args, **kwargs)
        if len(found) < DEFAULT_EVENT_BATCH:
            replayed.set()
        return found

    monkeypatch.setattr(store, "events_after", spying_events_after)
    user = store.create_user("alice", "hash")
    experiment = store.create_experiment(user.id, "digits", {})
    store.transition(experiment.id, ExperimentStatus.RUNNING, caller=None)
    store.append_event(experiment.id, log_event("stored"))

    def forged(seq: int, message: str) -> events_pb2.ExperimentEvent:
        return events_pb2.ExperimentEvent(
            experiment_id=experiment.id, seq=seq, log_line=events_pb2.LogLine(message=message)
        )

    async def scenario(drops: Drops) -> list[events_pb2.ExperimentEvent]:
        bus = Bus(nats_url)
        await bus.connect()

        async def collect() -> list[events_pb2.ExperimentEvent]:
            # Polling only after the test's end: every event here comes through the bus.
            events = watch_events(store, bus, experiment.id, after_seq=1, poll_s=60)
            return [event async for event in events]

        watcher = asyncio.create_task(collect())
        async with asyncio.timeout(30):
            assert await asyncio.to_thread(replayed.wait, 30)
            # Stored as one thing, said to be another on the bus: the stored one is sent.
            store.append_event(experiment.id, log_event("real"))
            await bus.publish_event(forged(2, "forged twin"))
            assert await drops.next() == 2
            # Never stored: the next seq, and one far ahead.
            await bus.publish_event(forged(3, "forged next"))
            assert await drops.next() == 3
            await bus.publish_event(forged(50, "forged ahead"))
            assert await drops.next() == 50
            _, last = store.finish(
                experiment.id,
                ExperimentStatus.SUCCEEDED,
                finished_event(ExperimentStatus.SUCCEEDED),
                caller=None,
            )
            await bus.publish_event(last)
            events = await watcher
        await bus.close()
        return events

    drops = Drops()
    logging.getLogger("scheduler.watch").addHandler(drops)
    try:
        events = asyncio.run(scenario(drops))
    finally:
        logging.getLogger("scheduler.watch").removeHandler(drops)

    assert events == events_after(experiment.id, 1)
    assert [(event.seq, event.log_line.message) for event in events[:1]] == [(2, "real")]
    assert events[-1].HasField("experiment_finished")
