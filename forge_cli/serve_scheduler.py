"""`forge scheduler`: run the scheduler, which owns the experiments and places them on trainers.

It serves `AuthService` and `SchedulerService` over gRPC, keeps experiments in the database
(`FORGE_DATABASE_URL`, default a SQLite file in `FORGE_DATA_DIR`) and publishes their events on
NATS (`FORGE_NATS_URL`). Flags override those variables (see `scheduler.settings`). `forge up`
starts it together with NATS, a trainer and the gateway; this command runs it alone, for a
cluster whose NATS and trainers run elsewhere, so it listens on every interface unless `--host`
(or `FORGE_SCHEDULER_HOST`) says otherwise, and logs a warning when it does so without TLS
(`FORGE_TLS_CERT`, `FORGE_TLS_KEY`; docs/running.md, "TLS between machines").

Exit status: 0 after Ctrl-C or SIGTERM, 1 when NATS or the database cannot be reached, 2 for a
setting it cannot use or a port it cannot listen on.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from azuraforge.settings import DEFAULT_SCHEDULER_PORT, Flag, SettingsError, read_environment
from forge_cli.private import close_data_dir, make_process_private


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "scheduler",
        help="run the scheduler: experiments, users, placement on trainers",
        description=(
            "Serve the gRPC AuthService and SchedulerService: validate and store submitted "
            "experiments, place them on registered trainers, store and publish every event. "
            "Creates the 'admin' account on first start (password: FORGE_ADMIN_PASSWORD, or "
            "generated and printed once)."
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        help=f"the port to listen on (default: $FORGE_SCHEDULER_PORT or {DEFAULT_SCHEDULER_PORT})",
    )
    parser.add_argument(
        "--host",
        help="the interface to listen on (default: $FORGE_SCHEDULER_HOST, else every interface)",
    )
    parser.add_argument(
        "--database-url",
        metavar="URL",
        help="sqlite:///path or postgresql+psycopg2://... (default: $FORGE_DATABASE_URL, "
        "else SQLite in $FORGE_DATA_DIR)",
    )
    parser.add_argument(
        "--nats-url", metavar="URL", help="the NATS server (default: $FORGE_NATS_URL)"
    )
    parser.set_defaults(run=run)


def flags(args: argparse.Namespace) -> dict[str, Flag]:
    """The flags given, by the setting each overrides (`azuraforge.settings`)."""
    return {
        "scheduler_port": Flag("--port", args.port),
        "scheduler_host": Flag("--host", args.host),
        "database_url": Flag("--database-url", args.database_url),
        "nats_url": Flag("--nats-url", args.nats_url),
    }


def run(args: argparse.Namespace) -> int:
    # Imported here: the other commands have no use for gRPC, SQLAlchemy or NATS.
    from sqlalchemy.exc import OperationalError

    from scheduler.bus import BusUnavailable
    from scheduler.server import DEFAULT_HOST, NoMessageBus, serve
    from scheduler.settings import Settings
    from scheduler.store import SchedulerConflict

    make_process_private()
    try:
        settings = Settings.from_env(flags=flags(args))
        host = read_environment(flags=flags(args)).scheduler_host or DEFAULT_HOST
    except SettingsError as error:
        print(f"forge scheduler: {error}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="forge scheduler: %(levelname)s: %(message)s")
    for line in close_data_dir(settings.data_dir):
        logging.getLogger("scheduler").warning(line)
    try:
        asyncio.run(serve(settings, host=host))
    except (NoMessageBus, SchedulerConflict) as error:
        print(f"forge scheduler: {error}", file=sys.stderr)
        return 2
    except BusUnavailable as error:
        print(f"forge scheduler: {error}", file=sys.stderr)
        return 1
    except OperationalError as error:
        print(
            f"forge scheduler: cannot use the database ({error.orig}); check FORGE_DATABASE_URL "
            "or --database-url",
            file=sys.stderr,
        )
        return 1
    except RuntimeError as error:
        if "bind" not in str(error).lower():
            raise
        print(
            f"forge scheduler: cannot listen on {host}:{settings.scheduler_port} ({error}); "
            "pick another --port",
            file=sys.stderr,
        )
        return 2
    return 0
