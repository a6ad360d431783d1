"""`forge experiments`: list your experiments, and show, rename, cancel or fetch the report of one.

- `forge experiments [--status S] [--pipeline P] [--limit N]`: a table, newest first (an admin
  sees everyone's);
- `forge experiments show ID`: everything about one: its config, its attempts when a lost run
  was placed again, its epochs one row each (read from its stored events), metrics and files;
- `forge experiments rename ID NAME`: give it a name to know it by (`--clear`, or "", for none);
- `forge experiments cancel ID`: cancel it, pending or running;
- `forge experiments report ID [-o FILE] [--artifact NAME]`: download its `report.md` (or
  another file it wrote, such as `loss.png` or `checkpoints/best.npz`) to stdout or FILE.

Exit status as for every client command (`forge_cli.client`): 4 for an experiment that does not
exist or is someone else's.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import json_format

from azuraforge.configs import typed_config
from azuraforge.statuses import NAMES as STATUSES
from azuraforge.statuses import parse_status, status_name
from azuraforge.v1 import events_pb2, experiment_pb2, scheduler_pb2
from forge_cli.client import (
    CALL_TIMEOUT_S,
    EXIT_USAGE,
    CommandError,
    Connection,
    add_scheduler_flag,
    connect,
    rpc_error,
    run_command,
    scheduler_address,
)
from forge_cli.columns import align
from forge_cli.epochs import CURVE_KINDS, epoch_table, one_per_epoch
from forge_cli.render import metrics_table, timestamp
from forge_core.files import atomic_write

# ListExperiments answers at most this many per page.
MAX_PAGE = 500


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "experiments",
        help="list experiments; show, rename, cancel or fetch the report of one",
        description="List your experiments, newest first, or act on one of them.",
    )
    add_scheduler_flag(parser)
    parser.add_argument(
        "--status",
        action="append",
        default=[],
        choices=STATUSES,
        help="only experiments in this status (repeatable)",
    )
    parser.add_argument("--pipeline", help="only experiments of this pipeline")
    parser.add_argument("--limit", type=int, default=20, help="show at most this many (default 20)")
    parser.set_defaults(run=lambda args: run_command("experiments", list_experiments, args))
    actions = parser.add_subparsers(title="actions", metavar="ACTION")

    show = actions.add_parser("show", help="everything about one experiment")
    show.add_argument("experiment_id", metavar="ID")
    add_scheduler_flag(show, inherited=True)
    show.set_defaults(run=lambda args: run_command("experiments show", show_experiment, args))

    rename = actions.add_parser("rename", help="give an experiment a name, or clear it")
    rename.add_argument("experiment_id", metavar="ID")
    rename.add_argument(
        "name", nargs="?", help='the new name, at most 100 characters ("" clears it)'
    )
    rename.add_argument("--clear", action="store_true", help="remove the name")
    add_scheduler_flag(rename, inherited=True)
    rename.set_defaults(run=lambda args: run_command("experiments rename", rename_experiment, args))

    cancel = actions.add_parser("cancel", help="cancel a pending or running experiment")
    cancel.add_argument("experiment_id", metavar="ID")
    add_scheduler_flag(cancel, inherited=True)
    cancel.set_defaults(run=lambda args: run_command("experiments cancel", cancel_experiment, args))

    report = actions.add_parser("report", help="download the report (or another file) it wrote")
    report.add_argument("experiment_id", metavar="ID")
    add_scheduler_flag(report, inherited=True)
    report.add_argument(
        "-o", "--output", type=Path, help="write to this file (default: standard output)"
    )
    report.add_argument(
        "--artifact",
        default="report.md",
        metavar="NAME",
        help="which file, e.g. loss.png (default report.md; `show` lists them all)",
    )
    report.set_defaults(run=lambda args: run_command("experiments report", fetch_report, args))


def list_experiments(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise CommandError(f"--limit {args.limit}: give 1 or more", EXIT_USAGE)
    address = scheduler_address(args.scheduler)
    statuses = [parse_status(name) for name in args.status]
    with connect(address) as connection:
        experiments, total = _page_through(connection, statuses, args.pipeline or "", args.limit)
    if not experiments:
        print("No experiments yet: submit one with `forge submit PIPELINE`.")
        return 0
    rows = [["ID", "NAME", "PIPELINE", "STATUS", "EPOCHS", "CREATED (UTC)", "OWNER"]]
    for experiment in experiments:
        epochs = f"{experiment.epochs_done}/{experiment.total_epochs or '?'}"
        rows.append(
            [
                experiment.experiment_id,
                experiment.name or "-",
                experiment.pipeline,
                status_name(experiment.status),
                epochs,
                timestamp(experiment.created_at),
                experiment.owner,
            ]
        )
    print("\n".join(align(rows)))
    if total > len(experiments):
        print(f"({len(experiments)} of {total}; --limit shows more)")
    return 0


def _page_through(
    connection: Connection,
    statuses: list[experiment_pb2.ExperimentStatus],
    pipeline: str,
    limit: int,
) -> tuple[list[experiment_pb2.Experiment], int]:
    experiments: list[experiment_pb2.Experiment] = []
    token = ""
    total = 0
    while len(experiments) < limit:
        request = scheduler_pb2.ListExperimentsRequest(
            page_size=min(MAX_PAGE, limit - len(experiments)),
            page_token=token,
            statuses=statuses,
            pipeline=pipeline,
        )
        page: scheduler_pb2.ListExperimentsResponse = connection.call(
            connection.scheduler.ListExperiments, request
        )
        experiments += page.experiments
        total = page.total_size
        token = page.next_page_token
        if not token:
            break
    return experiments, total


def show_experiment(args: argparse.Namespace) -> int:
    address = scheduler_address(args.scheduler)
    with connect(address) as connection:
        answer: scheduler_pb2.GetExperimentResponse = connection.call(
            connection.scheduler.GetExperiment,
            scheduler_pb2.GetExperimentRequest(experiment_id=args.experiment_id),
        )
        experiment = answer.experiment
        epochs = one_per_epoch(_stored_events(connection, experiment))
        schema = _config_schema(connection, experiment.pipeline)
    print("\n".join(describe(experiment, epochs, schema)))
    return 0


def _config_schema(connection: Connection, pipeline: str) -> dict[str, Any] | None:
    """The JSON Schema of `pipeline`'s config as the scheduler lists it; None when it does not."""
    try:
        answer: scheduler_pb2.ListPipelinesResponse = connection.scheduler.ListPipelines(
            scheduler_pb2.ListPipelinesRequest(include_offline=True),
            metadata=connection.metadata,
            timeout=CALL_TIMEOUT_S,
        )
    except grpc.RpcError:
        return None  # the config still shows, only less neatly typed
    for info in answer.pipelines:
        if info.name == pipeline:
            return json_format.MessageToDict(info.config_schema)
    return None


