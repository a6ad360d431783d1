"""Sweeps: their trials, ASHA's decisions and their event log, each change in one transaction.

Every write that depends on the sweep's state (drawing a trial, deciding a rung, numbering an
event, ending the sweep) locks the sweep's row first, so two schedulers on one Postgres, or
two tasks of one scheduler, never draw the same trial twice, judge a rung against a stale
list, or share an event's seq. The primary keys say the same again: one row per trial number,
one decision per trial and rung.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from typing import Any, TypeVar

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from azuraforge.v1 import sweep_pb2
from scheduler.db.models import (
    ExperimentRow,
    SweepEventRow,
    SweepRow,
    SweepRungRow,
    SweepState,
    SweepTrialRow,
    User,
)
from scheduler.records import Caller, ExperimentRecord, RungRecord, SweepRecord, TrialRecord
from scheduler.store.errors import NotFound
from scheduler.store.pages import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_page_token,
    encode_page_token,
)
from scheduler.store.rows import experiment_records
from scheduler.store.session import Repository, new_id

SweepEvent = sweep_pb2.SweepEvent
D = TypeVar("D")


class Sweeps(Repository):
    """Sweeps and their trials, part of `Store` (uses `Experiments.new_experiment_row`)."""

    new_experiment_row: Callable[..., ExperimentRow]

    def create_sweep(
        self, owner_id: str, name: str, pipeline: str, spec: Mapping[str, Any]
    ) -> SweepRecord:
        """Store a new RUNNING sweep with no trials; `spec` must already be checked."""
        now = self.now()
        row = SweepRow(
            id=new_id(),
            owner_id=owner_id,
            name=name,
            pipeline=pipeline,
            spec=dict(spec),
            status=SweepState.RUNNING,
            created_at=now,
            updated_at=now,
            finished_at=None,
            error_message="",
            last_seq=0,
        )
        with self._writing() as session:
            if session.get(User, owner_id) is None:
                raise NotFound("user", owner_id)
            session.add(row)
            session.flush()
            return _sweep_records(session, [row])[0]

    def get_sweep(self, sweep_id: str, *, caller: Caller | None) -> SweepRecord:
        """One sweep with its trials and their rungs; `NotFound` as for experiments."""
        with self._reading() as session:
            return _sweep_records(session, [_visible_sweep(session, sweep_id, caller)])[0]

    def list_sweeps(
        self, *, caller: Caller | None, page_size: int = 0, page_token: str = ""
    ) -> tuple[list[SweepRecord], str]:
        """A page of the sweeps `caller` may see, newest first, and the next page's token."""
        size = DEFAULT_PAGE_SIZE if page_size <= 0 else min(page_size, MAX_PAGE_SIZE)
        query = select(SweepRow)
        if caller is not None and not caller.is_admin:
            query = query.where(SweepRow.owner_id == caller.user_id)
        if page_token:
            created_at, last_id = decode_page_token(page_token)
            query = query.where(
                or_(
                    SweepRow.created_at < created_at,
                    and_(SweepRow.created_at == created_at, SweepRow.id < last_id),
                )
            )
        query = query.order_by(SweepRow.created_at.desc(), SweepRow.id.desc()).limit(size + 1)
        with self._reading() as session:
            rows = list(session.scalars(query))
            page = rows[:size]
            token = encode_page_token(page[-1]) if len(rows) > size else ""
            return _sweep_records(session, page, rungs=False), token

    def unfinished_sweep_ids(self) -> list[str]:
        """The sweeps still drawing, waiting for trials or being cancelled, oldest first."""
        with self._reading() as session:
            return list(
                session.scalars(
                    select(SweepRow.id)
                    .where(SweepRow.finished_at.is_(None))
                    .order_by(SweepRow.created_at)
                )
            )

    def add_trial(
        self,
        sweep_id: str,
        number: int,
        settings: Mapping[str, Any],
        config: Mapping[str, Any],
        *,
        total_epochs: int,
        max_restarts: int,
        name: str,
    ) -> ExperimentRecord | None:
        """Trial `number` as a new PENDING experiment; None when the sweep no longer runs or
        the trial exists already (drawn by another task or scheduler)."""
        with self._writing() as session:
            sweep = _locked_sweep(session, sweep_id)
            if sweep.status is not SweepState.RUNNING:
                return None
            if session.get(SweepTrialRow, (sweep_id, number)) is not None:
                return None
            experiment = self.new_experiment_row(
                sweep.owner_id,
                sweep.pipeline,
                config,
                total_epochs=total_epochs,
                max_restarts=max_restarts,
                name=name,
                sweep_id=sweep_id,
                sweep_trial=number,
            )
            session.add(experiment)
            session.flush()
            session.add(
                SweepTrialRow(
                    sweep_id=sweep_id,
                    number=number,
                    experiment_id=experiment.id,
                    settings=dict(settings),
                    epochs_done=0,
                    objective=None,
                    stop_reason="",
                    read_seq=0,
                )
            )
            sweep.updated_at = self.now()
            session.flush()
            return experiment_records(session, [experiment])[0]

    def note_trial(
        self,
        sweep_id: str,
        number: int,
        *,
        read_seq: int,
        epochs_done: int | None = None,
        objective: float | None = None,
        stop_reason: str | None = None,
    ) -> None:
        """What the sweep has read of a trial's events so far, and what it learnt there."""
        with self._writing() as session:
            trial = session.get(SweepTrialRow, (sweep_id, number), with_for_update=True)
            if trial is None:
                raise NotFound("sweep trial", f"{sweep_id} #{number}")
            trial.read_seq = max(trial.read_seq, read_seq)
            if epochs_done is not None:
                trial.epochs_done = epochs_done
            if objective is not None:
                trial.objective = objective
            if stop_reason is not None:
                trial.stop_reason = stop_reason

    def decide_rung(
        self,
        sweep_id: str,
        trial: int,
        rung: int,
        decide: Callable[[list[float]], D],
        record: Callable[[D], RungRecord],
    ) -> tuple[D | None, RungRecord]:
        """Judge `trial` at `rung` once: `decide` gets the objectives of the trials there before
        it, under a lock on the sweep, and `record` says what to store. When it was judged
        already (a resumed trial ending the rung's epoch again), nothing is decided: returns
        None and the stored decision."""
        with self._writing() as session:
            _locked_sweep(session, sweep_id)
            stored = session.get(SweepRungRow, (sweep_id, rung, trial))
            if stored is not None:
                return None, _rung_record(stored)
            earlier = list(
                session.scalars(
                    select(SweepRungRow.objective).where(
                        SweepRungRow.sweep_id == sweep_id, SweepRungRow.rung == rung
                    )
                )
            )
            decision = decide(earlier)
            result = record(decision)
            session.add(
                SweepRungRow(
                    sweep_id=sweep_id,
                    rung=rung,
                    trial=trial,
                    epoch=result.epoch,
                    objective=result.objective,
                    promoted=result.promoted,
                    decided_at=self.now(),
                )
            )
            return decision, result

    def append_sweep_event(self, sweep_id: str, event: SweepEvent) -> SweepEvent | None:
        """Store `event` as the sweep's next one; returns it with its id, seq and time.

        Nothing follows a sweep's `SweepFinished`: after it, this stores nothing (None), so
        that a watcher that ends there has seen everything.
        """
        with self._writing() as session:
            sweep = _locked_sweep(session, sweep_id)
            if sweep.finished_at is not None:
                return None
            return _append(session, sweep, event, self)

    def mark_sweep_cancelled(self, sweep_id: str, *, caller: Caller | None) -> SweepRecord:
        """A RUNNING sweep draws no more trials; it finishes once its trials are cancelled.

        A sweep that has ended already stays as it is."""
        with self._writing() as session:
            sweep = _visible_sweep(session, sweep_id, caller, lock=True)
            if sweep.status is SweepState.RUNNING:
                sweep.status = SweepState.CANCELLED
                sweep.updated_at = self.now()
            session.flush()
            return _sweep_records(session, [sweep])[0]

    def finish_sweep(
        self, sweep_id: str, status: SweepState, event: SweepEvent, *, force: bool = False
    ) -> SweepEvent | None:
        """End the sweep with its last event, as `status` unless it was cancelled meanwhile
        (with `force`, as `status` all the same); one that has finished already stays as it
        is (None)."""
        with self._writing() as session:
            sweep = _locked_sweep(session, sweep_id)
            if sweep.finished_at is not None:
                return None
            if sweep.status is SweepState.CANCELLED and not force:
                event.finished.status = sweep_pb2.SWEEP_STATUS_CANCELLED
            else:
                sweep.status = status
            sweep.finished_at = sweep.updated_at = self.now()
            sweep.error_message = event.finished.error_message
            return _append(session, sweep, event, self)

    def sweep_events_after(self, sweep_id: str, after_seq: int, limit: int) -> list[SweepEvent]:
        """Up to `limit` stored events with seq > `after_seq`, in order. Check access first."""
        with self._reading() as session:
            payloads = session.scalars(
                select(SweepEventRow.payload)
                .where(SweepEventRow.sweep_id == sweep_id, SweepEventRow.seq > after_seq)
                .order_by(SweepEventRow.seq)
                .limit(limit)
            )
            return [SweepEvent.FromString(payload) for payload in payloads]

    def sweep_has_ended(self, sweep_id: str) -> bool:
        """Whether the sweep's `SweepFinished` is stored: nothing more will be."""
        with self._reading() as session:
            return _visible_sweep(session, sweep_id, None).finished_at is not None


