"""Store records as gRPC messages, and the contract's enums as the store's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from google.protobuf import json_format

from azuraforge.v1 import auth_pb2, experiment_pb2
from scheduler import convert
from scheduler.db.models import ExperimentStatus, Role
from scheduler.records import ArtifactRecord, ExperimentRecord, StatusChange, UserRecord

CREATED = datetime(2030, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
ARTIFACT = ArtifactRecord("e1", "report.md", "text/markdown", 12, "ab" * 32, CREATED)


def experiment(**changes: object) -> ExperimentRecord:
    fields: dict[str, object] = dict(
        id="e1",
        owner_id="u1",
        owner="alice",
        pipeline="digits",
        config={"epochs": 3, "optimizer": {"name": "adam"}, "layers": [32, 16]},
        status=ExperimentStatus.PENDING,
        created_at=CREATED,
        updated_at=CREATED,
        started_at=None,
        finished_at=None,
        trainer_id=None,
        error_message="",
        epochs_done=0,
        total_epochs=3,
        metrics={},
        last_seq=0,
        artifacts=(),
    )
    fields.update(changes)
    return ExperimentRecord(**fields)  # type: ignore[arg-type]


def test_every_status_maps_both_ways():
    for status in ExperimentStatus:
        proto = convert.status_to_proto(status)
        assert experiment_pb2.ExperimentStatus.Name(proto) == f"EXPERIMENT_STATUS_{status.name}"
        assert convert.status_from_proto(proto) is status
    assert convert.status_to_proto(None) == experiment_pb2.EXPERIMENT_STATUS_UNSPECIFIED


@pytest.mark.parametrize("number", [experiment_pb2.EXPERIMENT_STATUS_UNSPECIFIED, 99])
def test_an_unknown_status_is_a_value_error(number: experiment_pb2.ExperimentStatus):
    with pytest.raises(ValueError, match="not an experiment status"):
        convert.status_from_proto(number)


def test_roles_map_both_ways_and_unspecified_means_user():
    assert convert.role_to_proto(Role.ADMIN) == auth_pb2.ROLE_ADMIN
    assert convert.role_from_proto(auth_pb2.ROLE_ADMIN) is Role.ADMIN
    assert convert.role_from_proto(auth_pb2.ROLE_USER) is Role.USER
    assert convert.role_from_proto(auth_pb2.ROLE_UNSPECIFIED) is Role.USER
    with pytest.raises(ValueError):
        convert.role_from_proto(7)  # type: ignore[arg-type]


def test_a_user_message_has_no_password_hash():
    message = convert.user_to_proto(UserRecord("u1", "alice", Role.USER, CREATED))

    assert message == auth_pb2.User(
        user_id="u1",
        username="alice",
        role=auth_pb2.ROLE_USER,
        created_at=convert.timestamp(CREATED),
    )
    assert message.created_at.ToDatetime(UTC) == CREATED


def test_a_pending_experiment_has_no_start_or_finish_time():
    message = convert.experiment_to_proto(experiment())

    assert message.experiment_id == "e1"
    assert message.owner == "alice"
    assert message.status == experiment_pb2.EXPERIMENT_STATUS_PENDING
    assert json_format.MessageToDict(message.config) == {
        "epochs": 3,
        "optimizer": {"name": "adam"},
        "layers": [32, 16],
    }
    assert not message.HasField("started_at")
    assert not message.HasField("finished_at")
    assert message.trainer_id == ""


def test_a_finished_experiment_carries_its_progress_and_artifacts():
    started = CREATED + timedelta(seconds=5)
    finished = CREATED + timedelta(minutes=5)

    message = convert.experiment_to_proto(
        experiment(
            status=ExperimentStatus.FAILED,
            started_at=started,
            finished_at=finished,
            updated_at=finished,
            trainer_id="t1",
            error_message="diverged",
            epochs_done=2,
            metrics={"loss": 0.5},
            last_seq=17,
            artifacts=(ARTIFACT,),
        )
    )

    assert message.status == experiment_pb2.EXPERIMENT_STATUS_FAILED
    assert message.started_at.ToDatetime(UTC) == started
    assert message.finished_at.ToDatetime(UTC) == finished
    assert (message.trainer_id, message.error_message) == ("t1", "diverged")
    assert (message.epochs_done, message.total_epochs, message.last_seq) == (2, 3, 17)
    assert dict(message.metrics) == {"loss": 0.5}
    assert list(message.artifacts) == [convert.artifact_to_proto(ARTIFACT)]
    assert message.artifacts[0] == experiment_pb2.Artifact(
        name="report.md", size_bytes=12, content_type="text/markdown", sha256="ab" * 32
    )


def test_a_status_change_names_both_statuses():
    changed = experiment(
        status=ExperimentStatus.CANCELLED,
        updated_at=CREATED + timedelta(seconds=1),
        error_message="by alice",
        name="baseline",
    )

    message = convert.status_change_to_proto(StatusChange(changed, ExperimentStatus.PENDING))
    created = convert.status_change_to_proto(StatusChange(experiment(), None))

    assert message == experiment_pb2.ExperimentStatusChanged(
        experiment_id="e1",
        pipeline="digits",
        owner="alice",
        status=experiment_pb2.EXPERIMENT_STATUS_CANCELLED,
        previous_status=experiment_pb2.EXPERIMENT_STATUS_PENDING,
        changed_at=convert.timestamp(CREATED + timedelta(seconds=1)),
        error_message="by alice",
        name="baseline",
    )
    assert created.previous_status == experiment_pb2.EXPERIMENT_STATUS_UNSPECIFIED