def _stored_events(
    connection: Connection, experiment: experiment_pb2.Experiment
) -> list[events_pb2.ExperimentEvent]:
    """The events that make the experiment's epochs, up to the last one it had stored.

    `WatchExperiment` replays the stored events and then follows the live ones; `show` wants
    what there is now, so it hangs up at `last_seq`.
    """
    if not experiment.last_seq:
        return []
    stream = connection.scheduler.WatchExperiment(
        scheduler_pb2.WatchExperimentRequest(experiment_id=experiment.experiment_id),
        metadata=connection.metadata,
        timeout=CALL_TIMEOUT_S,
    )
    kept = []
    try:
        for response in stream:
            if response.event.WhichOneof("kind") in CURVE_KINDS:
                kept.append(response.event)
            if response.event.seq >= experiment.last_seq:
                break
    except grpc.RpcError as error:
        raise rpc_error(error, connection.address) from None
    finally:
        stream.cancel()
    return kept


def describe(
    experiment: experiment_pb2.Experiment,
    epochs: list[events_pb2.EpochEnded] | None = None,
    config_schema: Mapping[str, Any] | None = None,
) -> list[str]:
    """One experiment as lines: facts, config, attempts, epochs, metrics, files.

    `epochs` are its epochs one per epoch (`forge_cli.epochs.one_per_epoch`), if known; the
    config is shown with the types and order of `config_schema`, when known.
    """
    attempts = experiment.attempts
    facts = [
        ["id", experiment.experiment_id],
        ["name", experiment.name or "-"],
        ["pipeline", experiment.pipeline],
        ["status", status_name(experiment.status)],
        ["owner", experiment.owner],
        ["trainer", experiment.trainer_id or "-"],
        ["epochs", f"{experiment.epochs_done}/{experiment.total_epochs or '?'}"],
        [
            "checkpoint",
            f"epoch {experiment.checkpoint_epoch}" if experiment.checkpoint_epoch else "-",
        ],
        ["restarts", f"{max(0, len(attempts) - 1)} of at most {experiment.max_restarts}"],
        ["created", timestamp(experiment.created_at)],
        ["started", timestamp(experiment.started_at)],
        ["finished", timestamp(experiment.finished_at)],
    ]
    if experiment.error_message:
        facts.append(["error", experiment.error_message])
    lines = align(facts)
    config = typed_config(json_format.MessageToDict(experiment.config), config_schema)
    lines += ["", "config:", *(f"  {line}" for line in json.dumps(config, indent=2).splitlines())]
    if len(attempts) > 1:
        lines += ["", "attempts:", *(f"  {row}" for row in _attempts_table(attempts))]
    table = epoch_table(epochs or [])
    if table:
        lines += ["", "epochs:", *(f"  {row}" for row in table)]
    table = metrics_table(experiment.metrics, experiment.baselines, experiment.references)
    if table:
        lines += ["", "metrics:", *(f"  {row}" for row in table)]
    if experiment.artifacts:
        files = [[a.name, f"{a.size_bytes} bytes", a.content_type] for a in experiment.artifacts]
        lines += ["", "files (forge experiments report ID --artifact NAME):"]
        lines += [f"  {row}" for row in align(files)]
    return lines


