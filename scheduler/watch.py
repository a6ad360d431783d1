"""WatchExperiment's stream: every stored event after `after_seq`, then the live ones, each once.

The order of the steps is what makes it gap-free:

1. subscribe to `forge.experiments.<id>.events` first, buffering what arrives;
2. replay the stored events after `after_seq` from the database, in batches;
3. then take the live events, skipping any with `seq` at or below the last one sent.

An event is stored before it is published (`scheduler.recorder`), so anything published before
the subscription began is in the database by the time the replay reads it, and anything after
is in the buffer: the two overlap and never leave a hole. When a live event's `seq` jumps past
the next one expected (NATS dropped or reordered something, or the buffer overflowed), the
missing ones are read from the database. When nothing arrives for `POLL_S`, the database is
asked too, so a watcher never hangs on a message NATS lost while reconnecting.

The stream ends after the `ExperimentFinished` event. A finished experiment is just replayed;
one that ended without that event (an older database) ends after its replay.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable

from azuraforge.v1 import events_pb2
from scheduler.bus import Bus, events_subject
from scheduler.store import Store

# How long the live subject may stay quiet before the database is asked for missed events.
POLL_S = 5.0

Event = events_pb2.ExperimentEvent


def is_last(event: Event) -> bool:
    return event.HasField("experiment_finished")


async def watch_events(
    store: Store,
    bus: Bus,
    experiment_id: str,
    after_seq: int = 0,
    *,
    subscribed: Callable[[], Awaitable[None]] | None = None,
    poll_s: float = POLL_S,
) -> AsyncIterator[Event]:
    """The events of `experiment_id` after `after_seq`; check the caller may see it first.

    `subscribed` is awaited once the live subscription is in place, before the replay.
    """
    async with bus.subscribe(events_subject(experiment_id), Event) as live:
        if subscribed is not None:
            await subscribed()
        last = after_seq
        async for event in stored_events(store, experiment_id, last):
            yield event
            last = event.seq
            if is_last(event):
                return
        if await _has_ended(store, experiment_id):
            # Ended between the replay and now: the rest is stored, whatever NATS says.
            async for event in stored_events(store, experiment_id, last):
                yield event
            return
        while True:
            received = await live.get(timeout=poll_s)
            if received is not None and received.seq <= last:
                continue
            if received is None or received.seq > last + 1:
                # Quiet for a while, or a gap: the database has everything up to the newest.
                # Whether it had ended is asked first, so the replay reads all there will be.
                ended = received is None and await _has_ended(store, experiment_id)
                async for stored in stored_events(store, experiment_id, last):
                    yield stored
                    last = stored.seq
                    if is_last(stored):
                        return
                if ended:
                    return
                continue
            yield received
            last = received.seq
            if is_last(received):
                return


async def stored_events(store: Store, experiment_id: str, after_seq: int) -> AsyncIterator[Event]:
    """Every stored event after `after_seq`, in batches: a long log is never all in memory."""
    while True:
        batch = await asyncio.to_thread(store.events_after, experiment_id, after_seq)
        if not batch:
            return
        for event in batch:
            yield event
        after_seq = batch[-1].seq


async def _has_ended(store: Store, experiment_id: str) -> bool:
    experiment = await asyncio.to_thread(store.get_experiment, experiment_id, caller=None)
    return experiment.status.is_terminal
