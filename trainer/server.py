"""The trainer's gRPC server: ``create_server(settings)`` builds it, ``serve(settings)`` runs it.

Beside ``TrainerService`` it serves the standard health service and server reflection, so
``grpcurl -plaintext HOST:50052 list`` and health probes work with no ``.proto`` at hand
(docs/architecture.md#contracts). With ``FORGE_TLS_CERT`` it serves TLS only, and with
``FORGE_TLS_CLIENT_CA`` only to clients showing a certificate that CA signed
(``azuraforge.tls``). The background tasks live and die with the server: ``start`` starts the
scan for newly installed pipelines (``trainer.pipelines``) and, when the settings name a
scheduler, the registration; ``stop`` ends them, the way aiohttp ties background tasks to its
app. ``serve`` also scans at once on SIGHUP. Tests build the same server from their own
settings, on a free port.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from dataclasses import dataclass, field

import grpc.aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_health.v1._async import HealthServicer
from grpc_reflection.v1alpha import reflection

from azuraforge.tls import is_loopback
from azuraforge.v1 import trainer_pb2, trainer_pb2_grpc
from trainer.auth import ClusterTokenInterceptor
from trainer.pipelines import OfferedPipelines
from trainer.registration import keep_registered
from trainer.service import TrainerServicer, TrainerState
from trainer.settings import TrainerSettings

log = logging.getLogger(__name__)

SERVICE_NAME = trainer_pb2.DESCRIPTOR.services_by_name["TrainerService"].full_name
MAX_REQUEST_BYTES = 512 * 1024 * 1024
"""A Train request carries the checkpoint to resume from: room for big models, not 4 MiB."""
STOP_GRACE_S = 1.0
"""How long in-flight calls get at shutdown; running jobs are killed (the scheduler re-places)."""


@dataclass
class TrainerServer:
    """A built trainer: the gRPC server, the port it bound, and the trainer it serves."""

    server: grpc.aio.Server
    port: int
    trainer: TrainerState
    health: HealthServicer
    pipelines: OfferedPipelines = field(default_factory=OfferedPipelines)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list, init=False)

    @property
    def settings(self) -> TrainerSettings:
        return self.trainer.settings

    async def start(self) -> None:
        """Serve, look for new pipelines, and register with the scheduler the settings name."""
        # Importing every plugin now keeps the first Train from stalling the loop on it.
        self.pipelines.scan()
        await self.server.start()
        await self.health.set("", health_pb2.HealthCheckResponse.SERVING)
        await self.health.set(SERVICE_NAME, health_pb2.HealthCheckResponse.SERVING)
        scheduler = self.settings.scheduler_address
        tls = self.settings.tls
        log.info(
            "trainer %s serving on port %d (%d slot(s), %d thread(s) per job; %s, %s; "
            "pipelines: %s)",
            self.trainer.trainer_id,
            self.port,
            self.settings.slots,
            self.settings.threads,
            self.settings.host,
            tls.describe_server(),
            ", ".join(self.pipelines.names) or "none",
        )
        if not tls.serves_tls and not is_loopback(self.settings.host):
            log.warning(
                "serving without TLS on %s: the cluster token and every experiment's data "
                "cross the network in clear. Set FORGE_TLS_CERT and FORGE_TLS_KEY "
                '(docs/running.md, "TLS between machines"), or --host 127.0.0.1 if the '
                "scheduler is on this machine",
                self.settings.host,
            )
        self.trainer.processes.start()
        self.pipelines.on_change = self.trainer.processes.renew
        scan = self.pipelines.keep_scanning(self.settings.pipeline_scan_s)
        self._tasks.append(asyncio.create_task(scan, name="forge-pipeline-scan"))
        if scheduler is not None:
            registration = keep_registered(self.trainer, scheduler, self.pipelines)
            self._tasks.append(asyncio.create_task(registration, name="forge-registration"))

    async def stop(self, grace: float | None = STOP_GRACE_S) -> None:
        """Stop registering, scanning and serving; every job's process is killed."""
        await self.health.enter_graceful_shutdown()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.server.stop(grace)
        self.trainer.close()


def create_server(settings: TrainerSettings) -> TrainerServer:
    """A trainer server bound to ``settings.host:settings.port`` (0: a free port), not started."""
    server = grpc.aio.server(
        interceptors=[ClusterTokenInterceptor(settings.cluster_token)],
        options=[("grpc.max_receive_message_length", MAX_REQUEST_BYTES)],
    )
    port = settings.tls.listen(server, f"{settings.host}:{settings.port}")
    trainer = TrainerState(settings, settings.resolved_id(port), settings.advertised_address(port))
    trainer_pb2_grpc.add_TrainerServiceServicer_to_server(TrainerServicer(trainer), server)
    health = HealthServicer()
    health_pb2_grpc.add_HealthServicer_to_server(health, server)
    reflection.enable_server_reflection(
        [
            SERVICE_NAME,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    return TrainerServer(server, port, trainer, health)


async def serve(settings: TrainerSettings) -> None:
    """Run a trainer until SIGINT or SIGTERM; SIGHUP looks for new pipelines at once."""
    trainer = create_server(settings)
    await trainer.start()
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGHUP, trainer.pipelines.request_scan)
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stopping.set)
    try:
        await stopping.wait()
    finally:
        log.info("trainer %s stopping", trainer.trainer.trainer_id)
        await trainer.stop()
