"""The gateway's one channel to the scheduler and the stubs of the services behind it.

Built once per process by the app's cleanup context and shared by every request; the routes
reach it with `gateway.keys.scheduler`.
"""

from __future__ import annotations

from dataclasses import dataclass

import grpc
from grpc_health.v1 import health_pb2_grpc

from azuraforge.tls import TlsSettings
from azuraforge.v1 import auth_pb2_grpc, scheduler_pb2_grpc, sweep_pb2_grpc
from gateway.call_gate import CallGate


@dataclass(frozen=True)
class SchedulerStubs:
    """Stubs for the scheduler's `AuthService`, `SchedulerService`, `SweepService` and health,
    on one channel."""

    channel: grpc.aio.Channel
    auth: auth_pb2_grpc.AuthServiceStub
    scheduler: scheduler_pb2_grpc.SchedulerServiceStub
    sweeps: sweep_pb2_grpc.SweepServiceStub
    health: health_pb2_grpc.HealthStub
    # Seconds a unary call may take.
    timeout: float
    # Bounds the calls waiting for the scheduler to take them up (see `gateway.call_gate`).
    gate: CallGate

    @classmethod
    def connect(
        cls, address: str, timeout: float, tls: TlsSettings | None = None
    ) -> SchedulerStubs:
        channel = (tls or TlsSettings()).aio_channel(address)
        return cls(
            channel=channel,
            auth=auth_pb2_grpc.AuthServiceStub(channel),
            scheduler=scheduler_pb2_grpc.SchedulerServiceStub(channel),
            sweeps=sweep_pb2_grpc.SweepServiceStub(channel),
            health=health_pb2_grpc.HealthStub(channel),
            timeout=timeout,
            gate=CallGate(),
        )
