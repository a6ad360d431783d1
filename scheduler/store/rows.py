"""Reading rows that several repositories share: visible experiments, and records from rows.

What a method returns is a frozen record (`scheduler.records`), never a live ORM object; these
build them, and find the rows every repository that touches an experiment starts from.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from scheduler.db.models import (
    Artifact,
    Checkpoint,
    ExperimentRow,
    ExperimentStatus,
    TrainerRow,
    User,
)
from scheduler.records import (
    ArtifactRecord,
    AttemptRecord,
    Caller,
    ExperimentRecord,
    TrainerRecord,
    UserRecord,
)
from scheduler.store.errors import NotFound


def visible_experiment(
    session: Session, experiment_id: str, caller: Caller | None, *, lock: bool = False
) -> ExperimentRow:
    query = select(ExperimentRow).where(ExperimentRow.id == experiment_id)
    if lock:
        query = query.with_for_update()
    experiment = session.scalar(query)
    if experiment is None or (
        caller is not None and not caller.is_admin and experiment.owner_id != caller.user_id
    ):
        raise NotFound("experiment", experiment_id)
    return experiment


def user_record(user: User) -> UserRecord:
    return UserRecord(user.id, user.username, user.role, user.created_at)


def artifact_record(artifact: Artifact) -> ArtifactRecord:
    return ArtifactRecord(
        experiment_id=artifact.experiment_id,
        name=artifact.name,
        content_type=artifact.content_type,
        size=artifact.size,
        sha256=artifact.sha256,
        stored_at=artifact.stored_at,
    )


def artifact_records(
    session: Session, experiment_ids: Sequence[str]
) -> dict[str, list[ArtifactRecord]]:
    """Artifact descriptions by experiment, without loading any content."""
    rows = session.execute(
        select(
            Artifact.experiment_id,
            Artifact.name,
            Artifact.content_type,
            Artifact.size,
            Artifact.sha256,
            Artifact.stored_at,
        )
        .where(Artifact.experiment_id.in_(experiment_ids))
        .order_by(Artifact.experiment_id, Artifact.name)
    )
    by_experiment: dict[str, list[ArtifactRecord]] = {}
    for row in rows:
        by_experiment.setdefault(row.experiment_id, []).append(ArtifactRecord(*row))
    return by_experiment


def experiment_records(
    session: Session, experiments: Sequence[ExperimentRow]
) -> list[ExperimentRecord]:
    if not experiments:
        return []
    owner_ids = {experiment.owner_id for experiment in experiments}
    usernames = {
        user_id: username
        for user_id, username in session.execute(
            select(User.id, User.username).where(User.id.in_(owner_ids))
        )
    }
    ids = [experiment.id for experiment in experiments]
    artifacts = artifact_records(session, ids)
    checkpoint_epochs = stored_checkpoint_epochs(session, ids)
    return [
        ExperimentRecord(
            id=experiment.id,
            owner_id=experiment.owner_id,
            owner=usernames[experiment.owner_id],
            pipeline=experiment.pipeline,
            config=dict(experiment.config),
            status=experiment.status,
            created_at=experiment.created_at,
            updated_at=experiment.updated_at,
            started_at=experiment.started_at,
            finished_at=experiment.finished_at,
            trainer_id=experiment.trainer_id,
            error_message=experiment.error_message,
            epochs_done=experiment.epochs_done,
            total_epochs=experiment.total_epochs,
            metrics=dict(experiment.metrics),
            baselines=dict(experiment.baselines),
            references=dict(experiment.references),
            last_seq=experiment.last_seq,
            artifacts=tuple(artifacts.get(experiment.id, ())),
            max_restarts=experiment.max_restarts,
            attempts=tuple(attempts_of(experiment)),
            stream_position=experiment.stream_position,
            scheduler_id=experiment.scheduler_id,
            files_pending=experiment.files_pending,
            checkpoint_epoch=checkpoint_epochs.get(experiment.id, 0),
            name=experiment.name,
            sweep_id=experiment.sweep_id or "",
            sweep_trial=experiment.sweep_trial,
        )
        for experiment in experiments
    ]


def run_goes_on() -> ColumnElement[bool]:
    """Whether an experiment's run is still followed: RUNNING; ended with its files still
    coming (`files_pending`, until `store_files_end` clears it); or cancelled
    (`mark_cancelled`) with its last files still expected, until `complete_cancel` clears its
    scheduler."""
    return or_(
        ExperimentRow.status == ExperimentStatus.RUNNING,
        ExperimentRow.files_pending.is_(True),
        and_(
            ExperimentRow.status == ExperimentStatus.CANCELLED,
            ExperimentRow.scheduler_id.is_not(None),
        ),
    )


def note_position(experiment: ExperimentRow, position: int | None) -> None:
    """Record that the current run's stream is stored up to `position` (never backwards)."""
    if position is not None and position > experiment.stream_position:
        experiment.stream_position = position


def attempts_of(experiment: ExperimentRow) -> list[AttemptRecord]:
    return [AttemptRecord.from_json(item) for item in experiment.attempts or []]


def stored_checkpoint_epochs(session: Session, experiment_ids: Sequence[str]) -> dict[str, int]:
    """The epoch of each experiment's stored checkpoint, without loading any content."""
    if not experiment_ids:
        return {}
    rows = session.execute(
        select(Checkpoint.experiment_id, Checkpoint.epoch).where(
            Checkpoint.experiment_id.in_(experiment_ids)
        )
    )
    return {experiment_id: epoch for experiment_id, epoch in rows}


def trainer_records(session: Session, trainers: Sequence[TrainerRow]) -> list[TrainerRecord]:
    running = {
        trainer_id: count
        for trainer_id, count in session.execute(
            select(ExperimentRow.trainer_id, func.count())
            .where(
                ExperimentRow.status == ExperimentStatus.RUNNING,
                ExperimentRow.trainer_id.in_([trainer.id for trainer in trainers]),
            )
            .group_by(ExperimentRow.trainer_id)
        )
    }
    return [
        TrainerRecord(
            id=trainer.id,
            address=trainer.address,
            slots=trainer.slots,
            pipelines=tuple(trainer.pipelines),
            registered_at=trainer.registered_at,
            last_heartbeat=trainer.last_heartbeat,
            running=running.get(trainer.id, 0),
            held=tuple(trainer.held_experiments or ()),
        )
        for trainer in trainers
    ]
