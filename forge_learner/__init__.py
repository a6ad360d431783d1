"""The learner: training loop with callbacks, data loading, metrics, pipelines and plugins.

Built on forge_core; knows nothing of gRPC, NATS or SQL. ``Learner`` runs the training loop and
fires Keras-named events to ``Callback`` objects; a service watches training by attaching its
own callback, which receives every event as plain, picklable data.

A training recipe is a ``BasePipeline`` with a ``PipelineConfig`` schema (``pipeline``,
``config``); ``run`` trains, evaluates and writes a report (``report``, ``plots``). Installed
pipelines are found through the ``forge.pipelines`` entry points (``registry``).
"""

from forge_learner.callbacks import (
    Callback,
    EarlyStopping,
    History,
    LRScheduler,
    ModelCheckpoint,
    ProgressBar,
)
from forge_learner.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from forge_learner.config import ConfigError, FieldError, PipelineConfig
from forge_learner.data import DataLoader, Dataset, TensorDataset
from forge_learner.events import EVENTS, Cancel, CancelBatch, CancelEpoch, CancelFit, Logs
from forge_learner.learner import Learner
from forge_learner.metrics import (
    Accuracy,
    MeanAbsoluteError,
    MeanSquaredError,
    Metric,
    RootMeanSquaredError,
)
from forge_learner.pipeline import (
    BasePipeline,
    Evaluation,
    PipelineData,
    RunContext,
    RunResult,
    Verdict,
)
from forge_learner.registry import UnknownPipelineError, discover_pipelines, get_pipeline
from forge_learner.report import ReportSection

__all__ = [
    "EVENTS",
    "Accuracy",
    "BasePipeline",
    "Callback",
    "Cancel",
    "CancelBatch",
    "CancelEpoch",
    "CancelFit",
    "Checkpoint",
    "ConfigError",
    "DataLoader",
    "Dataset",
    "EarlyStopping",
    "Evaluation",
    "FieldError",
    "History",
    "LRScheduler",
    "Learner",
    "Logs",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "ModelCheckpoint",
    "PipelineConfig",
    "PipelineData",
    "ProgressBar",
    "ReportSection",
    "RootMeanSquaredError",
    "RunContext",
    "RunResult",
    "TensorDataset",
    "UnknownPipelineError",
    "Verdict",
    "discover_pipelines",
    "get_pipeline",
    "load_checkpoint",
    "save_checkpoint",
]