def _visible_sweep(
    session: Session, sweep_id: str, caller: Caller | None, *, lock: bool = False
) -> SweepRow:
    query = select(SweepRow).where(SweepRow.id == sweep_id)
    if lock:
        query = query.with_for_update()
    sweep = session.scalar(query)
    if sweep is None or (
        caller is not None and not caller.is_admin and sweep.owner_id != caller.user_id
    ):
        raise NotFound("sweep", sweep_id)
    return sweep


def _locked_sweep(session: Session, sweep_id: str) -> SweepRow:
    return _visible_sweep(session, sweep_id, None, lock=True)


def _append(session: Session, sweep: SweepRow, event: SweepEvent, clock: Repository) -> SweepEvent:
    stored = SweepEvent()
    stored.CopyFrom(event)
    stored.sweep_id = sweep.id
    stored.seq = sweep.last_seq + 1
    if not stored.HasField("emitted_at"):
        stored.emitted_at.FromDatetime(clock.now())
    session.add(
        SweepEventRow(
            sweep_id=sweep.id,
            seq=stored.seq,
            kind=stored.WhichOneof("kind") or "",
            emitted_at=stored.emitted_at.ToDatetime(UTC),
            payload=stored.SerializeToString(deterministic=True),
        )
    )
    sweep.last_seq = stored.seq
    return stored


