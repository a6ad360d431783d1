"""`forge run PIPELINE`: train one pipeline on this machine, with no service running.

Settings come as `--set KEY=VALUE` (checked against the pipeline's schema before anything
runs; `forge pipelines PIPELINE` lists them). Progress goes to stderr; stdout gets where the
run folder and its report are, and the model's test metrics beside the baselines. Ctrl-C
stops training at the next batch and still writes the report, marked cancelled; a second
Ctrl-C aborts at once.

Exit status: 0 when the run completed, 1 when it was cancelled, 130 after Ctrl-C, 2 for an
unknown pipeline or a bad setting.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from forge_cli.columns import align
from forge_learner import Callback, ProgressBar
from forge_learner.artifacts import new_run_dir
from forge_learner.config import ConfigError, parse_assignments, parse_config_strings
from forge_learner.events import Logs
from forge_learner.pipeline import RunResult
from forge_learner.registry import UnknownPipelineError, get_pipeline
from forge_learner.report import format_number
from forge_learner.sources import DataRequestError, DataUnavailable

INTERRUPTED = "interrupted (Ctrl-C)"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "run",
        help="run a pipeline here and write its report",
        description=(
            "Train, evaluate and report one pipeline locally. The run folder (default "
            "$FORGE_DATA_DIR/runs/PIPELINE-YYYYmmdd-HHMMSS, with FORGE_DATA_DIR defaulting to "
            "./var) receives report.md, its plots, metrics.json, model.npz and checkpoints."
        ),
    )
    parser.add_argument("pipeline", help="the pipeline's name (see `forge pipelines`)")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set one config value, e.g. --set epochs=5 (repeatable)",
    )
    parser.add_argument("--out", type=Path, help="the run folder to write into")
    parser.add_argument(
        "-v", "--verbose", action="store_true", help="log the run's steps to stderr"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    try:
        pipeline = get_pipeline(args.pipeline)
    except UnknownPipelineError as error:
        print(f"forge run: {error}", file=sys.stderr)
        return 2
    try:
        config = parse_config_strings(pipeline.Config, parse_assignments(args.settings))
    except ConfigError as error:
        print(f"forge run: invalid settings for {args.pipeline}:", file=sys.stderr)
        for field_error in error.errors:
            print(f"  {field_error.message}", file=sys.stderr)
        print(f"`forge pipelines {args.pipeline}` lists its settings.", file=sys.stderr)
        return 2
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        print(f"forge run: --out {args.out} is a file; name a folder", file=sys.stderr)
        return 2

    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="forge: %(levelname)s: %(message)s",
    )
    run_dir = args.out if args.out is not None else new_run_dir(args.pipeline)
    try:
        result = pipeline().run(
            config, callbacks=[ProgressBar(), StopOnInterrupt()], run_dir=run_dir
        )
    except (DataRequestError, DataUnavailable) as error:
        print(f"forge run: {error}", file=sys.stderr)
        return 2
    print(summary(result))
    if result.status == "completed":
        return 0
    return 130 if result.stop_reason == INTERRUPTED else 1


def summary(result: RunResult) -> str:
    """Where the run wrote, and the metrics table with each baseline and reference model
    beside the model."""
    lines = [
        f"Run {result.status} in {result.duration_s:.1f} s: {result.run_dir}",
        f"Report: {result.report_path}",
    ]
    evaluation = result.evaluation
    if evaluation.metrics:
        names = list(evaluation.metrics)
        references = {f"{name} (reference)": s for name, s in evaluation.references.items()}
        for scores in [*evaluation.baselines.values(), *references.values()]:
            names += [name for name in scores if name not in names]
        columns = {"model": evaluation.metrics, **evaluation.baselines, **references}
        rows = [[f"{evaluation.split} metric", *columns]]
        for name in names:
            values = (scores.get(name) for scores in columns.values())
            rows.append([name, *("-" if v is None else format_number(v) for v in values)])
        lines += ["", *align(rows)]
    return "\n".join(lines)


class StopOnInterrupt(Callback):
    """Turns the first Ctrl-C during training into ``learner.stop()``, so the report is written.

    The handler is installed for the fit only, and only in the main thread (the only one
    Python delivers signals to); a second Ctrl-C raises ``KeyboardInterrupt`` as usual.
    """

    def __init__(self) -> None:
        self._previous: Any = None
        self._installed = False

    def on_train_begin(self, logs: Logs) -> None:
        try:
            self._previous = signal.signal(signal.SIGINT, self._interrupt)
        except ValueError:  # not the main thread: leave Ctrl-C alone
            return
        self._installed = True

    def on_train_end(self, logs: Logs) -> None:
        if self._installed:
            previous = self._previous if self._previous is not None else signal.default_int_handler
            signal.signal(signal.SIGINT, previous)
            self._installed = False

    def _interrupt(self, signum: int, frame: FrameType | None) -> None:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        self.learner.stop(INTERRUPTED)
