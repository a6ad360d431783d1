"""A sweep's trials as a table, kept up to date from the events `WatchSweep` streams.

`SweepBoard` folds the events into the state of each trial (status, epochs, objective, the
last rung it reached and what ASHA decided there) and prints it. On a terminal the table is
redrawn in place after each event, so it reads as a live view; anywhere else (a pipe, CI, a log
file) each ASHA decision and each trial that ends is one line, and the table is printed once,
at the end, since redrawing would fill a log with copies.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TextIO

from google.protobuf import json_format

from azuraforge.statuses import status_name
from azuraforge.v1 import experiment_pb2, sweep_pb2
from forge_cli.columns import align

TERMINAL = frozenset(
    {
        experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED,
        experiment_pb2.EXPERIMENT_STATUS_FAILED,
        experiment_pb2.EXPERIMENT_STATUS_CANCELLED,
        experiment_pb2.EXPERIMENT_STATUS_STOPPED_EARLY,
    }
)


def sweep_status_name(status: sweep_pb2.SweepStatus) -> str:
    """`SUCCEEDED` for SWEEP_STATUS_SUCCEEDED."""
    return sweep_pb2.SweepStatus.Name(status).removeprefix("SWEEP_STATUS_")


def settings_text(trial: sweep_pb2.SweepTrial) -> str:
    """`hidden_size=16 learning_rate=0.0031`, by name (a Struct keeps no order)."""
    values = json_format.MessageToDict(trial.settings)
    return " ".join(f"{key}={_number(values[key])}" for key in sorted(values))


def _number(value: object) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else f"{value:.4g}"
    return str(value)


def rung_text(trial: sweep_pb2.SweepTrial) -> str:
    """The last rung reached and its verdict (`1 kept`, `0 stopped`), or `-`."""
    if not trial.rungs:
        return "-"
    last = trial.rungs[-1]
    return f"{last.rung} {'kept' if last.promoted else 'stopped'}"


def trials_table(
    trials: Iterable[sweep_pb2.SweepTrial], metric: str, epochs: int, best: int = 0
) -> list[str]:
    """The trials as aligned lines, the best one marked with `*`."""
    rows = [["#", "STATUS", "EPOCH", metric.upper() or "OBJECTIVE", "RUNG", "SETTINGS"]]
    for trial in trials:
        objective = f"{trial.objective:.4g}" if trial.HasField("objective") else "-"
        rows.append(
            [
                f"{trial.number}{'*' if trial.number == best else ''}",
                status_name(trial.status),
                f"{trial.epochs_done}/{epochs or '?'}",
                objective,
                rung_text(trial),
                settings_text(trial),
            ]
        )
    return align(rows)


class SweepBoard:
    """One sweep's trials, from its events; `finished` is its last event once seen."""

    def __init__(self, sweep: sweep_pb2.Sweep, out: TextIO, *, tty: bool | None = None) -> None:
        self.out = out
        self.tty = out.isatty() if tty is None else tty
        self.metric = sweep.spec.objective.metric
        self.epochs = int(json_format.MessageToDict(sweep.spec.config).get("epochs", 0))
        self.trials: dict[int, sweep_pb2.SweepTrial] = {t.number: t for t in sweep.trials}
        self.best = sweep.best_trial.number if sweep.HasField("best_trial") else 0
        self.finished: sweep_pb2.SweepFinished | None = None
        self._drawn = 0

    def follow(self, responses: Iterable[sweep_pb2.WatchSweepResponse]) -> None:
        """Show every event of the stream until it ends."""
        for response in responses:
            self.show(response.event)
            if self.finished is not None:
                return

    def show(self, event: sweep_pb2.SweepEvent) -> None:
        kind = event.WhichOneof("kind")
        if kind == "trial_changed":
            trial = event.trial_changed.trial
            before = self.trials.get(trial.number)
            self.trials[trial.number] = trial
            if (
                not self.tty
                and trial.status in TERMINAL
                and (before is None or before.status != trial.status)
            ):
                self._line(f"trial #{trial.number} {status_name(trial.status).lower()}")
        elif kind == "decision":
            decision = event.decision
            self._line(f"trial #{decision.trial}: {decision.reason}")
        elif kind == "finished":
            self.finished = event.finished
            if event.finished.HasField("best_trial"):
                self.best = event.finished.best_trial.number
        if self.tty or self.finished is not None:
            self._draw()

    def table(self) -> list[str]:
        return trials_table(
            (self.trials[number] for number in sorted(self.trials)),
            self.metric,
            self.epochs,
            self.best,
        )

    def _line(self, text: str) -> None:
        if self.tty:
            self._erase()
        print(text, file=self.out)

    def _erase(self) -> None:
        if self._drawn:
            # Up to the table's first line, then clear to the end of the screen.
            self.out.write(f"\x1b[{self._drawn}F\x1b[J")
            self._drawn = 0

    def _draw(self) -> None:
        lines = self.table()
        if self.tty:
            self._erase()
        self.out.write("\n".join(lines) + "\n")
        self.out.flush()
        self._drawn = len(lines) if self.tty and self.finished is None else 0
