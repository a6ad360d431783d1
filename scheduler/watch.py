"""WatchExperiment's stream: every stored event after `after_seq`, then the live ones, each once.

The order of the steps is what makes it gap-free:

1. subscribe to `forge.experiments.<id>.events` first, buffering what arrives;
2. replay the stored events after `after_seq` from the database, in batches;
3. then follow the live subject, sending what the database holds past the last one sent.

An event is stored before it is published (`scheduler.recorder`), so anything published before
the subscription began is in the database by the time the replay reads it, and anything after
is in the buffer: the two overlap and never leave a hole. When nothing arrives for `POLL_S`,
the database is asked too, so a watcher never hangs on a message NATS lost while reconnecting.

What a watcher receives always comes from the database, never from the bus: a live message is
only news that the log has grown, and the events sent are the stored ones after the last sent.
A message with a `seq` the database does not hold, or holding something else than the stored
event with that `seq`, is one the scheduler never published (a forged `ExperimentFinished` from
someone with publish rights on a misconfigured bus, say): it is logged and dropped, and the
watch goes on to the experiment's real end. Gaps (NATS dropped or reordered something, or the
buffer overflowed) fill themselves the same way, by reading past the last event sent.

The stream ends after the log's last event (`is_last`): `ExperimentFinished`, or the
`FilesStored` after it when it said `files_follow`. A finished experiment is just replayed; one
that ended without that event (an older database) ends after its replay.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

from azuraforge.v1 import events_pb2
from scheduler.bus import Bus, events_subject
from scheduler.store import DEFAULT_EVENT_BATCH as EVENT_BATCH
from scheduler.store import Store

log = logging.getLogger(__name__)

# How long the live subject may stay quiet before the database is asked for missed events.
POLL_S = 5.0

Event = events_pb2.ExperimentEvent


def is_last(event: Event) -> bool:
    """Whether `event` ends its experiment's log: nothing is stored after it."""
    kind = event.WhichOneof("kind")
    if kind == "experiment_finished":
        return not event.experiment_finished.files_follow
    return kind == "files_stored"


async def watch_events(
    store: Store,
    bus: Bus,
    experiment_id: str,
    after_seq: int = 0,
    *,
    subscribed: Callable[[], Awaitable[None]] | None = None,
    poll_s: float = POLL_S,
) -> AsyncGenerator[Event, None]:
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
                continue  # sent already, from the database
            # Whether it had ended is asked first, so that the read below gets all there will be.
            ended = received is None and await _has_ended(store, experiment_id)
            confirmed = finished = False
            async for stored in stored_events(store, experiment_id, last):
                if received is not None and stored.seq == received.seq:
                    confirmed = _same(stored, received)
                yield stored
                last = stored.seq
                if is_last(stored):
                    finished = True
                    break
            if received is not None and not confirmed:
                log.warning(
                    "dropped a message on %s with seq %d that the scheduler did not store",
                    events_subject(experiment_id),
                    received.seq,
                )
            if ended or finished:
                return


async def stored_events(store: Store, experiment_id: str, after_seq: int) -> AsyncIterator[Event]:
    """Every event stored after `after_seq` by the time of the read, in batches: a long log is
    never all in memory, and a short one (the usual live case) costs one query."""
    while True:
        batch = await asyncio.to_thread(store.events_after, experiment_id, after_seq, EVENT_BATCH)
        for event in batch:
            yield event
        if len(batch) < EVENT_BATCH:
            return
        after_seq = batch[-1].seq


def _same(stored: Event, received: Event) -> bool:
    """Whether `received` is the stored event; compared as bytes, as NaN metrics never equal."""
    return stored.SerializeToString(deterministic=True) == received.SerializeToString(
        deterministic=True
    )


async def _has_ended(store: Store, experiment_id: str) -> bool:
    """Whether nothing more will be stored (a cancelled run's files may still be coming)."""
    return await asyncio.to_thread(store.has_ended, experiment_id)
