"""The one place where every scheduler RPC is authenticated and its errors become gRPC statuses.

`SchedulerInterceptor` wraps each handler of `AuthService` and `SchedulerService`: before the
servicer runs it checks the credentials the method needs (`scheduler.caller`) and binds the
verified caller; while it runs, a domain error is answered with the status
`scheduler.errors.status_for` gives it, and anything unexpected is logged and answered
INTERNAL. Servicers therefore raise errors and never call `context.abort` themselves. Requests
that cannot be decoded, or hold text no database can store, are refused here too, before the
servicer sees them (`scheduler.requests`).
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable
from typing import Any, cast

import grpc
import grpc.aio

from scheduler.caller import Credentials, authenticate, bound_caller, credentials_for
from scheduler.errors import status_for
from scheduler.records import Caller
from scheduler.requests import check_request, tolerant

log = logging.getLogger(__name__)

Context = grpc.aio.ServicerContext[Any, Any]
Unary = Callable[[Any, Context], Awaitable[Any]]
Streaming = Callable[[Any, Context], AsyncGenerator[Any, None]]
StreamingWriter = Callable[[Any, Context], Awaitable[None]]


class SchedulerInterceptor(grpc.aio.ServerInterceptor):
    """Checks credentials and maps errors for the scheduler's own services."""

    def __init__(self, *, jwt_secret: str, cluster_token: str) -> None:
        self._jwt_secret = jwt_secret
        self._cluster_token = cluster_token

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        needed = credentials_for(handler_call_details.method)
        if handler is None or needed is None:
            return handler
        if handler.unary_unary is not None:
            return grpc.unary_unary_rpc_method_handler(
                self._unary(cast(Unary, handler.unary_unary), needed, handler_call_details.method),
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        if handler.unary_stream is not None:
            return grpc.unary_stream_rpc_method_handler(
                self._streaming(
                    cast(Streaming, handler.unary_stream), needed, handler_call_details.method
                ),
                request_deserializer=tolerant(handler.request_deserializer),
                response_serializer=handler.response_serializer,
            )
        raise TypeError(f"{handler_call_details.method}: client streaming is not in the contract")

    def _unary(self, behaviour: Unary, needed: Credentials, method: str) -> Unary:
        async def guarded(request: Any, context: Context) -> Any:
            try:
                with bound_caller(self._authenticate(needed, context)):
                    check_request(request)
                    return await behaviour(request, context)
            except grpc.aio.AbortError:
                raise
            except Exception as error:
                await _abort(context, error, method)

        return guarded

    def _streaming(self, behaviour: Streaming, needed: Credentials, method: str) -> StreamingWriter:
        # A coroutine that writes each response, not an async generator that yields it: when
        # the client hangs up while a response is being written, gRPC cancels the RPC's task
        # there, and an async generator of ours would be left suspended at its `yield`, to be
        # closed later by the garbage collector in another task, whose context cannot reset
        # the caller bound here (ValueError, then an abort of a finished RPC), while the
        # servicer's stream (and its NATS subscription) stayed open until then. Writing from
        # here, the cancellation arrives inside this coroutine, and the servicer's stream and
        # the caller are closed and reset at once, in the RPC's own task.
        async def guarded(request: Any, context: Context) -> None:
            try:
                with bound_caller(self._authenticate(needed, context)):
                    check_request(request)
                    async with contextlib.aclosing(behaviour(request, context)) as responses:
                        async for response in responses:
                            await context.write(response)
            except grpc.aio.AbortError:
                raise
            except Exception as error:
                await _abort(context, error, method)

        return guarded

    def _authenticate(self, needed: Credentials, context: Context) -> Caller | None:
        # grpc-stubs type the metadata loosely; it is (key, value) pairs.
        metadata: list[tuple[str, str | bytes]] = list(context.invocation_metadata() or ())
        return authenticate(
            needed,
            metadata,
            jwt_secret=self._jwt_secret,
            cluster_token=self._cluster_token,
        )


async def _abort(context: Context, error: Exception, method: str) -> None:
    status = status_for(error)
    if status is None:
        incident = uuid.uuid4().hex[:12]
        log.exception("%s failed (incident %s)", method, incident)
        await context.abort(
            grpc.StatusCode.INTERNAL,
            f"the scheduler failed to answer {method} (incident {incident} in its log)",
        )
    await context.abort(status.code, status.message, status.trailing_metadata)
