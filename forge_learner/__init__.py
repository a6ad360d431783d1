"""The learner: training loop with callbacks, data loading, metrics, pipelines and plugins.

Built on forge_core; knows nothing of gRPC, NATS or SQL. ``Learner`` runs the training loop and
fires Keras-named events to ``Callback`` objects; a service watches training by attaching its
own callback, which receives every event as plain, picklable data.
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

__all__ = [
    "EVENTS",
    "Accuracy",
    "Callback",
    "Cancel",
    "CancelBatch",
    "CancelEpoch",
    "CancelFit",
    "Checkpoint",
    "DataLoader",
    "Dataset",
    "EarlyStopping",
    "History",
    "LRScheduler",
    "Learner",
    "Logs",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Metric",
    "ModelCheckpoint",
    "ProgressBar",
    "RootMeanSquaredError",
    "TensorDataset",
    "load_checkpoint",
    "save_checkpoint",
]
