"""Tiny models, data and recording callbacks that the learner's tests share.

They use the engine's real layers, losses and optimizers: the learner's tests are also the
first place where the engine trains end to end.
"""

from __future__ import annotations

import copy
import pickle
from typing import Any

import numpy as np

import forge_core as fc
from forge_core import Tensor, nn
from forge_core.nn import Module
from forge_core.optim import Adam, Optimizer
from forge_learner import Callback, DataLoader, TensorDataset


class ModeSpy(Module):
    """Passes its input through, noting whether the model trains and records a graph."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.seen.append((self.training, fc.is_grad_enabled()))
        return x


def regression_data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A learnable problem: y = sin(x . w) plus a little noise, in float32."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3)).astype(np.float32)
    y = np.sin(x @ np.array([[1.0], [-0.5], [0.25]]))
    y = (y + 0.01 * rng.normal(size=y.shape)).astype(np.float32)
    return x, y


def regression_loader(
    n: int = 24, batch_size: int = 8, shuffle: bool = False, seed: int = 0
) -> DataLoader:
    return DataLoader(TensorDataset(*regression_data(n, seed)), batch_size, shuffle=shuffle)


def make_parts(
    seed: int = 0, dropout: float = 0.0, lr: float = 0.01
) -> tuple[nn.Sequential, Optimizer]:
    """A small MLP (dropout draws from the engine's generator) and its Adam, seeded."""
    fc.manual_seed(seed)
    model = nn.Sequential(
        nn.Linear(3, 8), nn.Tanh(), nn.Dropout(dropout), nn.Linear(8, 1), ModeSpy()
    )
    return model, Adam(model.parameters(), lr=lr)


class Recorder(Callback):
    """Records every event with a deep copy of its arguments, and checks they pickle."""

    def __init__(self, order: int = 0) -> None:
        self.order = order
        self.events: list[tuple[Any, ...]] = []

    def __call__(self, event: str, *args: Any) -> None:
        pickle.dumps(args)
        self.events.append((event, *copy.deepcopy(args)))
        super().__call__(event, *args)

    def names(self) -> list[str]:
        return [event[0] for event in self.events]


class Raise(Callback):
    """Raises ``error`` at ``event`` when the event's first argument is ``at``."""

    def __init__(self, event: str, error: Exception, at: int | None = None) -> None:
        self.event = event
        self.error = error
        self.at = at

    def __call__(self, event: str, *args: Any) -> None:
        if event == self.event and (self.at is None or args[0] == self.at):
            raise self.error


class SetLog(Callback):
    """Logs ``values[epoch]`` as ``logs[key]`` at each epoch's end, before the built-ins run."""

    order = -10

    def __init__(self, key: str, values: list[float]) -> None:
        self.key = key
        self.values = values

    def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
        logs[self.key] = self.values[epoch]
