"""`forge gateway`: serve the REST API, the WebSockets and the web UI in front of the scheduler.

The gateway is stateless: run as many as you like behind a load balancer, each pointed at the
scheduler with `--scheduler` or `FORGE_SCHEDULER_ADDR`. Flags override the `FORGE_GATEWAY_*`
variables (see `gateway.settings`). It runs until Ctrl-C or SIGTERM.

Exit status: 0 after a stop, 2 for a setting it cannot use or a port it cannot listen on.
"""

from __future__ import annotations

import argparse
import sys

from azuraforge.settings import DEFAULT_GATEWAY_PORT, DEFAULT_SCHEDULER_PORT
from forge_cli.private import make_process_private
from gateway.settings import SettingsError, load_settings


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "gateway",
        help="serve the REST API, WebSockets and web UI",
        description=(
            "Serve the HTTP and WebSocket API under /api/v1 and the built web UI at /, turning "
            "each request into scheduler calls made with the caller's token."
        ),
    )
    parser.add_argument(
        "--port",
        type=int,
        help=f"the port to listen on (default $FORGE_GATEWAY_PORT, else {DEFAULT_GATEWAY_PORT})",
    )
    parser.add_argument("--host", help="the interface to listen on (default: all)")
    parser.add_argument(
        "--scheduler",
        metavar="HOST:PORT",
        help=(
            "the scheduler (default $FORGE_SCHEDULER_ADDR, else "
            f"127.0.0.1:{DEFAULT_SCHEDULER_PORT})"
        ),
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    # The gateway stores nothing, but whatever a library of it writes stays private too.
    make_process_private()
    try:
        settings = load_settings(host=args.host, port=args.port, scheduler_addr=args.scheduler)
    except SettingsError as error:
        print(f"forge gateway: {error}", file=sys.stderr)
        return 2
    # Imported here: the other commands have no use for aiohttp.
    import logging

    from aiohttp import web

    from gateway.app import AccessLogger, configure_logging, create_app

    configure_logging()
    log = logging.getLogger("gateway")

    def started(_text: str) -> None:
        log.info(
            "serving on port %s, scheduler at %s, reached %s",
            settings.port,
            settings.scheduler_addr,
            settings.tls.describe_client(),
        )
        ui = settings.webapp_dir.resolve()
        if (ui / "index.html").is_file():
            log.info("serving the web UI from %s", ui)
        else:
            log.warning("no web UI built in %s: / explains how to build it", ui)
        if settings.cluster_token is None:
            log.warning(
                "no cluster token (FORGE_CLUSTER_TOKEN): the scheduler counts every login "
                "through this gateway as one client address, so anyone's failed logins slow "
                "down everyone's; give the gateway the scheduler's cluster token"
            )

    try:
        web.run_app(
            create_app(settings),
            host=settings.host,
            port=settings.port,
            access_log_class=AccessLogger,
            print=started,
        )
    except OSError as error:
        print(
            f"forge gateway: cannot listen on port {settings.port} ({error}); pick another "
            "--port or FORGE_GATEWAY_PORT",
            file=sys.stderr,
        )
        return 2
    return 0
