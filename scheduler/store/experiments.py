"""Experiments: submitting, naming, listing, their status and attempts, and claiming them.

`ALLOWED_TRANSITIONS` says which status may follow which; ending an experiment stores its last
event in the same transaction (`scheduler.store.events`).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import replace
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from azuraforge.v1 import events_pb2, experiment_pb2
from scheduler.db.models import ExperimentRow, ExperimentStatus, TrainerRow, User
from scheduler.records import AttemptRecord, Caller, ExperimentPage, ExperimentRecord, StatusChange
from scheduler.store.errors import IllegalTransition, NotFound
from scheduler.store.events import append
from scheduler.store.pages import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    decode_page_token,
    encode_page_token,
)
from scheduler.store.rows import (
    attempts_of,
    experiment_records,
    note_position,
    run_goes_on,
    stored_checkpoint_epochs,
    visible_experiment,
)
from scheduler.store.session import Repository, new_id
from scheduler.store.transitions import ALLOWED_TRANSITIONS


class Experiments(Repository):
    """Experiments and their status, part of `Store`."""

    def create_experiment(
        self,
        owner_id: str,
        pipeline: str,
        config: Mapping[str, Any],
        *,
        total_epochs: int = 0,
        max_restarts: int = 3,
        name: str = "",
    ) -> ExperimentRecord:
        """Store a new PENDING experiment; `config` and `name` must already be checked."""
        experiment = self.new_experiment_row(
            owner_id,
            pipeline,
            config,
            total_epochs=total_epochs,
            max_restarts=max_restarts,
            name=name,
        )
        with self._writing() as session:
            if session.get(User, owner_id) is None:
                raise NotFound("user", owner_id)
            session.add(experiment)
            session.flush()
            return experiment_records(session, [experiment])[0]

    def new_experiment_row(
        self,
        owner_id: str,
        pipeline: str,
        config: Mapping[str, Any],
        *,
        total_epochs: int,
        max_restarts: int,
        name: str,
        sweep_id: str | None = None,
        sweep_trial: int = 0,
    ) -> ExperimentRow:
        """The row of a new PENDING experiment, for a transaction to add."""
        now = self.now()
        experiment = ExperimentRow(
            id=new_id(),
            owner_id=owner_id,
            pipeline=pipeline,
            config=dict(config),
            status=ExperimentStatus.PENDING,
            created_at=now,
            updated_at=now,
            started_at=None,
            finished_at=None,
            trainer_id=None,
            error_message="",
            epochs_done=0,
            total_epochs=total_epochs,
            metrics={},
            baselines={},
            references={},
            last_seq=0,
            max_restarts=max_restarts,
            attempts=[],
            stream_position=0,
            files_pending=False,
            name=name,
            sweep_id=sweep_id,
            sweep_trial=sweep_trial,
        )
        return experiment

    def get_experiment(self, experiment_id: str, *, caller: Caller | None) -> ExperimentRecord:
        """One experiment; `NotFound` if it does not exist or `caller` may not see it."""
        with self._reading() as session:
            experiment = visible_experiment(session, experiment_id, caller)
            return experiment_records(session, [experiment])[0]

    def rename_experiment(
        self, experiment_id: str, name: str, *, caller: Caller | None
    ) -> ExperimentRecord:
        """Give an experiment `caller` may see a new (checked) name; empty clears it."""
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, caller, lock=True)
            experiment.name = name
            experiment.updated_at = self.now()
            session.flush()
            return experiment_records(session, [experiment])[0]

    def list_experiments(
        self,
        *,
        caller: Caller | None,
        statuses: Collection[ExperimentStatus] = (),
        pipeline: str = "",
        page_size: int = 0,
        page_token: str = "",
    ) -> ExperimentPage:
        """A page of the experiments `caller` may see, newest first, and how many match in all.

        Empty `statuses` or `pipeline` match everything. Pages are cut by position in the
        order (created_at, id), not by offset, so an experiment submitted while someone pages
        neither shifts nor repeats what they see.
        """
        size = DEFAULT_PAGE_SIZE if page_size <= 0 else min(page_size, MAX_PAGE_SIZE)
        filters = []
        if caller is not None and not caller.is_admin:
            filters.append(ExperimentRow.owner_id == caller.user_id)
        if statuses:
            filters.append(ExperimentRow.status.in_(list(statuses)))
        if pipeline:
            filters.append(ExperimentRow.pipeline == pipeline)
        query = select(ExperimentRow).where(*filters)
        if page_token:
            created_at, last_id = decode_page_token(page_token)
            query = query.where(
                or_(
                    ExperimentRow.created_at < created_at,
                    and_(ExperimentRow.created_at == created_at, ExperimentRow.id < last_id),
                )
            )
        query = query.order_by(ExperimentRow.created_at.desc(), ExperimentRow.id.desc()).limit(
            size + 1
        )
        with self._reading() as session:
            total = session.scalar(select(func.count()).select_from(ExperimentRow).where(*filters))
            rows = list(session.scalars(query))
            page = rows[:size]
            next_token = encode_page_token(page[-1]) if len(rows) > size else ""
            return ExperimentPage(
                experiments=tuple(experiment_records(session, page)),
                next_page_token=next_token,
                total_size=total or 0,
            )

    def transition(
        self,
        experiment_id: str,
        target: ExperimentStatus,
        *,
        caller: Caller | None,
        error_message: str = "",
        trainer_id: str | None = None,
    ) -> StatusChange:
        """Move an experiment to `target`, or raise `IllegalTransition` (see the module doc).

        Becoming RUNNING sets `started_at` (and `trainer_id`, if given), finishing sets
        `finished_at`; a non-empty `error_message` replaces the stored one.
        """
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, caller, lock=True)
            previous = experiment.status
            self._move(experiment, target, error_message=error_message, trainer_id=trainer_id)
            session.flush()
            return StatusChange(experiment_records(session, [experiment])[0], previous)

    def finish(
        self,
        experiment_id: str,
        target: ExperimentStatus,
        event: events_pb2.ExperimentEvent,
        *,
        caller: Caller | None,
        expected: ExperimentStatus | None = None,
        lost_reason: str = "",
        position: int | None = None,
    ) -> tuple[StatusChange, events_pb2.ExperimentEvent]:
        """End an experiment: move it to the terminal `target` and store its last event.

        Both happen in one transaction, so no reader ever sees a finished experiment without
        its `ExperimentFinished` event, or that event while the experiment still runs: a
        watcher that ends on the event and then reads the experiment sees its final state.
        With `expected`, the experiment must be in that status (`IllegalTransition` if not),
        so that cancelling a pending experiment cannot end one a trainer has just claimed.
        The open attempt, if any, ends here, with `lost_reason` when a lost run ends it.
        An event that says `files_follow` leaves the run followed (`files_pending`, its
        scheduler's lease kept) until `store_files_end` stores the log's last event.
        Returns the change and the stored event, numbered as `append_event` numbers them.
        """
        if not target.is_terminal:
            raise ValueError(f"finish needs a terminal status, not {target}")
        if event.WhichOneof("kind") != "experiment_finished":
            raise ValueError("an experiment finishes with an ExperimentFinished event")
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, caller, lock=True)
            previous = experiment.status
            if expected is not None and previous is not expected:
                raise IllegalTransition(experiment_id, previous, target)
            self._move(experiment, target, error_message=event.experiment_finished.error_message)
            self._end_attempt(experiment, lost_reason)
            note_position(experiment, position)
            if event.experiment_finished.files_follow:
                experiment.files_pending = True
            else:
                experiment.scheduler_id = None
                experiment.lease_expires_at = None
            stored = append(session, experiment, event, clock=self.now)
            session.flush()
            return StatusChange(experiment_records(session, [experiment])[0], previous), stored

    def mark_cancelled(
        self, experiment_id: str, message: str, *, caller: Caller | None
    ) -> StatusChange:
        """A RUNNING experiment is CANCELLED now; its run's last files and event still follow.

        The scheduler that follows the run keeps its lease, stores what the trainer still
        sends (the report, plots and checkpoint of a cancelled run), and ends the log with
        `complete_cancel`. Until then `has_ended` is False, so watchers wait for those files.
        """
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, caller, lock=True)
            previous = experiment.status
            self._move(experiment, ExperimentStatus.CANCELLED, error_message=message)
            session.flush()
            return StatusChange(experiment_records(session, [experiment])[0], previous)

    def complete_cancel(
        self, experiment_id: str, event: events_pb2.ExperimentEvent, *, position: int | None = None
    ) -> events_pb2.ExperimentEvent:
        """Store the last event of a run cancelled by `mark_cancelled`, as CANCELLED.

        `IllegalTransition` unless the experiment is CANCELLED with its run still followed.
        """
        if event.WhichOneof("kind") != "experiment_finished":
            raise ValueError("a run ends with an ExperimentFinished event")
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, None, lock=True)
            if (
                experiment.status is not ExperimentStatus.CANCELLED
                or experiment.scheduler_id is None
            ):
                raise IllegalTransition(
                    experiment_id, experiment.status, ExperimentStatus.CANCELLED
                )
            ending = events_pb2.ExperimentEvent()
            ending.CopyFrom(event)
            ending.experiment_finished.status = experiment_pb2.EXPERIMENT_STATUS_CANCELLED
            ending.experiment_finished.retryable = False
            self._end_attempt(experiment)
            note_position(experiment, position)
            experiment.scheduler_id = None
            experiment.lease_expires_at = None
            return append(session, experiment, ending, clock=self.now)

    def store_files_end(
        self, experiment_id: str, event: events_pb2.ExperimentEvent, *, position: int | None = None
    ) -> events_pb2.ExperimentEvent:
        """Store the `FilesStored` event that ends the log of a run whose files followed its end.

        `IllegalTransition` unless the experiment's files are pending (`finish` with
        `files_follow`): it is stored once, by the scheduler that follows the run.
        """
        if event.WhichOneof("kind") != "files_stored":
            raise ValueError("the files after a run's end are over with a FilesStored event")
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, None, lock=True)
            if not experiment.files_pending:
                raise IllegalTransition(experiment_id, experiment.status, experiment.status)
            note_position(experiment, position)
            experiment.files_pending = False
            experiment.scheduler_id = None
            experiment.lease_expires_at = None
            return append(session, experiment, event, clock=self.now)

    def has_ended(self, experiment_id: str) -> bool:
        """Whether the experiment's log is complete: it ended, and nothing more will be stored.

        A run's files may still arrive after its status changed: after an ending that said
        `files_follow`, and after a cancel (`mark_cancelled`).
        """
        with self._reading() as session:
            row = session.execute(
                select(ExperimentRow.status, run_goes_on()).where(ExperimentRow.id == experiment_id)
            ).one_or_none()
            if row is None:
                raise NotFound("experiment", experiment_id)
            status, goes_on = row
            return bool(status.is_terminal) and not goes_on

    def _end_attempt(
        self, experiment: ExperimentRow, lost_reason: str = "", *, counted: bool = True
    ) -> None:
        """End the experiment's open attempt, if it has one; the caller holds its row lock."""
        attempts = attempts_of(experiment)
        if not attempts or not attempts[-1].is_open:
            return
        attempts[-1] = replace(
            attempts[-1], ended_at=self.now(), lost_reason=lost_reason, counted=counted
        )
        experiment.attempts = [attempt.to_json() for attempt in attempts]

    def _move(
        self,
        experiment: ExperimentRow,
        target: ExperimentStatus,
        *,
        error_message: str = "",
        trainer_id: str | None = None,
    ) -> None:
        previous = experiment.status
        if target not in ALLOWED_TRANSITIONS[previous]:
            raise IllegalTransition(experiment.id, previous, target)
        now = self.now()
        experiment.status = target
        experiment.updated_at = now
        if target is ExperimentStatus.RUNNING:
            experiment.started_at = experiment.started_at or now
            if trainer_id is not None:
                experiment.trainer_id = trainer_id
        if target.is_terminal:
            experiment.finished_at = now
        if error_message:
            experiment.error_message = error_message

    def requeue(
        self, experiment_id: str, *, lost_reason: str = "", counted: bool = True
    ) -> StatusChange:
        """Put a RUNNING experiment back to PENDING, for a trainer to claim again.

        Without `lost_reason` the trainer never ran it (a `TrainerService.Train` call that
        failed to start), so its attempt is forgotten. With one the run was lost (its trainer
        or process died, the scheduler stopped): the attempt ends with that reason, spending a
        restart if `counted`. Progress (epochs done, events, the checkpoint) is kept, so the
        next run resumes it.
        """
        with self._writing() as session:
            experiment = visible_experiment(session, experiment_id, None, lock=True)
            if experiment.status is not ExperimentStatus.RUNNING:
                raise IllegalTransition(experiment_id, experiment.status, ExperimentStatus.PENDING)
            attempts = attempts_of(experiment)
            if lost_reason:
                self._end_attempt(experiment, lost_reason, counted=counted)
            elif attempts and attempts[-1].is_open:
                experiment.attempts = [attempt.to_json() for attempt in attempts[:-1]]
            experiment.status = ExperimentStatus.PENDING
            experiment.trainer_id = None
            experiment.scheduler_id = None
            experiment.lease_expires_at = None
            experiment.updated_at = self.now()
            session.flush()
            return StatusChange(
                experiment_records(session, [experiment])[0], ExperimentStatus.RUNNING
            )

    def claim_pending(
        self,
        trainer_id: str,
        limit: int,
        *,
        scheduler_id: str | None = None,
        lease: timedelta = timedelta(seconds=15),
    ) -> list[StatusChange]:
        """Mark up to `limit` of the oldest PENDING experiments RUNNING on `trainer_id`.

        Only experiments of pipelines the trainer registered with are claimed. No experiment is
        ever claimed twice, however many schedulers and threads claim at once. `scheduler_id`
        holds each one's lease for `lease`.
        """
        if limit <= 0:
            return []
        with self._writing() as session:
            trainer = session.get(TrainerRow, trainer_id)
            if trainer is None:
                raise NotFound("trainer", trainer_id)
            claimed = list(
                session.scalars(
                    select(ExperimentRow)
                    .where(
                        ExperimentRow.status == ExperimentStatus.PENDING,
                        ExperimentRow.pipeline.in_(trainer.pipelines),
                    )
                    .order_by(ExperimentRow.created_at, ExperimentRow.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True)
                )
            )
            now = self.now()
            checkpoint_epochs = stored_checkpoint_epochs(session, [e.id for e in claimed])
            for experiment in claimed:
                experiment.status = ExperimentStatus.RUNNING
                experiment.trainer_id = trainer_id
                experiment.started_at = experiment.started_at or now  # its first run's start
                experiment.updated_at = now
                experiment.stream_position = 0  # a new run: its stream starts from 1
                experiment.scheduler_id = scheduler_id
                experiment.lease_expires_at = None if scheduler_id is None else now + lease
                attempts = attempts_of(experiment)
                attempts.append(
                    AttemptRecord(
                        number=len(attempts) + 1,
                        trainer_id=trainer_id,
                        from_epoch=checkpoint_epochs.get(experiment.id, 0),
                        started_at=now,
                    )
                )
                experiment.attempts = [attempt.to_json() for attempt in attempts]
            session.flush()
            return [
                StatusChange(record, ExperimentStatus.PENDING)
                for record in experiment_records(session, claimed)
            ]
