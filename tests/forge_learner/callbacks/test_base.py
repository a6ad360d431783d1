"""The Callback base class: one method per event, one dispatch point, a clear unattached error."""

from __future__ import annotations

from typing import Any

import pytest

from forge_learner import EVENTS, Callback


def test_every_event_is_a_method_that_does_nothing() -> None:
    callback = Callback()
    for event in EVENTS:
        args: tuple[Any, ...] = ({},) if event.startswith("on_train") else (0, {})
        callback(event, *args)
    assert len(EVENTS) == 9


def test_call_dispatches_to_the_named_method() -> None:
    class Epochs(Callback):
        def __init__(self) -> None:
            self.ended: list[int] = []

        def on_epoch_end(self, epoch: int, logs: dict[str, Any]) -> None:
            self.ended.append(epoch)

    callback = Epochs()
    callback("on_epoch_end", 3, {})
    assert callback.ended == [3]


def test_the_learner_of_an_unattached_callback_is_a_clear_error() -> None:
    with pytest.raises(RuntimeError, match="not attached to a Learner"):
        _ = Callback().learner
