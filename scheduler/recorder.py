"""What happens to an experiment, written down in order: into the database first, then onto NATS.

Storing first is what lets a watcher trust the database for everything it missed on NATS: an
event that was published is always already stored, with its `seq`. Every writer of experiment
state (submission, placement, a trainer's stream, cancel, recovery) goes through a `Recorder`,
so the rule holds everywhere, and every ending stores an `ExperimentFinished` event (and, when
that event says `files_follow`, a `FilesStored` event after the run's files), so every watcher
ends.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence

from azuraforge.v1 import events_pb2, experiment_pb2
from scheduler.bus import Bus
from scheduler.convert import status_change_to_proto, status_from_proto, status_to_proto
from scheduler.db.models import ExperimentStatus
from scheduler.records import Caller, ExperimentRecord, StatusChange
from scheduler.store import Store


def finished_event(
    status: ExperimentStatus, error_message: str = "", metrics: Mapping[str, float] | None = None
) -> events_pb2.ExperimentEvent:
    """The last event of an experiment that the scheduler, not a trainer, ends."""
    return events_pb2.ExperimentEvent(
        experiment_finished=events_pb2.ExperimentFinished(
            status=status_to_proto(status), error_message=error_message, metrics=metrics or {}
        )
    )


def log_event(message: str, level: str = "WARNING") -> events_pb2.ExperimentEvent:
    """A line in the experiment's log written by the scheduler itself."""
    return events_pb2.ExperimentEvent(
        log_line=events_pb2.LogLine(level=level, logger="forge.scheduler", message=message)
    )


class Recorder:
    """Stores, then publishes, everything that happens to experiments."""

    def __init__(self, store: Store, bus: Bus) -> None:
        self.store = store
        self.bus = bus

    async def changed(self, change: StatusChange) -> ExperimentRecord:
        """Publish a status change the store has made; returns the experiment as it is now."""
        await self.bus.publish_status(status_change_to_proto(change))
        return change.experiment

    async def event(
        self,
        experiment_id: str,
        event: events_pb2.ExperimentEvent,
        *,
        position: int | None = None,
    ) -> events_pb2.ExperimentEvent:
        """Store `event` as the experiment's next one and publish it; returns it numbered.

        `position` is the event's place in the trainer's stream, stored with it.
        """
        return await self._stored_then_published(
            self.store.append_event, experiment_id, event, position
        )

    async def events(
        self,
        experiment_id: str,
        events: Sequence[tuple[events_pb2.ExperimentEvent, int | None]],
    ) -> list[events_pb2.ExperimentEvent]:
        """Store a burst of `(event, position)` in one transaction, then publish each in order."""
        stored = await asyncio.to_thread(self.store.append_events, experiment_id, events)
        for event in stored:
            await self.bus.publish_event(event)
        return stored

    async def finish(
        self,
        experiment_id: str,
        event: events_pb2.ExperimentEvent,
        *,
        caller: Caller | None = None,
        expected: ExperimentStatus | None = None,
        lost_reason: str = "",
        position: int | None = None,
    ) -> ExperimentRecord:
        """End the experiment as its `ExperimentFinished` event says (see `Store.finish`)."""
        finished = event.experiment_finished
        status = _terminal_status(finished.status)
        change, stored = await asyncio.to_thread(
            self.store.finish,
            experiment_id,
            status,
            event,
            caller=caller,
            expected=expected,
            lost_reason=lost_reason,
            position=position,
        )
        await self.changed(change)
        await self.bus.publish_event(stored)
        return change.experiment

    async def complete_cancel(
        self,
        experiment_id: str,
        event: events_pb2.ExperimentEvent,
        *,
        position: int | None = None,
    ) -> events_pb2.ExperimentEvent:
        """Store and publish the last event of a run whose experiment is CANCELLED already."""
        return await self._stored_then_published(
            self.store.complete_cancel, experiment_id, event, position
        )

    async def files_stored(
        self,
        experiment_id: str,
        event: events_pb2.ExperimentEvent,
        *,
        position: int | None = None,
    ) -> events_pb2.ExperimentEvent:
        """Store and publish the `FilesStored` event that ends a run's log after its files."""
        return await self._stored_then_published(
            self.store.store_files_end, experiment_id, event, position
        )

    async def _stored_then_published(
        self,
        store: Callable[..., events_pb2.ExperimentEvent],
        experiment_id: str,
        event: events_pb2.ExperimentEvent,
        position: int | None,
    ) -> events_pb2.ExperimentEvent:
        """`event` written by `store` (a `Store` method), then published as it was stored."""
        stored = await asyncio.to_thread(store, experiment_id, event, position=position)
        await self.bus.publish_event(stored)
        return stored


def files_stored_event(count: int, error_message: str = "") -> events_pb2.ExperimentEvent:
    """The last event of a run whose files followed its end, as the scheduler stores it."""
    return events_pb2.ExperimentEvent(
        files_stored=events_pb2.FilesStored(count=count, error_message=error_message)
    )


def _terminal_status(status: experiment_pb2.ExperimentStatus) -> ExperimentStatus:
    """The store's status for a finished event's; one that names no ending is a failed run."""
    try:
        ending = status_from_proto(status)
    except ValueError:
        return ExperimentStatus.FAILED
    return ending if ending.is_terminal else ExperimentStatus.FAILED
