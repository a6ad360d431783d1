"""`forge sweeps`: list your sweeps, and show or cancel one.

- `forge sweeps [--limit N]`: a table, newest first (an admin sees everyone's);
- `forge sweeps show ID`: its spec, its trials (status, epoch, objective, rung, settings), the
  best trial, and the epochs spent beside what training every trial in full would spend;
- `forge sweeps cancel ID`: cancel its pending and running trials; it draws no more.

Starting one is `forge sweep` (`forge_cli.sweep`). Exit status as for every client command
(`forge_cli.client`): 4 for a sweep that does not exist or is someone else's.
"""

from __future__ import annotations

import argparse
import json

from google.protobuf import json_format

from azuraforge.v1 import sweep_pb2
from forge_cli.client import (
    CALL_TIMEOUT_S,
    EXIT_USAGE,
    CommandError,
    add_scheduler_flag,
    connect,
    run_command,
    scheduler_address,
)
from forge_cli.columns import align
from forge_cli.render import timestamp
from forge_cli.sweep_table import TERMINAL, sweep_status_name, trials_table

# ListSweeps answers at most this many per page.
MAX_PAGE = 500
# Cancelling waits for each running trial to stop (about two seconds).
CANCEL_TIMEOUT_S = 4 * CALL_TIMEOUT_S


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sweeps",
        help="list sweeps; show or cancel one",
        description="List your sweeps, newest first, or act on one of them.",
    )
    add_scheduler_flag(parser)
    parser.add_argument("--limit", type=int, default=20, help="show at most this many (default 20)")
    parser.set_defaults(run=lambda args: run_command("sweeps", list_sweeps, args))
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    show = actions.add_parser("show", help="a sweep's trials and its best one")
    show.add_argument("sweep_id", metavar="ID")
    add_scheduler_flag(show, inherited=True)
    show.set_defaults(run=lambda args: run_command("sweeps show", show_sweep, args))

    cancel = actions.add_parser("cancel", help="cancel a sweep's pending and running trials")
    cancel.add_argument("sweep_id", metavar="ID")
    add_scheduler_flag(cancel, inherited=True)
    cancel.set_defaults(run=lambda args: run_command("sweeps cancel", cancel_sweep, args))


def list_sweeps(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CommandError(f"--limit {args.limit}: give 1 or more", EXIT_USAGE)
    address = scheduler_address(args.scheduler)
    sweeps: list[sweep_pb2.Sweep] = []
    token = ""
    with connect(address) as connection:
        while len(sweeps) < args.limit:
            page: sweep_pb2.ListSweepsResponse = connection.call(
                connection.sweeps.ListSweeps,
                sweep_pb2.ListSweepsRequest(
                    page_size=min(MAX_PAGE, args.limit - len(sweeps)), page_token=token
                ),
            )
            sweeps += page.sweeps
            token = page.next_page_token
            if not token:
                break
    if not sweeps:
        print("No sweeps yet: start one with `forge sweep PIPELINE --space KEY=SPEC ...`.")
        return 0
    rows = [["ID", "NAME", "PIPELINE", "STATUS", "TRIALS", "BEST", "CREATED (UTC)", "OWNER"]]
    for sweep in sweeps:
        ended = sum(1 for trial in sweep.trials if trial.status in TERMINAL)
        best = (
            f"#{sweep.best_trial.number} {sweep.best_trial.objective:.4g}"
            if sweep.HasField("best_trial")
            else "-"
        )
        rows.append(
            [
                sweep.sweep_id,
                sweep.spec.name,
                sweep.spec.pipeline,
                sweep_status_name(sweep.status),
                f"{ended}/{sweep.spec.max_trials}",
                best,
                timestamp(sweep.created_at),
                sweep.owner,
            ]
        )
    print("\n".join(align(rows)))
    return 0


def show_sweep(args: argparse.Namespace) -> int:
    address = scheduler_address(args.scheduler)
    with connect(address) as connection:
        answer: sweep_pb2.GetSweepResponse = connection.call(
            connection.sweeps.GetSweep, sweep_pb2.GetSweepRequest(sweep_id=args.sweep_id)
        )
    print("\n".join(describe(answer.sweep)))
    return 0


def describe(sweep: sweep_pb2.Sweep) -> list[str]:
    """Everything `forge sweeps show` prints about a sweep."""
    spec = sweep.spec
    config = json_format.MessageToDict(spec.config)
    space = json_format.MessageToDict(spec.space)
    objective = f"{spec.objective.metric} ({spec.objective.mode})"
    asha = spec.early_stopping.asha
    stopping = (
        f"ASHA, grace {asha.grace_epochs} epochs, eta {asha.reduction_factor}"
        if spec.early_stopping.HasField("asha")
        else "none"
    )
    lines = [
        f"Sweep {sweep.sweep_id}  {spec.name!r}",
        f"  status          {sweep_status_name(sweep.status)}"
        + (f": {sweep.error_message}" if sweep.error_message else ""),
        f"  pipeline        {spec.pipeline}",
        f"  search          {spec.search}, {spec.max_trials} trials, {spec.parallelism} at once"
        + (f", seed {spec.seed}" if spec.search == "random" else ""),
        f"  space           {json.dumps(space)}",
        f"  objective       {objective}",
        f"  early stopping  {stopping}",
        f"  epochs          {sweep.epochs_spent} spent of {sweep.epochs_budget} in full",
        f"  created (UTC)   {timestamp(sweep.created_at)}   owner {sweep.owner}",
        "",
    ]
    best = sweep.best_trial.number if sweep.HasField("best_trial") else 0
    lines += trials_table(sweep.trials, spec.objective.metric, int(config.get("epochs", 0)), best)
    for trial in sweep.trials:
        if trial.stop_reason:
            lines.append(f"  #{trial.number}: {trial.stop_reason}")
    if best:
        lines += [
            "",
            f"Best: trial #{best} ({sweep.best_trial.experiment_id}), "
            f"{spec.objective.metric} {sweep.best_trial.objective:.6g}",
        ]
    return lines


def cancel_sweep(args: argparse.Namespace) -> int:
    address = scheduler_address(args.scheduler)
    with connect(address) as connection:
        answer: sweep_pb2.CancelSweepResponse = connection.call(
            connection.sweeps.CancelSweep,
            sweep_pb2.CancelSweepRequest(sweep_id=args.sweep_id),
            timeout=CANCEL_TIMEOUT_S,
        )
    print(f"Sweep {args.sweep_id} is {sweep_status_name(answer.sweep.status)}")
    return 0
