"""The built-in callbacks, one module each, and the ``Callback`` base class they share."""

from forge_learner.callbacks.base import Callback
from forge_learner.callbacks.checkpoint import ModelCheckpoint
from forge_learner.callbacks.early_stopping import EarlyStopping
from forge_learner.callbacks.history import History
from forge_learner.callbacks.lr_scheduler import LRScheduler
from forge_learner.callbacks.progress import ProgressBar

__all__ = ["Callback", "EarlyStopping", "History", "LRScheduler", "ModelCheckpoint", "ProgressBar"]
