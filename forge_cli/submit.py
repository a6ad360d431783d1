"""`forge submit PIPELINE --set KEY=VALUE … [--name NAME] [--watch]`: run a pipeline on the cluster.

Settings are written as for `forge run`. When the pipeline is installed here too they are
checked against its schema before anything is sent, so a typo fails at once with every bad
field named, and they travel as the typed JSON the schema made of them (`epochs=5` as the
number 5). A pipeline installed only on the cluster is sent what each value reads as in JSON
(`5` a number, `true` a boolean, `[1,2]` a list, anything else a string); the scheduler checks
every submission against the schema anyway, and a field it refuses is named the same way.

`--max-restarts N` (0 to 100) bounds how many times a lost run (its trainer died, say) is placed
again from its latest checkpoint before the experiment fails; without it the scheduler's
default applies (`FORGE_MAX_RESTARTS`, 3). `--name NAME` gives the experiment a name to know it
by in lists (the scheduler checks it; `forge experiments rename` changes it later).

`--watch` follows the experiment until it ends (see `forge_cli.watch`). Ctrl-C then stops the
watching, not the experiment, which keeps running on its trainer; the message says how to
watch again or cancel it.

Exit status: 0 when submitted (with `--watch`: when it succeeded), 1 when a watched experiment
failed or was cancelled, 2 for a bad setting or an unknown pipeline, 3 when not logged in,
5 when the scheduler cannot be reached, 130 after Ctrl-C (see `forge_cli.client`).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

import grpc
from google.protobuf import struct_pb2

from azuraforge.v1 import experiment_pb2, scheduler_pb2
from forge_cli.client import (
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
from forge_cli.watch import EventPrinter
from forge_learner.config import (
    ConfigError,
    nest_dotted,
    parse_assignments,
    parse_config_strings,
)
from forge_learner.registry import discover

# The most `--max-restarts` the scheduler takes.
MAX_RESTARTS = 100


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "submit",
        help="submit an experiment to the scheduler, and watch it with --watch",
        description=(
            "Submit PIPELINE with its settings to the scheduler, which runs it on a trainer. "
            "`forge pipelines PIPELINE` lists the settings. Log in first with `forge login`."
        ),
    )
    add_scheduler_flag(parser)
    parser.add_argument("pipeline", help="the pipeline's name (see `forge pipelines`)")
    parser.add_argument(
        "--set",
        dest="settings",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="set one config value, e.g. --set epochs=5 (repeatable)",
    )
    parser.add_argument(
        "--max-restarts",
        type=int,
        metavar="N",
        help=(
            "place a lost run (its trainer died, say) again from its latest checkpoint at most "
            f"N times, 0 to {MAX_RESTARTS} (default: the scheduler's, 3)"
        ),
    )
    parser.add_argument(
        "--name",
        help="what to call the experiment in lists, at most 100 characters (default: none)",
    )
    parser.add_argument(
        "--watch",
        "-w",
        action="store_true",
        help="follow the experiment's progress until it ends",
    )
    parser.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="with --watch, also show the pipeline's info log lines",
    )
    parser.set_defaults(run=lambda args: run_command("submit", submit, args))


def submit(args: argparse.Namespace) -> int:
    if args.max_restarts is not None and not 0 <= args.max_restarts <= MAX_RESTARTS:
        raise CommandError(
            f"--max-restarts {args.max_restarts}: give 0 to {MAX_RESTARTS}", EXIT_USAGE
        )
    address = scheduler_address(args.scheduler)
    config, installed = config_for(args.pipeline, args.settings)
    request = scheduler_pb2.SubmitExperimentRequest(
        # None leaves it unset: the scheduler's default.
        pipeline=args.pipeline,
        config=config,
        max_restarts=args.max_restarts,
        name=args.name,
    )
    with connect(address) as connection:
        try:
            answer: scheduler_pb2.SubmitExperimentResponse = connection.call(
                connection.scheduler.SubmitExperiment, request
            )
        except CommandError as refusal:
            if refusal.status == EXIT_USAGE and installed:
                hinted = f"{refusal}\n{_settings_hint(args.pipeline)}"
                raise CommandError(hinted, EXIT_USAGE) from None
            raise
        experiment = answer.experiment
        named = f" {experiment.name!r}" if experiment.name else ""
        print(f"Submitted experiment {experiment.experiment_id}{named} ({experiment.pipeline})")
        if not args.watch:
            print(f"Follow it with `forge experiments show {experiment.experiment_id}`.")
            return 0
        return watch(connection, experiment, verbose=args.verbose)


def watch(
    connection: Connection, experiment: experiment_pb2.Experiment, *, verbose: bool = False
) -> int:
    """Follow `experiment` to its end: 0 when it succeeded, 1 otherwise, 130 after Ctrl-C."""
    printer = EventPrinter(sys.stdout, verbose=verbose, max_restarts=experiment.max_restarts)
    stream = connection.scheduler.WatchExperiment(
        scheduler_pb2.WatchExperimentRequest(experiment_id=experiment.experiment_id),
        metadata=connection.metadata,
    )
    try:
        printer.follow(stream)
    except KeyboardInterrupt:
        stream.cancel()
        printer.close()
        identifier = experiment.experiment_id
        print(
            f"Stopped watching; experiment {identifier} goes on.\n"
            f"  forge experiments show {identifier}     where it is\n"
            f"  forge experiments cancel {identifier}   to cancel it",
            file=sys.stderr,
        )
        return EXIT_INTERRUPTED
    except grpc.RpcError as error:
        printer.close()
        raise rpc_error(error, connection.address) from None
    printer.close()
    if printer.finished is None:
        raise CommandError("the scheduler ended the watch before the experiment finished")
    if printer.artifacts:
        print(f"\nReport: forge experiments report {experiment.experiment_id} -o report.md")
    return 0 if printer.succeeded else EXIT_FAILED


def config_for(pipeline: str, settings: list[str]) -> tuple[struct_pb2.Struct, bool]:
    """The `--set` values as the config to send, and whether the pipeline is installed here.

    See the module docstring for how values are typed.
    """
    try:
        values = parse_assignments(settings)
    except ConfigError as error:
        raise CommandError(_listed(error), EXIT_USAGE) from None
    found = discover().pipelines.get(pipeline)
    if found is None:
        try:
            typed = nest_dotted({key: _as_json(value) for key, value in values.items()})
        except ConfigError as error:
            raise CommandError(_listed(error), EXIT_USAGE) from None
    else:
        try:
            parsed = parse_config_strings(found.Config, values)
        except ConfigError as error:
            message = f"invalid settings for {pipeline}:\n{_listed(error)}"
            raise CommandError(f"{message}\n{_settings_hint(pipeline)}", EXIT_USAGE) from None
        typed = parsed.model_dump(mode="json", exclude_unset=True)
    config = struct_pb2.Struct()
    config.update(typed)
    return config, found is not None


def _settings_hint(pipeline: str) -> str:
    return f"`forge pipelines {pipeline}` lists its settings."


def _listed(error: ConfigError) -> str:
    return "\n".join(f"  {field_error.message}" for field_error in error.errors)


def _as_json(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text
