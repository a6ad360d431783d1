"""Optimizers and learning-rate schedules with PyTorch's names, options and numbers."""

from forge_core.optim.adam import Adam, AdamW
from forge_core.optim.optimizer import Optimizer

__all__ = ["Adam", "AdamW", "Optimizer"]
