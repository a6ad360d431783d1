"""Only the cluster's scheduler may run experiments here: every TrainerService RPC needs its token.

The scheduler sends ``authorization: Bearer <cluster token>`` metadata on every call. An
interceptor checks it before any servicer code runs, so no RPC can forget to, and an RPC added
later is covered too. The comparison takes the same time however much of the token matches
(``hmac.compare_digest``), so timing tells a caller nothing about it. Health and reflection stay
open: load balancers and ``grpcurl list`` carry no token, and neither reveals anything.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any

import grpc
import grpc.aio

SERVICE_PREFIX = "/azuraforge.v1.TrainerService/"
DENIED = (
    "this trainer needs the cluster token: send `authorization: Bearer <token>` metadata with "
    "the scheduler's cluster token (FORGE_CLUSTER_TOKEN)"
)


def authorized(metadata: Any, token: str) -> bool:
    """Whether ``metadata`` (key, value pairs) carries ``Bearer <token>`` as its authorization."""
    expected = f"Bearer {token}".encode()
    for key, value in metadata or ():
        if key == "authorization":
            given = value if isinstance(value, bytes) else str(value).encode()
            return hmac.compare_digest(given, expected)
    return False


class ClusterTokenInterceptor(grpc.aio.ServerInterceptor):
    """Answers ``UNAUTHENTICATED`` to a TrainerService call without the cluster token."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if (
            handler is None
            or not handler_call_details.method.startswith(SERVICE_PREFIX)
            or authorized(handler_call_details.invocation_metadata, self._token)
        ):
            return handler
        return _denying(handler)


async def _deny(request: Any, context: grpc.aio.ServicerContext[Any, Any]) -> None:
    await context.abort(grpc.StatusCode.UNAUTHENTICATED, DENIED)


def _denying(handler: grpc.RpcMethodHandler) -> grpc.RpcMethodHandler:
    """A handler for the same method that answers ``UNAUTHENTICATED`` and runs nothing else."""
    make = (
        grpc.unary_stream_rpc_method_handler
        if handler.response_streaming
        else grpc.unary_unary_rpc_method_handler
    )
    return make(
        _deny,
        request_deserializer=handler.request_deserializer,
        response_serializer=handler.response_serializer,
    )
