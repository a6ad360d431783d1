"""`forge sweep PIPELINE --space KEY=SPEC … --trials N --parallel K --objective METRIC:MODE`.

Searches PIPELINE's settings on the cluster: each trial is an experiment with the `--set`
values and one draw from the space, `--parallel` of them at once. A SPEC is KIND:VALUES:

    --space learning_rate=loguniform:0.0005,0.05   a number, uniform in its logarithm
    --space dropout=uniform:0,0.5                  a number between the two
    --space layers=int:1,4                         a whole number, both ends included
    --space hidden_size=choice:4,16,32             one of the values

Values read as JSON where they can (`4` a number, `true` a boolean), else as text. The search
is random (`--seed S` draws the same trials again) unless `--grid` asks for every point of a
space of choices and ints. `--asha` stops the trials that fall behind at each rung: the first
at `--grace` epochs, each later one `--eta` times further, keeping the top 1/eta there. The
scheduler checks the space against the pipeline's schema and names a bad setting
(`space.learning_rate`).

`--watch` shows the trials as a live table (status, epoch, objective, rung) and ASHA's
decisions as they happen; Ctrl-C then stops the watching, not the sweep.

`forge sweeps` lists sweeps, `forge sweeps show ID` shows one, `forge sweeps cancel ID` cancels
one (`forge_cli.sweeps`).

Exit status: 0 when submitted (with `--watch`: when it succeeded), 1 when a watched sweep
failed or was cancelled, 2 for a bad flag or space, 3 when not logged in, 5 when the scheduler
cannot be reached, 130 after Ctrl-C (see `forge_cli.client`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import grpc
from google.protobuf import struct_pb2

from azuraforge.v1 import sweep_pb2
from forge_cli.client import (
    CALL_TIMEOUT_S,
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    CommandError,
    Connection,
    add_scheduler_flag,
    connect,
    rpc_error,
    run_command,
    scheduler_address,
)
from forge_cli.submit import config_for
from forge_cli.sweep_table import SweepBoard, sweep_status_name

KINDS = ("choice", "uniform", "loguniform", "int")
# Checking every trial's config against the schema takes a while for a large sweep.
SUBMIT_TIMEOUT_S = 4 * CALL_TIMEOUT_S


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="search a pipeline's settings on the cluster, with ASHA early stopping",
        description=(
            "Run trials of PIPELINE with settings drawn from a space, --parallel at a time. "
            "SPEC is KIND:VALUES, e.g. loguniform:0.0005,0.05, uniform:0,0.5, int:1,4 or "
            "choice:4,16,32."
        ),
    )
    add_scheduler_flag(parser)
    parser.add_argument("pipeline", help="the pipeline's name (see `forge pipelines`)")
    parser.add_argument(
        "--space",
        action="append",
        default=[],
        metavar="KEY=SPEC",
        help="a setting to vary and its range or values (repeatable)",
    )
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="a setting every trial shares, e.g. --set epochs=9 (repeatable)",
    )
    parser.add_argument("--trials", type=int, default=0, metavar="N", help="how many trials")
    parser.add_argument(
        "--parallel", type=int, default=1, metavar="K", help="trials at once (default 1)"
    )
    parser.add_argument(
        "--objective",
        required=True,
        metavar="METRIC:MODE",
        help="what to optimise: a metric of each epoch and min or max, e.g. val_loss:min",
    )
    parser.add_argument(
        "--grid", action="store_true", help="every point of the space (choices and ints)"
    )
    parser.add_argument("--seed", type=int, default=0, help="random search's seed (default 0)")
    parser.add_argument("--asha", action="store_true", help="stop trials that fall behind")
    parser.add_argument(
        "--grace", type=int, default=1, metavar="EPOCHS", help="ASHA's first rung (default 1)"
    )
    parser.add_argument(
        "--eta", type=int, default=3, help="ASHA keeps the top 1/eta at each rung (default 3)"
    )
    parser.add_argument("--name", default="", help="what to call the sweep and its trials")
    parser.add_argument("--watch", "-w", action="store_true", help="show the trials live")
    parser.set_defaults(run=lambda args: run_command("sweep", sweep, args))


def parse_space(items: list[str]) -> dict[str, Any]:
    """`--space KEY=KIND:VALUES` flags as the space's JSON; `CommandError` naming a bad one."""
    if not items:
        raise CommandError(
            "name at least one setting to vary, e.g. --space learning_rate=loguniform:0.0005,0.05",
            EXIT_USAGE,
        )
    space: dict[str, Any] = {}
    for item in items:
        key, _, spec = item.partition("=")
        kind, _, values = spec.partition(":")
        key, kind = key.strip(), kind.strip().lower()
        if not key or kind not in KINDS or not values.strip():
            raise CommandError(
                f"--space {item!r}: write KEY=KIND:VALUES with KIND one of {', '.join(KINDS)}, "
                "e.g. learning_rate=loguniform:0.0005,0.05 or hidden_size=choice:4,16,32",
                EXIT_USAGE,
            )
        parsed = [_value(part) for part in values.split(",")]
        if kind != "choice" and len(parsed) != 2:
            raise CommandError(
                f"--space {item!r}: {kind} takes two values, LO,HI; got {len(parsed)}",
                EXIT_USAGE,
            )
        space[key] = {kind: parsed}
    return space


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text.strip()