def _attempts_table(attempts: Sequence[experiment_pb2.Attempt]) -> list[str]:
    rows = [["#", "TRAINER", "FROM", "STARTED (UTC)", "ENDED (UTC)", "LOST BECAUSE"]]
    for attempt in attempts:
        start = f"epoch {attempt.from_epoch}" if attempt.from_epoch else "scratch"
        rows.append(
            [
                str(attempt.number),
                attempt.trainer_id or "-",
                start,
                timestamp(attempt.started_at),
                timestamp(attempt.ended_at),
                attempt.lost_reason,
            ]
        )
    return align(rows)


def rename_experiment(args: argparse.Namespace) -> int:
    if args.clear == (args.name is not None):
        raise CommandError('give either a NAME or --clear (a NAME of "" clears it too)', EXIT_USAGE)
    address = scheduler_address(args.scheduler)
    with connect(address) as connection:
        answer: scheduler_pb2.RenameExperimentResponse = connection.call(
            connection.scheduler.RenameExperiment,
            scheduler_pb2.RenameExperimentRequest(
                experiment_id=args.experiment_id, name=args.name or ""
            ),
        )
    experiment = answer.experiment
    if experiment.name:
        print(f"Experiment {experiment.experiment_id} is now called {experiment.name!r}")
    else:
        print(f"Experiment {experiment.experiment_id} has no name now")
    return 0


def cancel_experiment(args: argparse.Namespace) -> int:
    address = scheduler_address(args.scheduler)
    with connect(address) as connection:
        answer: scheduler_pb2.CancelExperimentResponse = connection.call(
            connection.scheduler.CancelExperiment,
            scheduler_pb2.CancelExperimentRequest(experiment_id=args.experiment_id),
        )
    experiment = answer.experiment
    print(f"Experiment {experiment.experiment_id} is {status_name(experiment.status)}")
    return 0


def fetch_report(args: argparse.Namespace) -> int:
    address = scheduler_address(args.scheduler)
    with connect(address) as connection:
        chunks = _artifact_chunks(connection, args.experiment_id, args.artifact)
        if args.output is None:
            for chunk in chunks:
                sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
            return 0
        size = 0
        with atomic_write(args.output, mode=0o644) as file:
            for chunk in chunks:
                file.write(chunk)
                size += len(chunk)
    print(f"Wrote {args.artifact} of {args.experiment_id} to {args.output} ({size} bytes)")
    return 0


def _artifact_chunks(connection: Connection, experiment_id: str, name: str) -> Iterator[bytes]:
    stream = connection.scheduler.GetArtifact(
        scheduler_pb2.GetArtifactRequest(experiment_id=experiment_id, name=name),
        metadata=connection.metadata,
    )
    try:
        for response in stream:
            yield response.data
    except grpc.RpcError as error:
        raise rpc_error(error, connection.address) from None
