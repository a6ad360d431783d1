"""Following an experiment in the terminal, from the events `WatchExperiment` streams.

It looks like `forge run`'s progress on purpose: on a terminal a bar is redrawn in place as
batches finish, and each epoch ends with one line of its time and metrics; anywhere else (a
pipe, CI, a log file) only the finished lines are written, since redrawing would fill them with
fragments. The pipeline's warnings and errors are shown as they come, its info lines only when
asked (`verbose`). `ExperimentFinished` is printed as the final status and the model's test
metrics beside its baselines as soon as it comes; the run's files may follow it (its
`files_follow`), and the stream ends at the log's last event, `FilesStored`, which is printed
only when some files could not be stored.

A run that was lost and placed again (`ExperimentResumed`) gets a line saying where it goes on,
from which epoch and why; the epochs it trains again are printed again as they come, and the
printer keeps one point per epoch (`forge_cli.epochs`). When a run was resumed its epochs are
printed once more at the end, one row each, since the log above shows some of them twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TextIO

from azuraforge.statuses import status_name
from azuraforge.v1 import events_pb2, experiment_pb2, scheduler_pb2
from forge_cli.epochs import CURVE_KINDS, epoch_table, one_per_epoch
from forge_cli.render import metrics_table
from forge_learner.callbacks.progress import (
    TerminalLine,
    format_duration,
    format_logs,
    progress_bar,
)

BAR_WIDTH = 24
# A pipeline's own log lines at these levels are shown only with --verbose: they describe the
# run from the trainer's side (its folders, its config dump), which the events already say.
QUIET_LEVELS = frozenset({"DEBUG", "INFO"})


def seconds(value: float) -> str:
    """`0.8 s` below a minute, `m:ss` from there on."""
    return f"{value:.1f} s" if value < 60 else format_duration(value)


def resumed_line(resumed: events_pb2.ExperimentResumed, max_restarts: int | None = None) -> str:
    """`Resumed on trainer-2 from the checkpoint of epoch 3 (attempt 2 of 4): trainer ... lost`.

    `max_restarts` is the experiment's, for the number of attempts it may have in all.
    """
    trainer = resumed.trainer_id or "a trainer"
    if resumed.from_epoch:
        where = f"Resumed on {trainer} from the checkpoint of epoch {resumed.from_epoch}"
    else:
        where = f"Restarted on {trainer} from scratch, with no checkpoint yet"
    attempt = f"attempt {resumed.attempt}"
    if max_restarts is not None and resumed.attempt <= max_restarts + 1:
        attempt += f" of {max_restarts + 1}"
    reason = resumed.reason
    if not reason and resumed.previous_trainer_id:
        reason = f"the run on {resumed.previous_trainer_id} ended"
    return f"{where} ({attempt})" + (f": {reason}" if reason else "")


class EventPrinter:
    """Writes one experiment's events to `out`; `finished` is its last event once seen."""

    def __init__(
        self,
        out: TextIO,
        *,
        tty: bool | None = None,
        verbose: bool = False,
        max_restarts: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.verbose = verbose
        self.max_restarts = max_restarts
        self.clock = clock
        self.finished: events_pb2.ExperimentFinished | None = None
        self.artifacts: list[str] = []
        self.resumes = 0
        self._curve: list[events_pb2.ExperimentEvent] = []
        self._total_epochs = 0
        self._fit_elapsed = 0.0
        self._epoch_started = clock()
        self._line = TerminalLine(out)

    def follow(self, responses: Iterable[scheduler_pb2.WatchExperimentResponse]) -> None:
        """Print every event of the stream until it ends."""
        for response in responses:
            self.show(response.event)

    @property
    def epochs(self) -> list[events_pb2.EpochEnded]:
        """The epochs seen so far, one per epoch, each its latest (see `forge_cli.epochs`)."""
        return one_per_epoch(self._curve)

    def show(self, event: events_pb2.ExperimentEvent) -> None:
        kind = event.WhichOneof("kind")
        if kind in CURVE_KINDS:
            self._curve.append(event)
        if kind == "experiment_started":
            self._started(event.experiment_started)
        elif kind == "batch_progress":
            self._batch(event.batch_progress)
        elif kind == "epoch_ended":
            self._epoch(event.epoch_ended)
        elif kind == "log_line":
            line = event.log_line
            if self.verbose or line.level.upper() not in QUIET_LEVELS:
                self._write(f"{line.level.lower()}: {line.message}")
        elif kind == "artifact_stored":
            self.artifacts.append(event.artifact_stored.artifact.name)
        elif kind == "experiment_resumed":
            self._resumed(event.experiment_resumed)
        elif kind == "experiment_finished":
            self._finished(event.experiment_finished)
        elif kind == "files_stored" and event.files_stored.error_message:
            self._write(f"warning: {event.files_stored.error_message}")

    def _started(self, started: events_pb2.ExperimentStarted) -> None:
        self._total_epochs = started.total_epochs
        # Each run counts its epochs' `elapsed_seconds` from its own start.
        self._fit_elapsed = 0.0
        self._epoch_started = self.clock()
        resumed = (
            f", resuming at epoch {started.initial_epoch + 1}" if started.initial_epoch else ""
        )
        self._write(
            f"Running {started.pipeline} on {started.trainer_id or 'a trainer'}: "
            f"{started.total_epochs} epochs of {started.steps_per_epoch} batches{resumed}"
        )

    def _batch(self, progress: events_pb2.BatchProgress) -> None:
        if not self.tty:
            return
        if progress.batch <= 1:
            self._epoch_started = self.clock()
        total = progress.total_batches
        bar = progress_bar(progress.batch, total, BAR_WIDTH)
        elapsed = seconds(self.clock() - self._epoch_started)
        position = f"Epoch {progress.epoch}/{self._total_epochs} {progress.batch}/{total}"
        self._line.draw(f"{position} {bar} {elapsed} - loss: {progress.loss:.4g}")

    def _epoch(self, ended: events_pb2.EpochEnded) -> None:
        total = ended.total_epochs or self._total_epochs
        # The event counts time from the start of the fit; an epoch's own time reads better.
        took = max(0.0, ended.elapsed_seconds - self._fit_elapsed)
        self._fit_elapsed = ended.elapsed_seconds
        line = f"Epoch {ended.epoch}/{total} - {seconds(took)}"
        if ended.metrics:
            line += f" - {format_logs(dict(sorted(ended.metrics.items())))}"
        self._write(line)
        self._epoch_started = self.clock()

    def _resumed(self, resumed: events_pb2.ExperimentResumed) -> None:
        self.resumes += 1
        self._fit_elapsed = 0.0
        self._write(resumed_line(resumed, self.max_restarts))

    def _finished(self, finished: events_pb2.ExperimentFinished) -> None:
        self.finished = finished
        if self.resumes:
            table = epoch_table(self.epochs)
            if table:
                self._write("Epochs, the latest run of each:")
                for row in table:
                    self._write(f"  {row}")
        status = status_name(finished.status)
        reason = f": {finished.error_message}" if finished.error_message else ""
        self._write(f"Experiment {status}{reason}")
        table = metrics_table(finished.metrics, finished.baselines, finished.references)
        if table:
            self._write("")
            for row in table:
                self._write(f"  {row}")

    @property
    def succeeded(self) -> bool:
        return (
            self.finished is not None
            and self.finished.status == experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
        )

    def close(self) -> None:
        """End a bar left half drawn, so that what is printed next starts on its own line."""
        self._line.close()

    def _write(self, line: str) -> None:
        self._line.write(line)
