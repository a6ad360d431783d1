"""WatchSweep's stream: every stored event of a sweep after `after_seq`, then the live ones.

The same algorithm as WatchExperiment's (`scheduler.watch`), on the subject
`forge.sweeps.<id>.events`: subscribe first, replay from the database, then follow, sending only
what the database holds past the last event sent, so nothing is missed, nothing repeated, and
nothing the scheduler did not store is ever sent. It ends after the `SweepFinished` event.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from azuraforge.v1 import sweep_pb2
from scheduler.bus import Bus, sweep_events_subject
from scheduler.store import DEFAULT_EVENT_BATCH, Store
from scheduler.watch import POLL_S

Event = sweep_pb2.SweepEvent


async def watch_sweep(
    store: Store,
    bus: Bus,
    sweep_id: str,
    after_seq: int = 0,
    *,
    subscribed: Callable[[], Awaitable[None]] | None = None,
    poll_s: float = POLL_S,
) -> AsyncIterator[Event]:
    """The events of `sweep_id` after `after_seq`; check the caller may see it first."""
    async with bus.subscribe(sweep_events_subject(sweep_id), Event) as live:
        if subscribed is not None:
            await subscribed()
        last = after_seq
        while True:
            # Whether it had ended is asked first, so that the read below gets all there will be.
            ended = await asyncio.to_thread(store.sweep_has_ended, sweep_id)
            async for event in _stored(store, sweep_id, last):
                yield event
                last = event.seq
                if event.HasField("finished"):
                    return
            if ended:
                return
            received = await live.get(timeout=poll_s)
            while received is not None and received.seq <= last:
                received = await live.get(timeout=poll_s)


async def _stored(store: Store, sweep_id: str, after_seq: int) -> AsyncIterator[Event]:
    while True:
        batch = await asyncio.to_thread(
            store.sweep_events_after, sweep_id, after_seq, DEFAULT_EVENT_BATCH
        )
        for event in batch:
            yield event
        if len(batch) < DEFAULT_EVENT_BATCH:
            return
        after_seq = batch[-1].seq
