"""The store's records as the gRPC contract's messages, and the contract's enums as the store's.

Kept apart from the store so that the database layer has one shape (`scheduler.records`) and
the wire another, with this one place mapping between them.
"""

from __future__ import annotations

from datetime import datetime

from google.protobuf import struct_pb2, timestamp_pb2

from azuraforge.v1 import auth_pb2, experiment_pb2
from scheduler.db.models import ExperimentStatus, Role
from scheduler.records import (
    ArtifactRecord,
    AttemptRecord,
    ExperimentRecord,
    PipelineRecord,
    StatusChange,
    UserRecord,
)

_STATUS_TO_PROTO: dict[ExperimentStatus, experiment_pb2.ExperimentStatus] = {
    ExperimentStatus.PENDING: experiment_pb2.EXPERIMENT_STATUS_PENDING,
    ExperimentStatus.RUNNING: experiment_pb2.EXPERIMENT_STATUS_RUNNING,
    ExperimentStatus.SUCCEEDED: experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED,
    ExperimentStatus.FAILED: experiment_pb2.EXPERIMENT_STATUS_FAILED,
    ExperimentStatus.CANCELLED: experiment_pb2.EXPERIMENT_STATUS_CANCELLED,
    ExperimentStatus.STOPPED_EARLY: experiment_pb2.EXPERIMENT_STATUS_STOPPED_EARLY,
}
_STATUS_FROM_PROTO = {proto: status for status, proto in _STATUS_TO_PROTO.items()}
_ROLE_TO_PROTO: dict[Role, auth_pb2.Role] = {
    Role.USER: auth_pb2.ROLE_USER,
    Role.ADMIN: auth_pb2.ROLE_ADMIN,
}
_ROLE_FROM_PROTO = {proto: role for role, proto in _ROLE_TO_PROTO.items()}


def status_to_proto(status: ExperimentStatus | None) -> experiment_pb2.ExperimentStatus:
    """None (no status yet) is EXPERIMENT_STATUS_UNSPECIFIED."""
    if status is None:
        return experiment_pb2.EXPERIMENT_STATUS_UNSPECIFIED
    return _STATUS_TO_PROTO[status]


def status_from_proto(status: experiment_pb2.ExperimentStatus) -> ExperimentStatus:
    """A status from a request; ValueError for UNSPECIFIED or a number this build does not know."""
    try:
        return _STATUS_FROM_PROTO[status]
    except KeyError:
        raise ValueError(f"{status} is not an experiment status") from None


def role_to_proto(role: Role) -> auth_pb2.Role:
    return _ROLE_TO_PROTO[role]


def role_from_proto(role: auth_pb2.Role) -> Role:
    """ROLE_UNSPECIFIED means ROLE_USER (CreateUserRequest); ValueError for an unknown number."""
    if role == auth_pb2.ROLE_UNSPECIFIED:
        return Role.USER
    try:
        return _ROLE_FROM_PROTO[role]
    except KeyError:
        raise ValueError(f"{role} is not a role") from None


def timestamp(moment: datetime) -> timestamp_pb2.Timestamp:
    message = timestamp_pb2.Timestamp()
    message.FromDatetime(moment)
    return message


def user_to_proto(user: UserRecord) -> auth_pb2.User:
    return auth_pb2.User(
        user_id=user.id,
        username=user.username,
        role=role_to_proto(user.role),
        created_at=timestamp(user.created_at),
    )


def artifact_to_proto(artifact: ArtifactRecord) -> experiment_pb2.Artifact:
    return experiment_pb2.Artifact(
        name=artifact.name,
        size_bytes=artifact.size,
        content_type=artifact.content_type,
        sha256=artifact.sha256,
    )


def experiment_to_proto(experiment: ExperimentRecord) -> experiment_pb2.Experiment:
    config = struct_pb2.Struct()
    config.update(experiment.config)
    message = experiment_pb2.Experiment(
        experiment_id=experiment.id,
        pipeline=experiment.pipeline,
        config=config,
        status=status_to_proto(experiment.status),
        created_at=timestamp(experiment.created_at),
        updated_at=timestamp(experiment.updated_at),
        owner=experiment.owner,
        trainer_id=experiment.trainer_id or "",
        error_message=experiment.error_message,
        epochs_done=experiment.epochs_done,
        total_epochs=experiment.total_epochs,
        metrics=experiment.metrics,
        baselines=scores_to_proto(experiment.baselines),
        references=scores_to_proto(experiment.references),
        artifacts=[artifact_to_proto(artifact) for artifact in experiment.artifacts],
        last_seq=experiment.last_seq,
        max_restarts=experiment.max_restarts,
        attempts=[attempt_to_proto(attempt) for attempt in experiment.attempts],
        checkpoint_epoch=experiment.checkpoint_epoch,
        name=experiment.name,
        sweep_id=experiment.sweep_id,
        sweep_trial=experiment.sweep_trial,
        files_pending=experiment.files_pending,
    )
    # Unset, not the epoch, while the experiment has not started or finished.
    if experiment.started_at is not None:
        message.started_at.CopyFrom(timestamp(experiment.started_at))
    if experiment.finished_at is not None:
        message.finished_at.CopyFrom(timestamp(experiment.finished_at))
    return message


def scores_to_proto(by_name: dict[str, dict[str, float]]) -> dict[str, experiment_pb2.Scores]:
    return {name: experiment_pb2.Scores(values=values) for name, values in by_name.items()}


def attempt_to_proto(attempt: AttemptRecord) -> experiment_pb2.Attempt:
    message = experiment_pb2.Attempt(
        number=attempt.number,
        trainer_id=attempt.trainer_id,
        from_epoch=attempt.from_epoch,
        started_at=timestamp(attempt.started_at),
        lost_reason=attempt.lost_reason,
    )
    if attempt.ended_at is not None:
        message.ended_at.CopyFrom(timestamp(attempt.ended_at))
    return message


def status_change_to_proto(change: StatusChange) -> experiment_pb2.ExperimentStatusChanged:
    experiment = change.experiment
    return experiment_pb2.ExperimentStatusChanged(
        experiment_id=experiment.id,
        pipeline=experiment.pipeline,
        owner=experiment.owner,
        status=status_to_proto(experiment.status),
        previous_status=status_to_proto(change.previous),
        changed_at=timestamp(experiment.updated_at),
        error_message=experiment.error_message,
        name=experiment.name,
    )


def pipeline_to_proto(pipeline: PipelineRecord) -> experiment_pb2.PipelineInfo:
    schema = struct_pb2.Struct()
    schema.update(pipeline.config_schema)
    return experiment_pb2.PipelineInfo(
        name=pipeline.name, summary=pipeline.summary, config_schema=schema
    )
