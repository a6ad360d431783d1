import datetime

from azuraforge.v1 import experiment_pb2 as _experiment_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SweepStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SWEEP_STATUS_UNSPECIFIED: _ClassVar[SweepStatus]
    SWEEP_STATUS_RUNNING: _ClassVar[SweepStatus]
    SWEEP_STATUS_SUCCEEDED: _ClassVar[SweepStatus]
    SWEEP_STATUS_FAILED: _ClassVar[SweepStatus]
    SWEEP_STATUS_CANCELLED: _ClassVar[SweepStatus]
SWEEP_STATUS_UNSPECIFIED: SweepStatus
SWEEP_STATUS_RUNNING: SweepStatus
SWEEP_STATUS_SUCCEEDED: SweepStatus
SWEEP_STATUS_FAILED: SweepStatus
SWEEP_STATUS_CANCELLED: SweepStatus

class Objective(_message.Message):
    __slots__ = ("metric", "mode")
    METRIC_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    metric: str
    mode: str
    def __init__(self, metric: _Optional[str] = ..., mode: _Optional[str] = ...) -> None: ...

class Asha(_message.Message):
    __slots__ = ("grace_epochs", "reduction_factor")
    GRACE_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    REDUCTION_FACTOR_FIELD_NUMBER: _ClassVar[int]
    grace_epochs: int
    reduction_factor: int
    def __init__(self, grace_epochs: _Optional[int] = ..., reduction_factor: _Optional[int] = ...) -> None: ...

class EarlyStopping(_message.Message):
    __slots__ = ("asha",)
    ASHA_FIELD_NUMBER: _ClassVar[int]
    asha: Asha
    def __init__(self, asha: _Optional[_Union[Asha, _Mapping]] = ...) -> None: ...

class SweepSpec(_message.Message):
    __slots__ = ("pipeline", "config", "space", "search", "seed", "max_trials", "parallelism", "objective", "early_stopping", "name")
    PIPELINE_FIELD_NUMBER: _ClassVar[int]
    CONFIG_FIELD_NUMBER: _ClassVar[int]
    SPACE_FIELD_NUMBER: _ClassVar[int]
    SEARCH_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    MAX_TRIALS_FIELD_NUMBER: _ClassVar[int]
    PARALLELISM_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    EARLY_STOPPING_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    pipeline: str
    config: _struct_pb2.Struct
    space: _struct_pb2.Struct
    search: str
    seed: int
    max_trials: int
    parallelism: int
    objective: Objective
    early_stopping: EarlyStopping
    name: str
    def __init__(self, pipeline: _Optional[str] = ..., config: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., space: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., search: _Optional[str] = ..., seed: _Optional[int] = ..., max_trials: _Optional[int] = ..., parallelism: _Optional[int] = ..., objective: _Optional[_Union[Objective, _Mapping]] = ..., early_stopping: _Optional[_Union[EarlyStopping, _Mapping]] = ..., name: _Optional[str] = ...) -> None: ...

class RungResult(_message.Message):
    __slots__ = ("rung", "epoch", "objective", "promoted")
    RUNG_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    PROMOTED_FIELD_NUMBER: _ClassVar[int]
    rung: int
    epoch: int
    objective: float
    promoted: bool
    def __init__(self, rung: _Optional[int] = ..., epoch: _Optional[int] = ..., objective: _Optional[float] = ..., promoted: _Optional[bool] = ...) -> None: ...

class SweepTrial(_message.Message):
    __slots__ = ("number", "experiment_id", "status", "settings", "epochs_done", "objective", "rungs", "stop_reason")
    NUMBER_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SETTINGS_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_DONE_FIELD_NUMBER: _ClassVar[int]
    OBJECTIVE_FIELD_NUMBER: _ClassVar[int]
    RUNGS_FIELD_NUMBER: _ClassVar[int]
    STOP_REASON_FIELD_NUMBER: _ClassVar[int]
    number: int
    experiment_id: str
    status: _experiment_pb2.ExperimentStatus
    settings: _struct_pb2.Struct
    epochs_done: int
    objective: float
    rungs: _containers.RepeatedCompositeFieldContainer[RungResult]
    stop_reason: str
    def __init__(self, number: _Optional[int] = ..., experiment_id: _Optional[str] = ..., status: _Optional[_Union[_experiment_pb2.ExperimentStatus, str]] = ..., settings: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., epochs_done: _Optional[int] = ..., objective: _Optional[float] = ..., rungs: _Optional[_Iterable[_Union[RungResult, _Mapping]]] = ..., stop_reason: _Optional[str] = ...) -> None: ...

class Sweep(_message.Message):
    __slots__ = ("sweep_id", "spec", "status", "owner", "created_at", "finished_at", "trials", "best_trial", "epochs_spent", "epochs_budget", "error_message", "last_seq")
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    FINISHED_AT_FIELD_NUMBER: _ClassVar[int]
    TRIALS_FIELD_NUMBER: _ClassVar[int]
    BEST_TRIAL_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_SPENT_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_BUDGET_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQ_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    spec: SweepSpec
    status: SweepStatus
    owner: str
    created_at: _timestamp_pb2.Timestamp
    finished_at: _timestamp_pb2.Timestamp
    trials: _containers.RepeatedCompositeFieldContainer[SweepTrial]
    best_trial: SweepTrial
    epochs_spent: int
    epochs_budget: int
    error_message: str
    last_seq: int
    def __init__(self, sweep_id: _Optional[str] = ..., spec: _Optional[_Union[SweepSpec, _Mapping]] = ..., status: _Optional[_Union[SweepStatus, str]] = ..., owner: _Optional[str] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., finished_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trials: _Optional[_Iterable[_Union[SweepTrial, _Mapping]]] = ..., best_trial: _Optional[_Union[SweepTrial, _Mapping]] = ..., epochs_spent: _Optional[int] = ..., epochs_budget: _Optional[int] = ..., error_message: _Optional[str] = ..., last_seq: _Optional[int] = ...) -> None: ...

