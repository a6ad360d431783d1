"""``LRScheduler``: step a PyTorch-style learning-rate scheduler at the right moments.

The schedules themselves live in ``forge_core.optim.lr_scheduler`` with PyTorch's names; this
callback decides when they step (after each epoch, or after each batch for warm-up and one-cycle
schedules), feeds a plateau schedule the value it watches, logs the learning rate each epoch
used as ``learning_rate`` (Keras's key), and carries the schedule's state through checkpoints.

It runs before the other built-in callbacks (``order`` 10), so the history records
``learning_rate`` and a checkpoint holds the schedule as already stepped for the next epoch.
"""

from __future__ import annotations

from typing import Any, Protocol

from forge_learner.callbacks.base import Callback
from forge_learner.callbacks.monitor import Monitor
from forge_learner.events import Logs


class Scheduler(Protocol):
    """What this callback needs of a scheduler: PyTorch's ``step`` and ``state_dict``."""

    def step(self, *args: Any, **kwargs: Any) -> Any: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state_dict: dict[str, Any]) -> None: ...


class LRScheduler(Callback):
    """Steps ``scheduler`` every ``interval`` ("epoch" or "batch").

    With ``monitor`` (e.g. ``"val_loss"`` for ``ReduceLROnPlateau``) each epoch's step gets that
    logged value, as ``scheduler.step(logs[monitor])``.
    """

    order = 10

    def __init__(
        self, scheduler: Scheduler, interval: str = "epoch", monitor: str | None = None
    ) -> None:
        if interval not in ("epoch", "batch"):
            raise ValueError(f"interval must be 'epoch' or 'batch', got {interval!r}")
        if monitor is not None and interval != "epoch":
            raise ValueError("a monitored schedule steps once per epoch: use interval='epoch'")
        self.scheduler = scheduler
        self.interval = interval
        self.monitor = None if monitor is None else Monitor(monitor)

    def on_train_begin(self, logs: Logs) -> None:
        if self.monitor is not None:
            self.monitor.check("LRScheduler", self.learner.val_loader is not None)

    def on_batch_end(self, batch: int, logs: Logs) -> None:
        if self.interval == "batch":
            self.scheduler.step()

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        logs["learning_rate"] = float(self.learner.optimizer.param_groups[0]["lr"])
        if self.interval != "epoch":
            return
        if self.monitor is None:
            self.scheduler.step()
            return
        value = self.monitor.value("LRScheduler", logs)
        if value is not None:
            self.scheduler.step(value)

    def state_dict(self) -> dict[str, Any]:
        return {"scheduler": self.scheduler.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.scheduler.load_state_dict(state["scheduler"])
