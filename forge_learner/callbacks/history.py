"""``History``: every epoch's logs, as Keras's ``model.fit(...).history`` keeps them.

Every learner has one (``learner.history``; ``fit`` returns it). Its lists stay aligned with
``epoch``: a value an epoch did not log (a cancelled epoch's validation) is NaN, so plotting
``history.history["val_loss"]`` against ``history.epoch`` is always right. A checkpoint carries
it, so a resumed run's history goes on from the interrupted one's.
"""

from __future__ import annotations

import math
from typing import Any

from forge_learner.callbacks.base import Callback
from forge_learner.events import Logs


class History(Callback):
    """``epoch``: the epochs done (0-based); ``history[key]``: one value per epoch."""

    order = 30

    def __init__(self) -> None:
        self.epoch: list[int] = []
        self.history: dict[str, list[float | int | str]] = {}

    def on_train_begin(self, logs: Logs) -> None:
        self.epoch = []
        self.history = {}

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        done = len(self.epoch)
        self.epoch.append(epoch)
        for key, value in logs.items():
            self.history.setdefault(key, [math.nan] * done).append(value)
        for values in self.history.values():
            if len(values) == done:
                values.append(math.nan)

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": list(self.epoch), "history": {k: list(v) for k, v in self.history.items()}}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.epoch = list(state["epoch"])
        self.history = {k: list(v) for k, v in state["history"].items()}
