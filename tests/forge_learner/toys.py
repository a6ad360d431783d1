"""Tiny models, losses, data and recorders that the learner's tests share.

The models are built from the engine's core (``Module``, ``Parameter``, tensor ops and its
random generator) so that the learner's tests check the learner, not the layer library.
"""

from __future__ import annotations

import copy
import math
import pickle
from typing import Any

import numpy as np

import forge_core as fc
from forge_core import Tensor
from forge_core.nn import Module, Parameter
from forge_core.optim import Adam, Optimizer
from forge_learner import Callback, DataLoader, TensorDataset


class TinyNet(Module):
    """Linear -> tanh -> dropout -> linear; dropout draws from the engine's generator."""

    def __init__(self, n_in: int, n_hidden: int, n_out: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.w1 = Parameter(fc.randn(n_hidden, n_in) * (1 / math.sqrt(n_in)))
        self.b1 = Parameter(fc.zeros(n_hidden))
        self.w2 = Parameter(fc.randn(n_out, n_hidden) * (1 / math.sqrt(n_hidden)))
        self.b2 = Parameter(fc.zeros(n_out))
        self.dropout = dropout
        self.seen: list[tuple[bool, bool]] = []

    def forward(self, x: Tensor) -> Tensor:
        self.seen.append((self.training, fc.is_grad_enabled()))
        hidden = (x @ self.w1.T + self.b1).tanh()
        if self.training and self.dropout:
            keep = fc.rand(*hidden.shape).data >= self.dropout
            hidden = hidden * Tensor(keep.astype(hidden.dtype) / (1 - self.dropout))
        result: Tensor = hidden @ self.w2.T + self.b2
        return result


def mse(output: Tensor, target: Tensor) -> Tensor:
    return ((output - target) ** 2).mean()


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


def make_parts(seed: int = 0, dropout: float = 0.0, lr: float = 0.01) -> tuple[TinyNet, Optimizer]:
    fc.manual_seed(seed)
    model = TinyNet(3, 8, 1, dropout)
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


class StepLR:
    """PyTorch's StepLR reduced to what the tests need, until forge_core.optim has schedulers."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float) -> None:
        self.optimizer = optimizer
        self.step_size = step_size
        self.gamma = gamma
        self.last_epoch = 0

    def step(self) -> None:
        self.last_epoch += 1
        if self.last_epoch % self.step_size == 0:
            for group in self.optimizer.param_groups:
                group["lr"] *= self.gamma

    def state_dict(self) -> dict[str, Any]:
        return {"last_epoch": self.last_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.last_epoch = state["last_epoch"]
