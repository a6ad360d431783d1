"""``ModelCheckpoint``: write the run's checkpoint after every epoch, and after every best one.

``last.npz`` is what a trainer resumes from after a crash (``fit(..., resume_from=...)``); it
loses at most the epoch in progress. ``best.npz`` holds the run as it was at its best epoch by
the watched value, for the report and for deployment. Both are full checkpoints (see
``forge_learner.checkpoint``), written atomically.

It runs after the other built-in callbacks (``order`` 40), so the checkpoint it writes already
holds this epoch in the history, the early-stopping counter and the stepped LR schedule.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from forge_learner.callbacks.base import Callback
from forge_learner.callbacks.monitor import Monitor
from forge_learner.checkpoint import save_checkpoint
from forge_learner.events import Logs


class ModelCheckpoint(Callback):
    """Save ``directory/last.npz`` every epoch and ``directory/best.npz`` on improvement."""

    order = 40

    def __init__(
        self,
        directory: str | Path,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best: bool = True,
        save_last: bool = True,
    ) -> None:
        if not (save_best or save_last):
            raise ValueError(
                "ModelCheckpoint with save_best=False and save_last=False saves nothing"
            )
        self.directory = Path(directory)
        self.monitor = Monitor(monitor, mode)
        self.save_best = save_best
        self.save_last = save_last
        self.best: float | None = None
        self.best_epoch: int | None = None

    @property
    def last_path(self) -> Path:
        return self.directory / "last.npz"

    @property
    def best_path(self) -> Path:
        return self.directory / "best.npz"

    def on_train_begin(self, logs: Logs) -> None:
        if self.save_best:
            self.monitor.check(
                "ModelCheckpoint (pass save_best=False to keep only the last checkpoint)",
                self.learner.val_loader is not None,
            )
        self.directory.mkdir(parents=True, exist_ok=True)
        self.best = None
        self.best_epoch = None

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        improved = False
        if self.save_best:
            value = self.monitor.value("ModelCheckpoint", logs)
            if value is not None and self.monitor.improved(value, self.best):
                self.best, self.best_epoch, improved = value, epoch, True
        if not (improved or self.save_last):
            return
        checkpoint = self.learner.checkpoint()
        if improved:
            save_checkpoint(checkpoint, self.best_path)
        if self.save_last:
            save_checkpoint(checkpoint, self.last_path)

    def state_dict(self) -> dict[str, Any]:
        return {"monitor": self.monitor.name, "best": self.best, "best_epoch": self.best_epoch}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.best = state["best"]
        self.best_epoch = state["best_epoch"]
