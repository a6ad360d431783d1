"""ProgressBar: redraws in place on a terminal, one line per epoch elsewhere."""

from __future__ import annotations

import io
import itertools

import pytest

from forge_core import nn
from forge_learner import Callback, CancelFit, Learner, ProgressBar
from forge_learner.callbacks.progress import format_duration
from tests.forge_learner.toys import Raise, make_parts, regression_loader


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def fit(bar: ProgressBar, epochs: int = 2, callbacks: tuple[Callback, ...] = ()) -> None:
    model, optimizer = make_parts()
    learner = Learner(model, nn.MSELoss(), optimizer, callbacks=[bar, *callbacks])
    learner.fit(regression_loader(n=24, batch_size=8), epochs=epochs, val=regression_loader(n=8))


def ticking_clock() -> itertools.count[float]:
    return itertools.count(0.0, 1.5)


def test_a_log_gets_one_finished_line_per_epoch() -> None:
    stream = io.StringIO()
    clock = ticking_clock()

    fit(ProgressBar(stream, clock=lambda: next(clock)))

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].startswith("Epoch 1/2 3/3 - 0:01 - loss: ")
    assert lines[1].startswith("Epoch 2/2 3/3 - ")
    assert " - val_loss: " in lines[1]
    assert "\r" not in stream.getvalue()


def test_a_terminal_sees_the_bar_redrawn_in_place() -> None:
    stream = Terminal()
    clock = ticking_clock()

    fit(ProgressBar(stream, width=6, clock=lambda: next(clock)), epochs=1)

    output = stream.getvalue()
    draws = output.split("\r")[1:]
    assert draws[0].startswith("Epoch 1/1 1/3 [==>...] 0:01<0:03 - loss: ")
    assert draws[2].startswith("Epoch 1/1 3/3 [======] ")
    assert draws[-1].startswith("Epoch 1/1 3/3 - ") and "val_loss" in draws[-1]
    assert output.endswith("\n") and output.count("\n") == 1


def test_redraws_are_throttled() -> None:
    stream = Terminal()

    fit(ProgressBar(stream, clock=lambda: 0.0), epochs=1)

    assert [d.split(" [")[0] for d in stream.getvalue().split("\r")[1:3]] == [
        "Epoch 1/1 1/3",
        "Epoch 1/1 3/3",
    ]


def test_a_stop_is_reported_on_its_own_line() -> None:
    stream = Terminal()

    fit(ProgressBar(stream), callbacks=(Raise("on_batch_end", CancelFit("user"), at=1),))

    assert stream.getvalue().endswith("\nStopped: user\n")


def test_stderr_is_the_default() -> None:
    stream = io.StringIO()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stderr", stream)
        fit(ProgressBar(), epochs=1)
    assert stream.getvalue().startswith("Epoch 1/1 3/3")


@pytest.mark.parametrize(("seconds", "text"), [(5.9, "0:05"), (75, "1:15"), (3725, "1:02:05")])
def test_durations(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