def _rung_record(row: SweepRungRow) -> RungRecord:
    return RungRecord(row.rung, row.trial, row.epoch, row.objective, row.promoted)


def _sweep_records(
    session: Session, sweeps: Sequence[SweepRow], *, rungs: bool = True
) -> list[SweepRecord]:
    if not sweeps:
        return []
    ids = [sweep.id for sweep in sweeps]
    usernames = {
        user_id: username
        for user_id, username in session.execute(
            select(User.id, User.username).where(User.id.in_({s.owner_id for s in sweeps}))
        )
    }
    trials: dict[str, list[TrialRecord]] = {sweep_id: [] for sweep_id in ids}
    by_trial: dict[tuple[str, int], list[RungRecord]] = {}
    if rungs:
        for row in session.scalars(
            select(SweepRungRow).where(SweepRungRow.sweep_id.in_(ids)).order_by(SweepRungRow.rung)
        ):
            by_trial.setdefault((row.sweep_id, row.trial), []).append(_rung_record(row))
    for trial, status, total_epochs in session.execute(
        select(SweepTrialRow, ExperimentRow.status, ExperimentRow.total_epochs)
        .join(ExperimentRow, ExperimentRow.id == SweepTrialRow.experiment_id)
        .where(SweepTrialRow.sweep_id.in_(ids))
        .order_by(SweepTrialRow.number)
    ):
        trials[trial.sweep_id].append(
            TrialRecord(
                number=trial.number,
                experiment_id=trial.experiment_id,
                status=status,
                settings=dict(trial.settings),
                epochs_done=trial.epochs_done,
                total_epochs=total_epochs,
                objective=trial.objective,
                stop_reason=trial.stop_reason,
                read_seq=trial.read_seq,
                rungs=tuple(by_trial.get((trial.sweep_id, trial.number), ())),
            )
        )
    return [
        SweepRecord(
            id=sweep.id,
            owner_id=sweep.owner_id,
            owner=usernames[sweep.owner_id],
            name=sweep.name,
            pipeline=sweep.pipeline,
            spec=dict(sweep.spec),
            status=sweep.status,
            created_at=sweep.created_at,
            updated_at=sweep.updated_at,
            finished_at=sweep.finished_at,
            error_message=sweep.error_message,
            last_seq=sweep.last_seq,
            trials=tuple(trials[sweep.id]),
        )
        for sweep in sweeps
    ]
