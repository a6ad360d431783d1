"""`forge trainer`: run this machine's trainer, which runs experiments for the scheduler.

Adding a machine to the cluster is starting one more `forge trainer --scheduler HOST:50051` on
it, with `FORGE_CLUSTER_TOKEN` set to the scheduler's cluster token. Flags override the
`FORGE_TRAINER_*` variables (see `trainer.settings`). It runs until Ctrl-C or SIGTERM, which
kill the experiments running here; the scheduler places them again.

Exit status: 0 after a stop, 2 for a setting it cannot use or a port it cannot listen on.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from azuraforge.settings import DEFAULT_SCHEDULER_PORT, DEFAULT_TRAINER_PORT
from forge_cli.private import close_data_dir, make_process_private
from trainer.settings import SettingsError, load_settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "trainer",
        help="run experiments for the scheduler on this machine",
        description=(
            "Serve the gRPC TrainerService: run each experiment the scheduler sends in a child "
            "process and stream its events and files back. Register with the scheduler "
            "(--scheduler) and heartbeat. Needs the cluster token: FORGE_CLUSTER_TOKEN, or the "
            "scheduler's $FORGE_DATA_DIR/cluster-token on the same machine."
        ),
    )
    parser.add_argument(
        "--scheduler",
        metavar="HOST:PORT",
        help=(
            "the scheduler to register with "
            "(default: $FORGE_SCHEDULER_ADDR, else 127.0.0.1:$FORGE_SCHEDULER_PORT, port "
            f"{DEFAULT_SCHEDULER_PORT})"
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        help=f"the port to listen on (default {DEFAULT_TRAINER_PORT}; 0 picks a free one)",
    )
    parser.add_argument("--host", help="the interface to listen on (default: all)")
    parser.add_argument(
        "--advertise",
        metavar="HOST[:PORT]",
        help="the address the scheduler reaches this trainer at (default: this host's name)",
    )
    parser.add_argument("--id", dest="trainer_id", help="this trainer's id (default HOST-PORT)")
    parser.add_argument("--slots", type=int, help="experiments run at once (default 1)")
    parser.add_argument(
        "--threads", type=int, help="threads per experiment (default: the CPUs divided by slots)"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    make_process_private()
    try:
        settings = load_settings(
            host=args.host,
            port=args.port,
            advertise=args.advertise,
            trainer_id=args.trainer_id,
            slots=args.slots,
            threads=args.threads,
            scheduler_address=args.scheduler,
        )
    except SettingsError as error:
        print(f"forge trainer: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="forge trainer: %(levelname)s: %(message)s")
    for line in close_data_dir(settings.data_dir):
        logging.getLogger("trainer").warning(line)
    # Imported here: `forge run` and the other commands have no use for gRPC.
    from trainer.server import serve

    try:
        asyncio.run(serve(settings))
    except RuntimeError as error:
        if "bind" not in str(error).lower():
            raise
        print(
            f"forge trainer: cannot listen on {settings.host}:{settings.port} ({error}); "
            "pick another --port, or 0 for any free one",
            file=sys.stderr,
        )
        return 2
    return 0
