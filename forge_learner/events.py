"""The learner's events, what they carry, and the exceptions that cancel a stage.

Training runs in three nested stages: the whole fit (``train``), one ``epoch``, one ``batch``.
Every stage fires ``on_<stage>_begin`` before it runs and ``on_<stage>_end`` after it, and
``on_<stage>_cancel`` just before ``on_<stage>_end`` when a callback (or ``Learner.stop()``)
cancelled it by raising that stage's exception. This is fastai's one mechanism for stopping,
with Keras's event names (``on_epoch_end(epoch, logs)``) because those are what users know.

Every event carries plain data only (``Logs``: str keys; float, int or str values), so a callback
can pickle an event and send it to another process as it is.
"""

from __future__ import annotations

from typing import TypeAlias

Logs: TypeAlias = dict[str, float | int | str]
"""What an event carries: metric values by Keras's names (``loss``, ``val_loss``, ...)."""

STAGES = ("train", "epoch", "batch")
"""The stages from outermost to innermost."""

EVENTS = tuple(f"on_{stage}_{moment}" for stage in STAGES for moment in ("begin", "cancel", "end"))
"""Every event name; ``Callback`` has one method per name."""


class Cancel(Exception):
    """Raised by a callback to cancel a stage; ``reason`` travels in the cancel event's logs.

    A signal, not an error: the stage that owns it catches it, fires its cancel and end events,
    and training goes on around it (or, for ``CancelFit``, ``fit`` returns normally).
    """

    stage: str = ""

    def __init__(self, reason: str = "cancelled") -> None:
        super().__init__(reason)
        self.reason = reason


class CancelFit(Cancel):
    """End the whole fit now: ``on_train_cancel`` then ``on_train_end`` fire."""

    stage = "train"


class CancelEpoch(Cancel):
    """Skip the rest of this epoch (and its validation); the next epoch starts."""

    stage = "epoch"


class CancelBatch(Cancel):
    """Skip the rest of this batch (e.g. its optimizer step); the next batch starts."""

    stage = "batch"