class SweepEvent(_message.Message):
    __slots__ = ("sweep_id", "seq", "emitted_at", "trial_changed", "decision", "finished")
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    SEQ_FIELD_NUMBER: _ClassVar[int]
    EMITTED_AT_FIELD_NUMBER: _ClassVar[int]
    TRIAL_CHANGED_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    FINISHED_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    seq: int
    emitted_at: _timestamp_pb2.Timestamp
    trial_changed: SweepTrialChanged
    decision: AshaDecision
    finished: SweepFinished
    def __init__(self, sweep_id: _Optional[str] = ..., seq: _Optional[int] = ..., emitted_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., trial_changed: _Optional[_Union[SweepTrialChanged, _Mapping]] = ..., decision: _Optional[_Union[AshaDecision, _Mapping]] = ..., finished: _Optional[_Union[SweepFinished, _Mapping]] = ...) -> None: ...

class SweepTrialChanged(_message.Message):
    __slots__ = ("trial",)
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    trial: SweepTrial
    def __init__(self, trial: _Optional[_Union[SweepTrial, _Mapping]] = ...) -> None: ...

class AshaDecision(_message.Message):
    __slots__ = ("trial", "experiment_id", "result", "trials_at_rung", "cutoff", "reason")
    TRIAL_FIELD_NUMBER: _ClassVar[int]
    EXPERIMENT_ID_FIELD_NUMBER: _ClassVar[int]
    RESULT_FIELD_NUMBER: _ClassVar[int]
    TRIALS_AT_RUNG_FIELD_NUMBER: _ClassVar[int]
    CUTOFF_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    trial: int
    experiment_id: str
    result: RungResult
    trials_at_rung: int
    cutoff: float
    reason: str
    def __init__(self, trial: _Optional[int] = ..., experiment_id: _Optional[str] = ..., result: _Optional[_Union[RungResult, _Mapping]] = ..., trials_at_rung: _Optional[int] = ..., cutoff: _Optional[float] = ..., reason: _Optional[str] = ...) -> None: ...

class SweepFinished(_message.Message):
    __slots__ = ("status", "best_trial", "error_message")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    BEST_TRIAL_FIELD_NUMBER: _ClassVar[int]
    ERROR_MESSAGE_FIELD_NUMBER: _ClassVar[int]
    status: SweepStatus
    best_trial: SweepTrial
    error_message: str
    def __init__(self, status: _Optional[_Union[SweepStatus, str]] = ..., best_trial: _Optional[_Union[SweepTrial, _Mapping]] = ..., error_message: _Optional[str] = ...) -> None: ...

class SubmitSweepRequest(_message.Message):
    __slots__ = ("spec",)
    SPEC_FIELD_NUMBER: _ClassVar[int]
    spec: SweepSpec
    def __init__(self, spec: _Optional[_Union[SweepSpec, _Mapping]] = ...) -> None: ...

class SubmitSweepResponse(_message.Message):
    __slots__ = ("sweep",)
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    sweep: Sweep
    def __init__(self, sweep: _Optional[_Union[Sweep, _Mapping]] = ...) -> None: ...

class GetSweepRequest(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...

class GetSweepResponse(_message.Message):
    __slots__ = ("sweep",)
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    sweep: Sweep
    def __init__(self, sweep: _Optional[_Union[Sweep, _Mapping]] = ...) -> None: ...

class ListSweepsRequest(_message.Message):
    __slots__ = ("page_size", "page_token")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListSweepsResponse(_message.Message):
    __slots__ = ("sweeps", "next_page_token")
    SWEEPS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    sweeps: _containers.RepeatedCompositeFieldContainer[Sweep]
    next_page_token: str
    def __init__(self, sweeps: _Optional[_Iterable[_Union[Sweep, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class CancelSweepRequest(_message.Message):
    __slots__ = ("sweep_id",)
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    def __init__(self, sweep_id: _Optional[str] = ...) -> None: ...

class CancelSweepResponse(_message.Message):
    __slots__ = ("sweep",)
    SWEEP_FIELD_NUMBER: _ClassVar[int]
    sweep: Sweep
    def __init__(self, sweep: _Optional[_Union[Sweep, _Mapping]] = ...) -> None: ...

class WatchSweepRequest(_message.Message):
    __slots__ = ("sweep_id", "after_seq")
    SWEEP_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    sweep_id: str
    after_seq: int
    def __init__(self, sweep_id: _Optional[str] = ..., after_seq: _Optional[int] = ...) -> None: ...

class WatchSweepResponse(_message.Message):
    __slots__ = ("event",)
    EVENT_FIELD_NUMBER: _ClassVar[int]
    event: SweepEvent
    def __init__(self, event: _Optional[_Union[SweepEvent, _Mapping]] = ...) -> None: ...
