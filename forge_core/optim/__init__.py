"""Optimizers and learning-rate schedules with PyTorch's names, options and numbers."""

from forge_core.optim import lr_scheduler
from forge_core.optim.adam import Adam, AdamW
from forge_core.optim.optimizer import Optimizer
from forge_core.optim.rmsprop import RMSprop
from forge_core.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]
