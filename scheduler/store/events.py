"""Each experiment's log of events, numbered 1, 2, 3, ... under a lock on its row.

An experiment's progress (epochs done, latest metrics, the verdict) follows the events stored.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from azuraforge.v1 import events_pb2, experiment_pb2
from scheduler.db.models import Event, ExperimentRow
from scheduler.store.rows import note_position, visible_experiment
from scheduler.store.session import Repository

DEFAULT_EVENT_BATCH = 1000
EVENTS = cast(Table, Event.__table__)


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
        if event.WhichOneof("kind") is None:
            raise ValueError("an ExperimentEvent needs one of its `kind` fields set")
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, None, lock=True)
            note_position(experiment, position)
            return append(session, experiment, event, clock=self.now)

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
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, None, lock=True)
            stored, rows = [], []
            for event, position in events:
                note_position(experiment, position)
                numbered, row = _numbered(experiment, event, clock=self.now)
                stored.append(numbered)
                rows.append(row)
            if rows:  # one executemany of Core, not the ORM's flush per object
                session.connection().execute(insert(EVENTS), rows)
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
    stored, row = _numbered(experiment, event, clock=clock)
    session.add(Event(**row))
    return stored


def _numbered(
    experiment: ExperimentRow,
    event: events_pb2.ExperimentEvent,
    *,
    clock: Callable[[], datetime],
) -> tuple[events_pb2.ExperimentEvent, dict[str, Any]]:
    """`event` numbered as the next of `experiment` (whose progress follows it), and its row."""
    stored = events_pb2.ExperimentEvent()
    stored.CopyFrom(event)
    stored.experiment_id = experiment.id
    stored.seq = experiment.last_seq + 1
    if not stored.HasField("emitted_at"):
        stored.emitted_at.FromDatetime(clock())
    row = {
        "experiment_id": experiment.id,
        "seq": stored.seq,
        "kind": stored.WhichOneof("kind") or "",
        "emitted_at": stored.emitted_at.ToDatetime(UTC),
        "payload": stored.SerializeToString(deterministic=True),
    }
    experiment.last_seq = stored.seq
    experiment.updated_at = clock()
    _follow_progress(experiment, stored)
    return stored, row


def _follow_progress(experiment: ExperimentRow, event: events_pb2.ExperimentEvent) -> None:
    kind = event.WhichOneof("kind")
    if kind == "experiment_started":
        started = event.experiment_started
        if started.total_epochs:
            experiment.total_epochs = started.total_epochs
        experiment.epochs_done = started.initial_epoch
        if started.trainer_id and experiment.trainer_id is None:
            experiment.trainer_id = started.trainer_id
    elif kind == "epoch_ended":
        ended = event.epoch_ended
        experiment.epochs_done = ended.epoch
        if ended.total_epochs:
            experiment.total_epochs = ended.total_epochs
        experiment.metrics = dict(ended.metrics)
    elif kind == "experiment_resumed":
        experiment.epochs_done = event.experiment_resumed.from_epoch
    elif kind == "experiment_finished":
        finished = event.experiment_finished
        if finished.metrics:
            experiment.metrics = dict(finished.metrics)
        experiment.baselines = _scores(finished.baselines)
        experiment.references = _scores(finished.references)
        if finished.error_message:
            experiment.error_message = finished.error_message


def _scores(
    by_name: Mapping[str, experiment_pb2.Scores],
) -> dict[str, dict[str, float]]:
    return {name: dict(scores.values) for name, scores in by_name.items()}
