"""The scheduler's gRPC server: `create_server(settings)` builds it, `serve(settings)` runs it.

Beside `AuthService`, `SchedulerService` and `SweepService` (`scheduler.sweeps`) it serves the
standard health service and server reflection, so `grpcurl -plaintext HOST:50051 list` and
health probes work with no `.proto` at hand (docs/architecture.md#contracts). With
`FORGE_TLS_CERT` it serves TLS only (`azuraforge.tls`; grpcurl then takes `-cacert` instead of
`-plaintext`), and it says in its log when it serves plaintext beyond this machine. Building
binds the port and wires the parts; `start` does what needs the outside world, in an order that
never serves a request half-ready:

1. bring the database to the newest schema (`upgrade_database`);
2. create the `admin` account if there is no admin, printing a generated password once;
3. connect to NATS (a wrong URL fails here, with a message);
4. note itself in the `schedulers` table (on SQLite, refuse to start beside a live one);
5. start placing experiments (which adopts the runs no scheduler follows, attaching to them
   on their trainers), start serving, report SERVING.

Tests build the same server from their own settings on a free port (`tests/stack.py`).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass

import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection
from sqlalchemy import Engine

from azuraforge.tls import is_loopback
from azuraforge.v1 import auth_pb2_grpc, scheduler_pb2_grpc, sweep_pb2_grpc
from scheduler.auth import dummy_hash, ensure_admin
from scheduler.auth_service import AuthServicer, Security
from scheduler.bus import Bus, BusUnavailable
from scheduler.caller import AUTH_SERVICE, SCHEDULER_SERVICE, SWEEP_SERVICE
from scheduler.db.engine import create_engine_for, create_session_factory
from scheduler.interceptors import SchedulerInterceptor
from scheduler.migrations import upgrade_database
from scheduler.placement import Placement
from scheduler.recorder import Recorder
from scheduler.service import SchedulerServicer
from scheduler.settings import Settings
from scheduler.store import SchedulerConflict, Store
from scheduler.sweeps.runner import SweepRunner
from scheduler.sweeps.service import SweepServicer

log = logging.getLogger(__name__)

DEFAULT_HOST = "[::]"
"""Every interface, as `forge scheduler` listens unless told otherwise; `forge up` uses loopback."""
STOP_GRACE_S = 1.0
"""How long in-flight calls get at shutdown; watch streams are cut, runs are re-queued later."""
HEALTH_SERVICE = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name


class NoMessageBus(ValueError):
    """The settings name no NATS server to connect to."""


def announce_admin_password(password: str) -> None:
    """Say the generated admin password once, where whoever started the scheduler sees it."""
    print(
        "forge scheduler: created the account 'admin' with the generated password\n\n"
        f"    {password}\n\n"
        "It is shown only this once: log in and keep it somewhere safe "
        "(set FORGE_ADMIN_PASSWORD before the first start to choose it instead).",
        flush=True,
    )


@dataclass
class SchedulerServer:
    """A built scheduler: the gRPC server, the port it bound, and the parts it serves."""

    settings: Settings
    server: grpc.aio.Server
    port: int
    engine: Engine
    store: Store
    bus: Bus
    placement: Placement
    sweeps: SweepRunner
    health: HealthServicer
    security: Security
    announce: Callable[[str], None] = announce_admin_password
    host: str = DEFAULT_HOST

    @property
    def address(self) -> str:
        """Where a client on this machine reaches the server."""
        return f"127.0.0.1:{self.port}"

    async def start(self) -> None:
        """Prepare the database and NATS, then serve (see the module docstring for the order)."""
        await asyncio.to_thread(upgrade_database, self.engine)
        generated = await asyncio.to_thread(
            ensure_admin, self.store, self.settings.admin_password, hasher=self.security.hasher
        )
        if generated is not None:
            self.announce(generated)
        # Made now, the dummy hash does not slow down the first login with an unknown name.
        await asyncio.to_thread(dummy_hash, self.security.hasher)
        # What trainers announced before; the scheduler imports no pipeline itself.
        announced = await asyncio.to_thread(self.store.announced_pipelines)
        await self.bus.connect()
        await asyncio.to_thread(
            self.store.scheduler_started,
            self.placement.scheduler_id,
            self.settings.scheduler_addr or self.address,
            alive_within=self.settings.scheduler_lease,
        )
        self.placement.start()
        await self.sweeps.start()
        await self.server.start()
        for service in ("", AUTH_SERVICE, SCHEDULER_SERVICE, SWEEP_SERVICE):
            await self.health.set(service, health_pb2.HealthCheckResponse.SERVING)
        log.info(
            "scheduler serving on port %d (%s, %s; database %s, NATS %s %s%s; trainers reached "
            "%s; pipelines trainers announced: %s)",
            self.port,
            self.host,
            self.settings.tls.describe_server(),
            self.engine.dialect.name,
            self.bus.url,
            self.bus.credentials.describe(),
            self.bus.tls.describe(),
            self.settings.tls.describe_client(),
            ", ".join(pipeline.name for pipeline in announced) or "none yet",
        )
        if not self.settings.tls.serves_tls and not is_loopback(self.host):
            log.warning(
                "serving without TLS on %s: logins, access tokens and the cluster token cross "
                "the network in clear. Set FORGE_TLS_CERT and FORGE_TLS_KEY, or listen on "
                "127.0.0.1 (--host) if every client is on this machine (docs/running.md, "
                '"TLS between machines")',
                self.host,
            )

    async def stop(self, grace: float | None = STOP_GRACE_S) -> None:
        """Stop serving and placing; running experiments resume at the next start."""
        running = self.placement.running_ids
        if running:
            log.warning(
                "scheduler stopping with %d experiment(s) running: their runs go on on their "
                "trainers for the trainers' grace period, and the next scheduler on this "
                "database follows them again (else they resume from their last checkpoint): %s",
                len(running),
                ", ".join(running),
            )
        await self.health.enter_graceful_shutdown()
        await self.server.stop(grace)
        await self.sweeps.stop()
        await self.placement.stop()
        await self.bus.close()
        self.engine.dispose()


def create_server(
    settings: Settings,
    *,
    host: str = DEFAULT_HOST,
    security: Security | None = None,
    announce: Callable[[str], None] = announce_admin_password,
) -> SchedulerServer:
    """A scheduler bound to `host:settings.scheduler_port` (0: a free port), not started.

    Raises `NoMessageBus` when `settings.nats_url` is unset: `forge up` starts a NATS server
    and passes its URL; a scheduler started alone needs FORGE_NATS_URL.
    """
    if settings.nats_url is None:
        raise NoMessageBus(
            "the scheduler needs NATS: set FORGE_NATS_URL (or --nats-url) to a nats:// URL of a "
            "server started with `nats-server -js`, or run `forge up`, which starts one"
        )
    security = security or Security(settings.jwt_secret, settings.token_lifetime)
    engine = create_engine_for(settings.database_url)
    store = Store(create_session_factory(engine))
    bus = Bus(settings.nats_url, settings.bus_credentials, settings.bus_tls)
    recorder = Recorder(store, bus)
    placement = Placement(
        store,
        recorder,
        cluster_token=settings.cluster_token,
        trainer_timeout=settings.trainer_timeout,
        lease=settings.scheduler_lease,
        tls=settings.tls,
    )
    server = grpc.aio.server(
        interceptors=[
            SchedulerInterceptor(
                jwt_secret=security.jwt_secret, cluster_token=settings.cluster_token
            )
        ]
    )
    port = settings.tls.listen(server, f"{host}:{settings.scheduler_port}")
    placement.scheduler_id = settings.scheduler_id or f"{socket.gethostname()}-{port}"
    scheduler_pb2_grpc.add_SchedulerServiceServicer_to_server(
        SchedulerServicer(
            store,
            bus,
            recorder,
            placement,
            heartbeat_interval_s=int(settings.trainer_heartbeat_interval.total_seconds()),
            max_restarts=settings.max_restarts,
            trainer_timeout=settings.trainer_timeout,
        ),
        server,
    )
    sweeps = SweepRunner(store, bus, recorder, placement, max_restarts=settings.max_restarts)
    sweep_pb2_grpc.add_SweepServiceServicer_to_server(SweepServicer(store, bus, sweeps), server)
    auth_pb2_grpc.add_AuthServiceServicer_to_server(
        AuthServicer(store, security, cluster_token=settings.cluster_token), server
    )
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        [AUTH_SERVICE, SCHEDULER_SERVICE, SWEEP_SERVICE, HEALTH_SERVICE, reflection.SERVICE_NAME],
        server,
    )
    return SchedulerServer(
        settings,
        server,
        port,
        engine,
        store,
        bus,
        placement,
        sweeps,
        health,
        security,
        announce,
        host,
    )


async def serve(settings: Settings, *, host: str = DEFAULT_HOST) -> None:
    """Run a scheduler until SIGINT or SIGTERM."""
    scheduler = create_server(settings, host=host)
    try:
        await scheduler.start()
    except (BusUnavailable, SchedulerConflict):
        await scheduler.stop(None)
        raise
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        log.info("scheduler stopping")
        await scheduler.stop()
