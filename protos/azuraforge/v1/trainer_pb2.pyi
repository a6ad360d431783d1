from azuraforge.v1 import events_pb2 as _events_pb2
from azuraforge.v1 import experiment_pb2 as _experiment_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class TrainRequest(_message.Message):
    __slots__ = ("experiment_id", "pipeline", "config", "checkpoint", "attempt")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    ATTEMPT_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    pipeline: str
    config: _struct_pb2.Struct
    checkpoint: bytes
    attempt: int
    def __init__(self, experiment_id: _Optional[str] = ..., pipeline: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., checkpoint: _Optional[bytes] = ..., attempt: _Optional[int] = ...) -> None: ...

class TrainResponse(_message.Message):
    __slots__ = ("event", "events", "artifact_chunk", "checkpoint_chunk", "position")
    EVENT_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    ARTIFACT_CHUNK_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINT_CHUNK_FIELD_NUMBER: _ClassVar[int]
    POSITION_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.ExperimentEvent
    events: EventBatch
    artifact_chunk: ArtifactChunk
    checkpoint_chunk: CheckpointChunk
    position: int
    def __init__(self, event: _Optional[_Union[_events_pb2.ExperimentEvent, _Mapping]] = ..., events: _Optional[_Union[EventBatch, _Mapping]] = ..., artifact_chunk: _Optional[_Union[ArtifactChunk, _Mapping]] = ..., checkpoint_chunk: _Optional[_Union[CheckpointChunk, _Mapping]] = ..., position: _Optional[int] = ...) -> None: ...

class EventBatch(_message.Message):
    __slots__ = ("events",)
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    events: _containers.RepeatedCompositeFieldContainer[_events_pb2.ExperimentEvent]
    def __init__(self, events: _Optional[_Iterable[_Union[_events_pb2.ExperimentEvent, _Mapping]]] = ...) -> None: ...

class AttachRequest(_message.Message):
    __slots__ = ("experiment_id", "after_position")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_POSITION_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    after_position: int
    def __init__(self, experiment_id: _Optional[str] = ..., after_position: _Optional[int] = ...) -> None: ...

class AttachResponse(_message.Message):
    __slots__ = ("response",)
    RESPONSE_FIELD_NUMBER: _ClassVar[int]
    response: TrainResponse
    def __init__(self, response: _Optional[_Union[TrainResponse, _Mapping]] = ...) -> None: ...

class CheckpointChunk(_message.Message):
    __slots__ = ("epoch", "offset", "data", "last", "sha256")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    offset: int
    data: bytes
    last: bool
    sha256: str
    def __init__(self, epoch: _Optional[int] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., last: _Optional[bool] = ..., sha256: _Optional[str] = ...) -> None: ...

class ArtifactChunk(_message.Message):
    __slots__ = ("name", "content_type", "offset", "data", "last")
    NAME_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    LAST_FIELD_NUMBER: _ClassVar[int]
    name: str
    content_type: str
    offset: int
    data: bytes
    last: bool
    def __init__(self, name: _Optional[str] = ..., content_type: _Optional[str] = ..., offset: _Optional[int] = ..., data: _Optional[bytes] = ..., last: _Optional[bool] = ...) -> None: ...

class CancelRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class CancelResponse(_message.Message):
    __slots__ = ("cancelled",)
    CANCELLED_FIELD_NUMBER: _ClassVar[int]
    cancelled: bool
    def __init__(self, cancelled: _Optional[bool] = ...) -> None: ...

class DescribeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DescribeResponse(_message.Message):
    __slots__ = ("trainer_id", "slots", "free_slots", "pipelines", "running_experiment_ids")
    TRAINER_ID_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    FREE_SLOTS_FIELD_NUMBER: _ClassVar[int]
    PIPELINES_FIELD_NUMBER: _ClassVar[int]
    RUNNING_EXPERIMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    trainer_id: str
    slots: int
    free_slots: int
    pipelines: _containers.RepeatedCompositeFieldContainer[_experiment_pb2.PipelineInfo]
    running_experiment_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, trainer_id: _Optional[str] = ..., slots: _Optional[int] = ..., free_slots: _Optional[int] = ..., pipelines: _Optional[_Iterable[_Union[_experiment_pb2.PipelineInfo, _Mapping]]] = ..., running_experiment_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TrainerServicePredictRequest(_message.Message):
    __slots__ = ("experiment_id", "pipeline", "files", "inputs", "images")
    class FilesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: bytes
        def __init__(self, key: _Optional[str] = ..., value: _Optional[bytes] = ...) -> None: ...
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    pipeline: str
    files: _containers.ScalarMap[str, bytes]
    inputs: _struct_pb2.Value
    images: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, experiment_id: _Optional[str] = ..., pipeline: _Optional[str] = ..., files: _Optional[_Mapping[str, bytes]] = ..., inputs: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., images: _Optional[_Iterable[bytes]] = ...) -> None: ...

class TrainerServicePredictResponse(_message.Message):
    __slots__ = ("prediction",)
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    prediction: _struct_pb2.Struct
    def __init__(self, prediction: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...
