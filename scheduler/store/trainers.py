"""Trainers: their registration, their heartbeats, and what each heartbeat tells them."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select, update

from scheduler.db.models import TRAINER_ID_LENGTH, ExperimentRow, TrainerRow
from scheduler.records import PipelineRecord, TrainerRecord
from scheduler.store.pipelines import record_announcement
from scheduler.store.rows import run_goes_on, trainer_records
from scheduler.store.session import Repository, new_id, rowcount


@dataclass(frozen=True)
class HeartbeatAnswer:
    """What a trainer's heartbeat learns: whether it is known, and what to do with its runs."""

    registered: bool
    acknowledged: dict[str, int] = field(default_factory=dict)
    forget: tuple[str, ...] = ()


class Trainers(Repository):
    """Trainers, part of `Store`."""

    def register_trainer(
        self,
        *,
        address: str,
        slots: int,
        pipelines: Iterable[str],
        trainer_id: str = "",
        held: Iterable[str] = (),
        announced: Sequence[PipelineRecord] = (),
    ) -> TrainerRecord:
        """Register a trainer, or register it again under the id it chose; returns its record.

        `announced` are the pipelines it runs with their schemas, kept in the catalogue
        (`scheduler.store.pipelines`) in the same transaction.
        """
        if slots < 1:
            raise ValueError(f"a trainer needs at least one slot, not {slots}")
        if len(trainer_id) > TRAINER_ID_LENGTH:
            raise ValueError(f"a trainer id has at most {TRAINER_ID_LENGTH} characters")
        trainer_id = trainer_id or new_id()
        now = self.now()
        with self._writing() as session:
            trainer = session.get(TrainerRow, trainer_id)
            if trainer is None:
                trainer = TrainerRow(id=trainer_id)
                session.add(trainer)
            trainer.address = address
            trainer.slots = slots
            trainer.pipelines = sorted(set(pipelines))
            trainer.registered_at = now
            trainer.last_heartbeat = now
            trainer.held_experiments = sorted(set(held))
            record_announcement(session, announced, trainer_id, now)
            session.flush()
            return trainer_records(session, [trainer])[0]

    def heartbeat(self, trainer_id: str, held: Collection[str] = ()) -> HeartbeatAnswer:
        """Note that the trainer is alive and holds `held`; what to tell it about those runs.

        `registered` is False when the trainer is unknown (it should register). Each held run
        that is RUNNING on this trainer (or cancelled, its last files still expected) is
        acknowledged up to its stored `stream_position`; every other one (ended, pending again,
        placed elsewhere, unknown) is to be forgotten.
        """
        held = sorted(set(held))
        with self._writing() as session:
            result = session.execute(
                update(TrainerRow)
                .where(TrainerRow.id == trainer_id)
                .values(last_heartbeat=self.now(), held_experiments=held)
            )
            if rowcount(result) == 0:
                return HeartbeatAnswer(registered=False)
            rows = session.execute(
                select(ExperimentRow.id, ExperimentRow.stream_position).where(
                    ExperimentRow.id.in_(held),
                    ExperimentRow.trainer_id == trainer_id,
                    run_goes_on(),
                )
            )
            ours = {experiment_id: position for experiment_id, position in rows}
        return HeartbeatAnswer(
            registered=True,
            acknowledged=ours,
            forget=tuple(experiment_id for experiment_id in held if experiment_id not in ours),
        )

    def list_trainers(self, *, alive_within: timedelta | None = None) -> list[TrainerRecord]:
        """Registered trainers, by id; with `alive_within`, only those heard from that recently."""
        query = select(TrainerRow).order_by(TrainerRow.id)
        if alive_within is not None:
            query = query.where(TrainerRow.last_heartbeat >= self.now() - alive_within)
        with self._reading() as session:
            return trainer_records(session, list(session.scalars(query)))
