"""A real gRPC server that answers every scheduler RPC with the error a test chooses.

The gateway's error mapping is about what it does with each gRPC status, including ones the
real scheduler seldom or never sends (DATA_LOSS, UNIMPLEMENTED, ...). This server speaks the
real `azuraforge.v1` services over a real channel, records each call's metadata and request
message, and ends each call with `code`, `details` and `trailing` as set by the test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio

from azuraforge.v1 import auth_pb2_grpc, scheduler_pb2_grpc


class Refuser(scheduler_pb2_grpc.SchedulerServiceServicer, auth_pb2_grpc.AuthServiceServicer):
    """Every RPC of both services ends with the chosen status."""

    def __init__(self) -> None:
        self.code = grpc.StatusCode.UNAVAILABLE
        self.details = "refused"
        self.trailing: tuple[tuple[str, str | bytes], ...] = ()
        self.calls: list[tuple[str, dict[str, str]]] = []
        self.requests: list[Any] = []

    async def _refuse(
        self, name: str, request: Any, context: grpc.aio.ServicerContext[Any, Any]
    ) -> None:
        metadata = context.invocation_metadata() or ()
        self.calls.append((name, {key: str(value) for key, value in metadata}))
        self.requests.append(request)
        context.set_trailing_metadata(self.trailing)
        await context.abort(self.code, self.details)

    def __getattribute__(self, name: str) -> Any:
        # Every RPC method of the services, unary or streaming, refuses the same way.
        if name[:1].isupper() and name not in ("Refuser",):

            async def refuse(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> Any:
                await object.__getattribute__(self, "_refuse")(name, request, context)

            return refuse
        return object.__getattribute__(self, name)


@asynccontextmanager
async def running_refuser() -> AsyncIterator[tuple[Refuser, str]]:
    """The refusing server on a free loopback port: the servicer and its address."""
    server = grpc.aio.server()
    refuser = Refuser()
    scheduler_pb2_grpc.add_SchedulerServiceServicer_to_server(refuser, server)
    auth_pb2_grpc.add_AuthServiceServicer_to_server(refuser, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield refuser, f"127.0.0.1:{port}"
    finally:
        await server.stop(None)
