import datetime

from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperimentStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    EXPERIMENT_STATUS_UNSPECIFIED: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_PENDING: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_RUNNING: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_SUCCEEDED: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_FAILED: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_CANCELLED: _ClassVar[ExperimentStatus]
    EXPERIMENT_STATUS_STOPPED_EARLY: _ClassVar[ExperimentStatus]
EXPERIMENT_STATUS_UNSPECIFIED: ExperimentStatus
EXPERIMENT_STATUS_PENDING: ExperimentStatus
EXPERIMENT_STATUS_RUNNING: ExperimentStatus
EXPERIMENT_STATUS_SUCCEEDED: ExperimentStatus
EXPERIMENT_STATUS_FAILED: ExperimentStatus
EXPERIMENT_STATUS_CANCELLED: ExperimentStatus
EXPERIMENT_STATUS_STOPPED_EARLY: ExperimentStatus

class Experiment(_message.Message):
    __slots__ = ("experiment_id", "pipeline", "config", "status", "created_at", "updated_at", "owner", "started_at", "finished_at", "trainer_id", "error_message", "epochs_done", "total_epochs", "metrics", "artifacts", "last_seq", "max_restarts", "attempts", "checkpoint_epoch", "baselines", "references", "name", "sweep_id", "sweep_trial", "files_pending")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class BaselinesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Scores
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Scores, _Mapping]] = ...) -> None: ...
    class ReferencesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: Scores
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[Scores, _Mapping]] = ...) -> None: ...
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    TRAINER_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_DONE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACTS_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    MAX_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_EPOCH_FIELD_NUMBER: _ClassVar[int]
    BASELINES_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    SWEEP_TRIAL_FIELD_NUMBER: _ClassVar[int]
    FILES_PENDING_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    pipeline: str
    config: _struct_pb2.Struct
    status: ExperimentStatus
    created_at: _timestamp_pb2.Timestamp
    updated_at: _timestamp_pb2.Timestamp
    owner: str
    started_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    trainer_id: str
    error_message: str
    epochs_done: int
    total_epochs: int
    metrics: _containers.ScalarMap[str, float]
    artifacts: _containers.RepeatedCompositeFieldContainer[Artifact]
    last_seq: int
    max_restarts: int
    attempts: _containers.RepeatedCompositeFieldContainer[Attempt]
    checkpoint_epoch: int
    baselines: _containers.MessageMap[str, Scores]
    references: _containers.MessageMap[str, Scores]
    name: str
    sweep_id: str
    sweep_trial: int
    files_pending: bool
    def __init__(self, experiment_id: _Optional[str] = ..., pipeline: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., status: _Optional[_Union[ExperimentStatus, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., updated_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., owner: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trainer_id: _Optional[str] = ..., error_message: _Optional[str] = ..., epochs_done: _Optional[int] = ..., total_epochs: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ..., artifacts: _Optional[_Iterable[_Union[Artifact, _Mapping]]] = ..., last_seq: _Optional[int] = ..., max_restarts: _Optional[int] = ..., attempts: _Optional[_Iterable[_Union[Attempt, _Mapping]]] = ..., checkpoint_epoch: _Optional[int] = ..., baselines: _Optional[_Mapping[str, Scores]] = ..., references: _Optional[_Mapping[str, Scores]] = ..., name: _Optional[str] = ..., sweep_id: _Optional[str] = ..., sweep_trial: _Optional[int] = ..., files_pending: _Optional[bool] = ...) -> None: ...

class Scores(_message.Message):
    __slots__ = ("values",)
    class ValuesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.ScalarMap[str, float]
    def __init__(self, values: _Optional[_Mapping[str, float]] = ...) -> None: ...

class Attempt(_message.Message):
    __slots__ = ("number", "trainer_id", "from_epoch", "started_at", "ended_at", "lost_reason")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    TRAINER_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_EPOCH_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    ENDED_AT_FIELD_NUMBER: _ClassVar[int]
    LOST_REASON_FIELD_NUMBER: _ClassVar[int]
    number: int
    trainer_id: str
    from_epoch: int
    started_at: _timestamp_pb2.Timestamp
    ended_at: _timestamp_pb2.Timestamp
    lost_reason: str
    def __init__(self, number: _Optional[int] = ..., trainer_id: _Optional[str] = ..., from_epoch: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., ended_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., lost_reason: _Optional[str] = ...) -> None: ...

class Artifact(_message.Message):
    __slots__ = ("name", "size_bytes", "content_type", "sha256")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    name: str
    size_bytes: int
    content_type: str
    sha256: str
    def __init__(self, name: _Optional[str] = ..., size_bytes: _Optional[int] = ..., content_type: _Optional[str] = ..., sha256: _Optional[str] = ...) -> None: ...

class ExperimentStatusChanged(_message.Message):
    __slots__ = ("experiment_id", "pipeline", "owner", "status", "previous_status", "changed_at", "error_message", "name")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    pipeline: str
    owner: str
    status: ExperimentStatus
    previous_status: ExperimentStatus
    changed_at: _timestamp_pb2.Timestamp
    error_message: str
    name: str
    def __init__(self, experiment_id: _Optional[str] = ..., pipeline: _Optional[str] = ..., owner: _Optional[str] = ..., status: _Optional[_Union[ExperimentStatus, str]] = ..., previous_status: _Optional[_Union[ExperimentStatus, str]] = ..., changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., error_message: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class PipelineInfo(_message.Message):
    __slots__ = ("name", "summary", "config_schema")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SUMMARY_FIELD_NUMBER: _ClassVar[int]
    CONFIG_SCHEMA_FIELD_NUMBER: _ClassVar[int]
    name: str
    summary: str
    config_schema: _struct_pb2.Struct
    def __init__(self, name: _Optional[str] = ..., summary: _Optional[str] = ..., config_schema: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
