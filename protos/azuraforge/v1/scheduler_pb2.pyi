from azuraforge.v1 import events_pb2 as _events_pb2
from azuraforge.v1 import experiment_pb2 as _experiment_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ListPipelinesRequest(_message.Message):
    __slots__ = ("include_offline",)
    INCLUDE_OFFLINE_FIELD_NUMBER: _ClassVar[int]
    include_offline: bool
    def __init__(self, include_offline: _Optional[bool] = ...) -> None: ...

class ListPipelinesResponse(_message.Message):
    __slots__ = ("pipelines",)
    PIPELINES_FIELD_NUMBER: _ClassVar[int]
    pipelines: _containers.RepeatedCompositeFieldContainer[_experiment_pb2.PipelineInfo]
    def __init__(self, pipelines: _Optional[_Iterable[_Union[_experiment_pb2.PipelineInfo, _Mapping]]] = ...) -> None: ...

class SubmitExperimentRequest(_message.Message):
    __slots__ = ("pipeline", "config", "max_restarts", "name")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    MAX_RESTARTS_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    config: _struct_pb2.Struct
    max_restarts: int
    name: str
    def __init__(self, pipeline: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., max_restarts: _Optional[int] = ..., name: _Optional[str] = ...) -> None: ...

class SubmitExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: _experiment_pb2.Experiment
    def __init__(self, experiment: _Optional[_Union[_experiment_pb2.Experiment, _Mapping]] = ...) -> None: ...

class GetExperimentRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class GetExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: _experiment_pb2.Experiment
    def __init__(self, experiment: _Optional[_Union[_experiment_pb2.Experiment, _Mapping]] = ...) -> None: ...

class ListExperimentsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "statuses", "pipeline")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATUSES_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    statuses: _containers.RepeatedScalarFieldContainer[_experiment_pb2.ExperimentStatus]
    pipeline: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., statuses: _Optional[_Iterable[_Union[_experiment_pb2.ExperimentStatus, str]]] = ..., pipeline: _Optional[str] = ...) -> None: ...

class ListExperimentsResponse(_message.Message):
    __slots__ = ("experiments", "next_page_token", "total_size")
    EXPERIMENTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    experiments: _containers.RepeatedCompositeFieldContainer[_experiment_pb2.Experiment]
    next_page_token: str
    total_size: int
    def __init__(self, experiments: _Optional[_Iterable[_Union[_experiment_pb2.Experiment, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class CancelExperimentRequest(_message.Message):
    __slots__ = ("experiment_id",)
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    def __init__(self, experiment_id: _Optional[str] = ...) -> None: ...

class CancelExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: _experiment_pb2.Experiment
    def __init__(self, experiment: _Optional[_Union[_experiment_pb2.Experiment, _Mapping]] = ...) -> None: ...

class WatchExperimentRequest(_message.Message):
    __slots__ = ("experiment_id", "after_seq")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    after_seq: int
    def __init__(self, experiment_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class WatchExperimentResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: _events_pb2.ExperimentEvent
    def __init__(self, event: _Optional[_Union[_events_pb2.ExperimentEvent, _Mapping]] = ...) -> None: ...

class WatchExperimentsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WatchExperimentsResponse(_message.Message):
    __slots__ = ("change",)
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    change: _experiment_pb2.ExperimentStatusChanged
    def __init__(self, change: _Optional[_Union[_experiment_pb2.ExperimentStatusChanged, _Mapping]] = ...) -> None: ...

class GetArtifactRequest(_message.Message):
    __slots__ = ("experiment_id", "name")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    name: str
    def __init__(self, experiment_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class GetArtifactResponse(_message.Message):
    __slots__ = ("artifact", "data")
    ARTIFACT_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    artifact: _experiment_pb2.Artifact
    data: bytes
    def __init__(self, artifact: _Optional[_Union[_experiment_pb2.Artifact, _Mapping]] = ..., data: _Optional[bytes] = ...) -> None: ...

class RegisterTrainerRequest(_message.Message):
    __slots__ = ("address", "slots", "trainer_id", "running_experiment_ids", "pipelines")
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    TRAINER_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNING_EXPERIMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    PIPELINES_FIELD_NUMBER: _ClassVar[int]
    address: str
    slots: int
    trainer_id: str
    running_experiment_ids: _containers.RepeatedScalarFieldContainer[str]
    pipelines: _containers.RepeatedCompositeFieldContainer[_experiment_pb2.PipelineInfo]
    def __init__(self, address: _Optional[str] = ..., slots: _Optional[int] = ..., trainer_id: _Optional[str] = ..., running_experiment_ids: _Optional[_Iterable[str]] = ..., pipelines: _Optional[_Iterable[_Union[_experiment_pb2.PipelineInfo, _Mapping]]] = ...) -> None: ...

class RegisterTrainerResponse(_message.Message):
    __slots__ = ("trainer_id", "heartbeat_interval_seconds")
    TRAINER_ID_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_INTERVAL_SECONDS_FIELD_NUMBER: _ClassVar[int]
    trainer_id: str
    heartbeat_interval_seconds: int
    def __init__(self, trainer_id: _Optional[str] = ..., heartbeat_interval_seconds: _Optional[int] = ...) -> None: ...

class TrainerHeartbeatRequest(_message.Message):
    __slots__ = ("trainer_id", "running_experiment_ids")
    TRAINER_ID_FIELD_NUMBER: _ClassVar[int]
    RUNNING_EXPERIMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    trainer_id: str
    running_experiment_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, trainer_id: _Optional[str] = ..., running_experiment_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class TrainerHeartbeatResponse(_message.Message):
    __slots__ = ("registered", "acknowledged", "forget_experiment_ids")
    class AcknowledgedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    FORGET_EXPERIMENT_IDS_FIELD_NUMBER: _ClassVar[int]
    registered: bool
    acknowledged: _containers.ScalarMap[str, int]
    forget_experiment_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, registered: _Optional[bool] = ..., acknowledged: _Optional[_Mapping[str, int]] = ..., forget_experiment_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class PredictRequest(_message.Message):
    __slots__ = ("experiment_id", "inputs", "images")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    IMAGES_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    inputs: _struct_pb2.Value
    images: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, experiment_id: _Optional[str] = ..., inputs: _Optional[_Union[_struct_pb2.Value, _Mapping]] = ..., images: _Optional[_Iterable[bytes]] = ...) -> None: ...

class PredictResponse(_message.Message):
    __slots__ = ("experiment_id", "pipeline", "prediction")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    PREDICTION_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    pipeline: str
    prediction: _struct_pb2.Struct
    def __init__(self, experiment_id: _Optional[str] = ..., pipeline: _Optional[str] = ..., prediction: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class RenameExperimentRequest(_message.Message):
    __slots__ = ("experiment_id", "name")
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    experiment_id: str
    name: str
    def __init__(self, experiment_id: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class RenameExperimentResponse(_message.Message):
    __slots__ = ("experiment",)
    EXPERIMENT_FIELD_NUMBER: _ClassVar[int]
    experiment: _experiment_pb2.Experiment
    def __init__(self, experiment: _Optional[_Union[_experiment_pb2.Experiment, _Mapping]] = ...) -> None: ...
