import datetime

from azuraforge.v1 import experiment_pb2 as _experiment_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ExperimentEvent(_message.Message):
    __slots__ = ("experiment_id", "seq", "emitted_at", "experiment_started", "epoch_ended", "experiment_finished", "batch_progress", "log_line", "artifact_stored", "experiment_resumed", "files_stored")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_STARTED_FIELD_NUMBER: _ClassVar[int]
    EPOCH_ENDED_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_FINISHED_FIELD_NUMBER: _ClassVar[int]
    BATCH_PROGRESS_FIELD_NUMBER: _ClassVar[int]
    LOG_LINE_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_STORED_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_RESUMED_FIELD_NUMBER: _ClassVar[int]
    FILES_STORED_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    seq: int
    emitted_at: _timestamp_pb2.Timestamp
    experiment_started: ExperimentStarted
    epoch_ended: EpochEnded
    experiment_finished: ExperimentFinished
    batch_progress: BatchProgress
    log_line: LogLine
    artifact_stored: ArtifactStored
    experiment_resumed: ExperimentResumed
    files_stored: FilesStored
    def __init__(self, experiment_id: _Optional[str] = ..., seq: _Optional[int] = ..., emitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., experiment_started: _Optional[_Union[ExperimentStarted, _Mapping]] = ..., epoch_ended: _Optional[_Union[EpochEnded, _Mapping]] = ..., experiment_finished: _Optional[_Union[ExperimentFinished, _Mapping]] = ..., batch_progress: _Optional[_Union[BatchProgress, _Mapping]] = ..., log_line: _Optional[_Union[LogLine, _Mapping]] = ..., artifact_stored: _Optional[_Union[ArtifactStored, _Mapping]] = ..., experiment_resumed: _Optional[_Union[ExperimentResumed, _Mapping]] = ..., files_stored: _Optional[_Union[FilesStored, _Mapping]] = ...) -> None: ...

class ExperimentStarted(_message.Message):
    __slots__ = ("pipeline", "total_epochs", "trainer_id", "steps_per_epoch", "initial_epoch")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    TRAINER_ID_FIELD_NUMBER: _ClassVar[int]
    STEPS_PER_EPOCH_FIELD_NUMBER: _ClassVar[int]
    INITIAL_EPOCH_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    total_epochs: int
    trainer_id: str
    steps_per_epoch: int
    initial_epoch: int
    def __init__(self, pipeline: _Optional[str] = ..., total_epochs: _Optional[int] = ..., trainer_id: _Optional[str] = ..., steps_per_epoch: _Optional[int] = ..., initial_epoch: _Optional[int] = ...) -> None: ...

class EpochEnded(_message.Message):
    __slots__ = ("epoch", "total_epochs", "metrics", "elapsed_seconds")
    class MetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    ELAPSED_SECONDS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    total_epochs: int
    metrics: _containers.ScalarMap[str, float]
    elapsed_seconds: float
    def __init__(self, epoch: _Optional[int] = ..., total_epochs: _Optional[int] = ..., metrics: _Optional[_Mapping[str, float]] = ..., elapsed_seconds: _Optional[float] = ...) -> None: ...

class BatchProgress(_message.Message):
    __slots__ = ("epoch", "batch", "total_batches", "loss")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BATCHES_FIELD_NUMBER: _ClassVar[int]
    LOSS_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    batch: int
    total_batches: int
    loss: float
    def __init__(self, epoch: _Optional[int] = ..., batch: _Optional[int] = ..., total_batches: _Optional[int] = ..., loss: _Optional[float] = ...) -> None: ...

class LogLine(_message.Message):
    __slots__ = ("level", "logger", "message")
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    LOGGER_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    level: str
    logger: str
    message: str
    def __init__(self, level: _Optional[str] = ..., logger: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class ArtifactStored(_message.Message):
    __slots__ = ("artifact",)
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    artifact: _experiment_pb2.Artifact
    def __init__(self, artifact: _Optional[_Union[_experiment_pb2.Artifact, _Mapping]] = ...) -> None: ...

class ExperimentFinished(_message.Message):
    __slots__ = ("status", "error_message", "metrics", "retryable", "baselines", "references", "files_follow")
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
        value: _experiment_pb2.Scores
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_experiment_pb2.Scores, _Mapping]] = ...) -> None: ...
    class ReferencesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: _experiment_pb2.Scores
        def __init__(self, key: _Optional[str] = ..., value: _Optional[_Union[_experiment_pb2.Scores, _Mapping]] = ...) -> None: ...
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    METRICS_FIELD_NUMBER: _ClassVar[int]
    RETRYABLE_FIELD_NUMBER: _ClassVar[int]
    BASELINES_FIELD_NUMBER: _ClassVar[int]
    REFERENCES_FIELD_NUMBER: _ClassVar[int]
    FILES_FOLLOW_FIELD_NUMBER: _ClassVar[int]
    status: _experiment_pb2.ExperimentStatus
    error_message: str
    metrics: _containers.ScalarMap[str, float]
    retryable: bool
    baselines: _containers.MessageMap[str, _experiment_pb2.Scores]
    references: _containers.MessageMap[str, _experiment_pb2.Scores]
    files_follow: bool
    def __init__(self, status: _Optional[_Union[_experiment_pb2.ExperimentStatus, str]] = ..., error_message: _Optional[str] = ..., metrics: _Optional[_Mapping[str, float]] = ..., retryable: _Optional[bool] = ..., baselines: _Optional[_Mapping[str, _experiment_pb2.Scores]] = ..., references: _Optional[_Mapping[str, _experiment_pb2.Scores]] = ..., files_follow: _Optional[bool] = ...) -> None: ...

class FilesStored(_message.Message):
    __slots__ = ("count", "error_message")
    COUNT_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    count: int
    error_message: str
    def __init__(self, count: _Optional[int] = ..., error_message: _Optional[str] = ...) -> None: ...

class ExperimentResumed(_message.Message):
    __slots__ = ("trainer_id", "from_epoch", "attempt", "reason", "previous_trainer_id")
    TRAINER_ID_FIELD_NUMBER: _ClassVar[int]
    FROM_EPOCH_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_TRAINER_ID_FIELD_NUMBER: _ClassVar[int]
    trainer_id: str
    from_epoch: int
    attempt: int
    reason: str
    previous_trainer_id: str
    def __init__(self, trainer_id: _Optional[str] = ..., from_epoch: _Optional[int] = ..., attempt: _Optional[int] = ..., reason: _Optional[str] = ..., previous_trainer_id: _Optional[str] = ...) -> None: ...
