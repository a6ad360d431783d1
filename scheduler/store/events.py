"""Each experiment's log of events, numbered 1, 2, 3, ... under a lock on its row.

An experiment's progress (epochs done, latest metrics, the verdict) follows the events stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from azuraforge.v1 import events_pb2, experiment_pb2
from scheduler.db.models import Event, ExperimentRow
from scheduler.store.bulk import insert_rows
from scheduler.store.errors import NotFound
from scheduler.store.session import Repository

DEFAULT_EVENT_BATCH = 1000
EVENTS = cast(Table, Event.__table__)
EXPERIMENTS = cast(Table, ExperimentRow.__table__)
# Storing a burst of events, built once: what it reads of the experiment's row (locked), and
# the row's update, whose SET is the columns the burst moved.
_BURST_READ = (
    select(EXPERIMENTS.c.last_seq, EXPERIMENTS.c.stream_position, EXPERIMENTS.c.trainer_id)
    .where(EXPERIMENTS.c.id == bindparam("experiment_id"))
    .with_for_update()
)
_BURST_UPDATE = update(EXPERIMENTS).where(EXPERIMENTS.c.id == bindparam("experiment_id_"))


class Events(Repository):
    """The event log, part of `Store`."""

    def append_event(
        self,
        experiment_id: str,
        event: events_pb2.ExperimentEvent,
        *,
        position: int | None = None,
    ) -> events_pb2.ExperimentEvent:
        """Store `event` as the experiment's next one and return it with its `seq`.

        The stored copy gets the experiment's id, the next seq and, if it has none, the time
        now as `emitted_at`. The experiment's progress follows the event: ExperimentStarted sets
        the epoch count, EpochEnded the epochs done and latest metrics, ExperimentFinished the
        final metrics and error. The status does not change here: call `transition`.
        """
        (stored,) = self.append_events(experiment_id, [(event, position)])
        return stored

    def append_events(
        self,
        experiment_id: str,
        events: Sequence[tuple[events_pb2.ExperimentEvent, int | None]],
    ) -> list[events_pb2.ExperimentEvent]:
        """Store a burst of `(event, position)` in order, in one transaction; see `append_event`.

        One transaction per burst instead of per event is what lets a scheduler keep up with
        fast runs: the commit, not the insert, is what each event would otherwise wait for.
        """
        for event, _ in events:
            if event.WhichOneof("kind") is None:
                raise ValueError("an ExperimentEvent needs one of its `kind` fields set")
        superseded = _superseded([event for event, _ in events])
        with self._writing() as session:
            # Core, not the ORM: loading, tracking and flushing the whole experiment row cost
            # more than storing a burst of events.
            connection = session.connection()
            found = connection.execute(_BURST_READ, {"experiment_id": experiment_id}).one_or_none()
            if found is None:
                raise NotFound("experiment", experiment_id)
            now = self.now()
            changes: dict[str, Any] = {}
            stored: list[events_pb2.ExperimentEvent] = []
            rows: list[dict[str, Any]] = []
            for (event, _), skip_progress in zip(events, superseded, strict=True):
                numbered, row = _numbered(experiment_id, found.last_seq + len(rows), event, now)
                if not skip_progress:
                    changes.update(_progress(numbered, changes.get("trainer_id", found.trainer_id)))
                stored.append(numbered)
                rows.append(row)
            if not rows:
                return stored
            insert_rows(connection, EVENTS, rows)
            changes.update(last_seq=found.last_seq + len(rows), updated_at=now)
            positions = [position for _, position in events if position is not None]
            if positions and max(positions) > found.stream_position:
                changes["stream_position"] = max(positions)
            connection.execute(_BURST_UPDATE, {**changes, "experiment_id_": experiment_id})
            return stored

    def events_after(
        self, experiment_id: str, after_seq: int, limit: int = DEFAULT_EVENT_BATCH
    ) -> list[events_pb2.ExperimentEvent]:
        """Up to `limit` stored events with seq > `after_seq`, in order. Check access first."""
        with self._reading() as session:
            payloads = session.scalars(
                select(Event.payload)
                .where(Event.experiment_id == experiment_id, Event.seq > after_seq)
                .order_by(Event.seq)
                .limit(limit)
            )
            return [events_pb2.ExperimentEvent.FromString(payload) for payload in payloads]


def append(
    session: Session,
    experiment: ExperimentRow,
    event: events_pb2.ExperimentEvent,
    *,
    clock: Callable[[], datetime],
) -> events_pb2.ExperimentEvent:
    """Store `event` as the next of `experiment`, whose row the caller has locked."""
    now = clock()
    stored, row = _numbered(experiment.id, experiment.last_seq, event, now)
    session.add(Event(**row))
    experiment.last_seq = stored.seq
    experiment.updated_at = now
    for column, value in _progress(stored, experiment.trainer_id).items():
        setattr(experiment, column, value)
    return stored


def _numbered(
    experiment_id: str, last_seq: int, event: events_pb2.ExperimentEvent, now: datetime
) -> tuple[events_pb2.ExperimentEvent, dict[str, Any]]:
    """`event` numbered as the one after `last_seq`, and its row in the events table."""
    stored = events_pb2.ExperimentEvent()
    stored.CopyFrom(event)
    stored.experiment_id = experiment_id
    stored.seq = last_seq + 1
    if not stored.HasField("emitted_at"):
        stored.emitted_at.FromDatetime(now)
    row = {
        "experiment_id": experiment_id,
        "seq": stored.seq,
        "kind": stored.WhichOneof("kind") or "",
        "emitted_at": stored.emitted_at.ToDatetime(UTC),
        "payload": stored.SerializeToString(deterministic=True),
    }
    return stored, row


def _superseded(events: Sequence[events_pb2.ExperimentEvent]) -> list[bool]:
    """Whether each event's mark on the experiment's progress is wiped by a later one: an
    EpochEnded that a later EpochEnded with its total follows, with nothing between that moves
    progress otherwise. A burst of epochs then sets the progress once, not once an epoch."""
    superseded = [False] * len(events)
    later_epoch = False
    for place in reversed(range(len(events))):
        kind = events[place].WhichOneof("kind")
        if kind == "epoch_ended":
            superseded[place] = later_epoch
            later_epoch = later_epoch or bool(events[place].epoch_ended.total_epochs)
        elif kind in _MOVES_PROGRESS:
            later_epoch = False
    return superseded


_MOVES_PROGRESS = frozenset({"experiment_started", "experiment_resumed", "experiment_finished"})
"""The kinds besides EpochEnded that `_progress` reads."""


def _progress(event: events_pb2.ExperimentEvent, trainer_id: str | None) -> dict[str, Any]:
    """The experiment's columns that `event` moves, with their new values; `trainer_id` is the
    experiment's as it stands."""
    kind = event.WhichOneof("kind")
    changes: dict[str, Any] = {}
    if kind == "experiment_started":
        started = event.experiment_started
        if started.total_epochs:
            changes["total_epochs"] = started.total_epochs
        changes["epochs_done"] = started.initial_epoch
        if started.trainer_id and trainer_id is None:
            changes["trainer_id"] = started.trainer_id
    elif kind == "epoch_ended":
        ended = event.epoch_ended
        changes["epochs_done"] = ended.epoch
        if ended.total_epochs:
            changes["total_epochs"] = ended.total_epochs
        changes["metrics"] = dict(ended.metrics)
    elif kind == "experiment_resumed":
        changes["epochs_done"] = event.experiment_resumed.from_epoch
    elif kind == "experiment_finished":
        finished = event.experiment_finished
        if finished.metrics:
            changes["metrics"] = dict(finished.metrics)
        changes["baselines"] = _scores(finished.baselines)
        changes["references"] = _scores(finished.references)
        if finished.error_message:
            changes["error_message"] = finished.error_message
    return changes


def _scores(
    by_name: Mapping[str, experiment_pb2.Scores],
) -> dict[str, dict[str, float]]:
    return {name: dict(scores.values) for name, scores in by_name.items()}
