"""``ProgressBar``: training progress in a terminal, with no dependency beyond the standard library.

On a terminal it redraws one line per epoch in place (``\\r``) as batches finish: the epoch,
batch n/N, a bar, the elapsed time and an estimate of the time left, and the epoch's running
loss; at the end of the epoch the line is completed with every logged value. When the stream is
not a terminal (a log file, CI, a pipe) redrawing would fill it with fragments, so it writes one
finished line per epoch instead. Epochs are printed 1-based, as people count them.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from forge_learner.callbacks.base import Callback
from forge_learner.events import Logs


def format_duration(seconds: float) -> str:
    """``m:ss``, or ``h:mm:ss`` from an hour on."""
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def format_logs(logs: Logs) -> str:
    return " - ".join(
        f"{key}: {value:.4g}" if isinstance(value, float) else f"{key}: {value}"
        for key, value in logs.items()
    )


def progress_bar(done: int, total: int, width: int) -> str:
    """``[=====>......]``: `done` of `total`, `width` characters between the brackets."""
    fraction = min(1.0, done / total) if total else 1.0
    filled = int(fraction * width)
    return "[" + "=" * filled + (">" if filled < width else "") + "." * (width - filled - 1) + "]"


class TerminalLine:
    """A line redrawn in place (``\\r``) until it is finished; finished lines as they come.

    ``draw`` belongs on a terminal only: elsewhere the fragments would pile up in the log.
    """

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.open = False

    def draw(self, text: str) -> None:
        """Show `text` in place of the line being drawn."""
        self.out.write(f"\r{text}\x1b[K")
        self.out.flush()
        self.open = True

    def write(self, text: str) -> None:
        """Print `text` as a finished line, over the one being drawn if there is one."""
        self.out.write(f"\r{text}\x1b[K\n" if self.open else f"{text}\n")
        self.out.flush()
        self.open = False

    def close(self) -> None:
        """End a line left half drawn, so that what is printed next starts on its own."""
        if self.open:
            self.out.write("\n")
            self.out.flush()
            self.open = False


class ProgressBar(Callback):
    """Writes progress to ``stream`` (``sys.stderr`` by default, looked up when training starts).

    ``refresh`` is the least time in seconds between two redraws on a terminal, so that a fast
    epoch of thousands of batches does not spend its time printing.
    """

    order = 50

    def __init__(
        self,
        stream: TextIO | None = None,
        width: int = 24,
        refresh: float = 0.1,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.width = width
        self.refresh = refresh
        self.clock = clock
        self._line = TerminalLine(sys.stderr)
        self._tty = False
        self._epochs = 0
        self._steps = 0
        self._done = 0
        self._started = 0.0
        self._drawn_at = -float("inf")

    def on_train_begin(self, logs: Logs) -> None:
        out = self.stream if self.stream is not None else sys.stderr
        self._line = TerminalLine(out)
        self._tty = out.isatty()
        self._epochs = int(logs["epochs"])
        self._steps = int(logs["steps"])

    def on_epoch_begin(self, epoch: int, logs: Logs) -> None:
        self._done = 0
        self._started = self.clock()
        self._drawn_at = -float("inf")

    def on_batch_end(self, batch: int, logs: Logs) -> None:
        self._done = batch + 1
        if not self._tty:
            return
        now = self.clock()
        if now - self._drawn_at >= self.refresh or self._done == self._steps:
            self._drawn_at = now
            loss = logs.get("loss")
            tail = "" if loss is None else f" - loss: {float(loss):.4g}"
            self._line.draw(f"{self._position()} {self._bar(now)}{tail}")

    def on_epoch_end(self, epoch: int, logs: Logs) -> None:
        elapsed = format_duration(self.clock() - self._started)
        line = f"{self._position()} - {elapsed}"
        if logs:
            line += f" - {format_logs(logs)}"
        self._line.write(line)

    def on_train_cancel(self, logs: Logs) -> None:
        self._line.close()
        self._line.write(f"Stopped: {logs['reason']}")

    def _position(self) -> str:
        return f"Epoch {self.learner.epoch + 1}/{self._epochs} {self._done}/{self._steps}"

    def _bar(self, now: float) -> str:
        elapsed = now - self._started
        left = elapsed / self._done * (self._steps - self._done) if self._done else 0.0
        bar = progress_bar(self._done, self._steps, self.width)
        return f"{bar} {format_duration(elapsed)}<{format_duration(left)}"