def parse_objective(text: str) -> sweep_pb2.Objective:
    metric, _, mode = text.rpartition(":")
    if not metric:
        metric, mode = text, "min"
    if not metric.strip() or mode.strip().lower() not in ("min", "max"):
        raise CommandError(
            f"--objective {text!r}: write METRIC:MODE with MODE min or max, e.g. val_loss:min",
            EXIT_USAGE,
        )
    return sweep_pb2.Objective(metric=metric.strip(), mode=mode.strip().lower())


def sweep_spec(args: argparse.Namespace) -> sweep_pb2.SweepSpec:
    """The flags as the `SweepSpec` to send; `CommandError` for a bad one."""
    for flag, value, low in (("--trials", args.trials, 0), ("--parallel", args.parallel, 1)):
        if value < low:
            raise CommandError(f"{flag} {value}: give {low} or more", EXIT_USAGE)
    if not args.grid and args.trials == 0:
        raise CommandError("--trials N: how many trials to draw (or --grid for all)", EXIT_USAGE)
    config, _ = config_for(args.pipeline, args.settings)
    space = struct_pb2.Struct()
    space.update(parse_space(args.space))
    spec = sweep_pb2.SweepSpec(
        pipeline=args.pipeline,
        config=config,
        space=space,
        search="grid" if args.grid else "random",
        seed=args.seed,
        max_trials=args.trials,
        parallelism=args.parallel,
        objective=parse_objective(args.objective),
        name=args.name,
    )
    if args.asha:
        spec.early_stopping.asha.grace_epochs = args.grace
        spec.early_stopping.asha.reduction_factor = args.eta
    return spec


def sweep(args: argparse.Namespace) -> int:
    if args.seed < 0:
        raise CommandError(f"--seed {args.seed}: give 0 or more", EXIT_USAGE)
    address = scheduler_address(args.scheduler)
    spec = sweep_spec(args)
    with connect(address) as connection:
        answer: sweep_pb2.SubmitSweepResponse = connection.call(
            connection.sweeps.SubmitSweep,
            sweep_pb2.SubmitSweepRequest(spec=spec),
            timeout=SUBMIT_TIMEOUT_S,
        )
        submitted = answer.sweep
        spec = submitted.spec
        print(
            f"Submitted sweep {submitted.sweep_id} {spec.name!r} "
            f"({spec.pipeline}, {spec.max_trials} trials, {spec.parallelism} at once)"
        )
        if not args.watch:
            print(f"Follow it with `forge sweeps show {submitted.sweep_id}`.")
            return 0
        return watch(connection, submitted)


def watch(connection: Connection, submitted: sweep_pb2.Sweep) -> int:
    """Show the sweep's trials live until it ends: 0 when it succeeded, else 1; 130 on Ctrl-C."""
    board = SweepBoard(submitted, sys.stdout)
    stream = connection.sweeps.WatchSweep(
        sweep_pb2.WatchSweepRequest(sweep_id=submitted.sweep_id), metadata=connection.metadata
    )
    try:
        board.follow(stream)
    except KeyboardInterrupt:
        stream.cancel()
        identifier = submitted.sweep_id
        print(
            f"Stopped watching; sweep {identifier} goes on.\n"
            f"  forge sweeps show {identifier}     where it is\n"
            f"  forge sweeps cancel {identifier}   to cancel it",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except grpc.RpcError as error:
        raise rpc_error(error, connection.address) from None
    finished = board.finished
    if finished is None:
        raise CommandError("the scheduler ended the watch before the sweep finished")
    reason = f": {finished.error_message}" if finished.error_message else ""
    print(f"Sweep {sweep_status_name(finished.status)}{reason}")
    if finished.HasField("best_trial"):
        best = finished.best_trial
        print(
            f"Best: trial #{best.number} ({best.experiment_id}), "
            f"{submitted.spec.objective.metric} {best.objective:.6g}"
        )
    return 0 if finished.status == sweep_pb2.SWEEP_STATUS_SUCCEEDED else EXIT_FAILED
