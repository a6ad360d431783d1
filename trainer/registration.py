"""Keeping this trainer on the scheduler's list: register once, then heartbeat.

Adding a machine to the cluster is starting `forge trainer --scheduler HOST:PORT` on it
(docs/architecture.md#faults). The trainer registers its address, slots and pipelines (each with its
config's JSON Schema, which the scheduler checks submissions against), then heartbeats at the
interval the scheduler asks for, naming the runs it holds; the answer acknowledges what the
scheduler stored of each, and names the runs it expects nothing more of, which the trainer then
forgets (`TrainerState.acknowledge`). A scheduler that answers `registered=False` has forgotten the
trainer (it restarted on a fresh database, or timed the trainer out), so the trainer registers again
under the same id. When the pipelines it offers change (a plugin installed while it runs,
`trainer.pipelines`), it registers again at once, announcing the new set, which is how the scheduler
learns of them. A scheduler that cannot be reached is retried with exponential backoff, forever:
trainers may start before the scheduler does, and a scheduler restart must not need every trainer
restarted too. With `FORGE_TLS_CA` the trainer connects over TLS (`azuraforge.tls`); a connection
that fails for TLS reasons is logged with the setting to fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
import grpc.aio

from azuraforge.tls import connection_hint
from azuraforge.v1 import experiment_pb2, scheduler_pb2, scheduler_pb2_grpc
from trainer.pipelines import OfferedPipelines
from trainer.service import TrainerState

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 10.0
"""A scheduler that takes longer than this to answer counts as unreachable for that call."""


@dataclass(frozen=True)
class Backoff:
    """Waits between attempts while the scheduler is unreachable: doubling, up to ``maximum``."""

    initial: float = 0.5
    # A scheduler that restarted counts a trainer silent for 3 heartbeats (15 s) as gone, once
    # it has waited its own retry time (scheduler.placement.TRAINER_RETRY_S): stay below both.
    maximum: float = 5.0

    def after(self, delay: float) -> float:
        return min(delay * 2, self.maximum)


async def keep_registered(
    trainer: TrainerState,
    scheduler_address: str,
    pipelines: OfferedPipelines,
    backoff: Backoff = Backoff(),
) -> None:
    """Register ``trainer`` and heartbeat until cancelled; never gives up on the scheduler.

    Registers again whenever ``pipelines`` change.
    """
    metadata = (("authorization", f"Bearer {trainer.settings.cluster_token}"),)
    delay = backoff.initial
    tls = trainer.settings.tls
    async with tls.aio_channel(scheduler_address) as channel:
        stub = scheduler_pb2_grpc.SchedulerServiceStub(channel)
        while True:
            try:
                pipelines.changed.clear()
                interval = await register(stub, trainer, metadata, pipelines.announced())
                log.info(
                    "registered with the scheduler at %s as %s (%s)",
                    scheduler_address,
                    trainer.trainer_id,
                    trainer.address,
                )
                delay = backoff.initial
                while not await _changed_within(pipelines, interval):
                    if not await heartbeat(stub, trainer, metadata):
                        log.warning(
                            "the scheduler no longer knows trainer %s; registering again",
                            trainer.trainer_id,
                        )
                        break
                else:
                    log.info("announcing the new pipelines to the scheduler")
            except grpc.aio.AioRpcError as error:
                hint = await _hint(error, tls.connects_with_tls)
                log.warning(
                    "%s%s; retrying in %.1f s",
                    _failure(scheduler_address, error),
                    hint,
                    delay,
                )
                await asyncio.sleep(delay)
                delay = backoff.after(delay)


async def register(
    stub: scheduler_pb2_grpc.SchedulerServiceStub,
    trainer: TrainerState,
    metadata: tuple[tuple[str, str], ...],
    pipelines: Sequence[experiment_pb2.PipelineInfo],
) -> float:
    """Register (again) under the trainer's id; return the heartbeat interval in seconds.

    The scheduler may hand out another id: the trainer goes by that one from then on.
    """
    response: scheduler_pb2.RegisterTrainerResponse = await stub.RegisterTrainer(
        scheduler_pb2.RegisterTrainerRequest(
            address=trainer.address,
            slots=trainer.settings.slots,
            pipelines=pipelines,
            trainer_id=trainer.trainer_id,
            running_experiment_ids=trainer.held_experiment_ids,
        ),
        metadata=metadata,
        timeout=CALL_TIMEOUT_S,
    )
    if response.trainer_id:
        trainer.trainer_id = response.trainer_id
    return float(max(1, response.heartbeat_interval_seconds))


async def heartbeat(
    stub: scheduler_pb2_grpc.SchedulerServiceStub,
    trainer: TrainerState,
    metadata: tuple[tuple[str, str], ...],
) -> bool:
    """Heartbeat now; whether the scheduler still knows the trainer."""
    response: scheduler_pb2.TrainerHeartbeatResponse = await stub.TrainerHeartbeat(
        scheduler_pb2.TrainerHeartbeatRequest(
            trainer_id=trainer.trainer_id,
            running_experiment_ids=trainer.held_experiment_ids,
        ),
        metadata=metadata,
        timeout=CALL_TIMEOUT_S,
    )
    trainer.acknowledge(response.acknowledged, response.forget_experiment_ids)
    return response.registered


async def _changed_within(pipelines: OfferedPipelines, seconds: float) -> bool:
    """Wait ``seconds``, or less if the pipelines change meanwhile; whether they did."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            await pipelines.changed.wait()
    return pipelines.changed.is_set()


def _failure(scheduler_address: str, error: grpc.aio.AioRpcError) -> str:
    """What went wrong, in words: a scheduler that refused the token was reached all right."""
    what = f"({error.code().name}: {error.details()})"
    if error.code() == grpc.StatusCode.UNAUTHENTICATED:
        return f"the scheduler at {scheduler_address} refused this trainer's cluster token {what}"
    return f"cannot reach the scheduler at {scheduler_address} {what}"


async def _hint(error: grpc.aio.AioRpcError, tls: bool) -> str:
    if error.code() == grpc.StatusCode.UNAUTHENTICATED:
        return "; set FORGE_CLUSTER_TOKEN to the scheduler's cluster token"
    if error.code() == grpc.StatusCode.UNAVAILABLE:
        # It may ask the scheduler for a TLS handshake: not on the loop.
        hint = await asyncio.to_thread(connection_hint, error.details() or "", tls=tls)
        return f"; {hint}" if hint else ""
    return ""
