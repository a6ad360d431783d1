"""``EarlyStopping``: end the fit once the watched value stops improving (Keras's arguments).

It stops through the learner's one mechanism, ``learner.stop()``: every callback still sees the
epoch's ``on_epoch_end`` (the last checkpoint and history entry are written), and the fit ends
before the next epoch with ``on_train_cancel`` whose reason names early stopping.
"""

from __future__ import annotations

from typing import Any

from forge_learner.callbacks.base import Callback
from forge_learner.callbacks.monitor import Monitor
from forge_learner.events import Logs


class EarlyStopping(Callback):
    """Stop after ``patience`` epochs in a row without an improvement of ``monitor``.

    As in Keras, an epoch without improvement when ``patience`` is 0 stops at once, as with 1.
    """

    order = 20

    def __init__(
        self,
        monitor: str = "val_loss",
        patience: int = 0,
        min_delta: float = 0.0,
        mode: str = "auto",
    ) -> None:
        if patience < 0:
            raise ValueError(f"patience must be >= 0, got {patience}")
        self.monitor = Monitor(monitor, mode, min_delta)
        self.patience = patience
        self.best: float | None = None
        self.wait = 0
        self.stopped_epoch: int | None = None

    def on_train_begin(self, logs: Logs) -> None:
        self.monitor.check("EarlyStopping", self.learner.val_loader is not None)
        self.best = None
        self.wait = 0
        self.stopped_epoch = None

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        value = self.monitor.value("EarlyStopping", logs)
        if value is None:
            return
        if self.monitor.improved(value, self.best):
            self.best = value
            self.wait = 0
            return
        self.wait += 1
        if self.wait >= self.patience:
            self.stopped_epoch = epoch
            self.learner.stop(
                f"early stopping: {self.monitor.name} has not improved on {self.best:.6g} "
                f"for {self.wait} epochs"
            )

    def state_dict(self) -> dict[str, Any]:
        return {"best": self.best, "wait": self.wait, "stopped_epoch": self.stopped_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.wait = state["wait"]
        self.stopped_epoch = state["stopped_epoch"]
