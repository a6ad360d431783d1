"""The gateway's errors: one HTTP status and JSON body for each way a request can fail.

A gRPC status becomes one HTTP status and the body `{"error": {"code", "message", "details"}}`
(docs/architecture.md#contracts). `code` is the gRPC status name in lower case
(`invalid_argument`), or the gateway's own name for an error it finds itself
(`payload_too_large`), so a program can branch on it; `message` is the scheduler's text.

The scheduler says which fields were wrong and when to try again with gRPC's standard rich
status (`grpc-status-details-bin`, a `google.rpc.Status`): a `google.rpc.BadRequest` becomes
`details`, one `{"field", "rule", "message"}` per field violation, and a `google.rpc.RetryInfo`
the `Retry-After` header, in whole seconds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import grpc
from aiohttp import web
from google.protobuf.message import DecodeError
from google.rpc.error_details_pb2 import BadRequest as BadRequestDetails
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status

from azuraforge.tls import connection_hint

# Every gRPC status the scheduler may answer, as HTTP. Nothing maps to 500: a status that says
# the scheduler failed is 502 (the gateway's upstream failed), one a client caused is a 4xx.
HTTP_STATUS: dict[grpc.StatusCode, int] = {
    grpc.StatusCode.INVALID_ARGUMENT: HTTPStatus.UNPROCESSABLE_ENTITY,
    grpc.StatusCode.OUT_OF_RANGE: HTTPStatus.UNPROCESSABLE_ENTITY,
    grpc.StatusCode.UNAUTHENTICATED: HTTPStatus.UNAUTHORIZED,
    grpc.StatusCode.PERMISSION_DENIED: HTTPStatus.FORBIDDEN,
    grpc.StatusCode.NOT_FOUND: HTTPStatus.NOT_FOUND,
    grpc.StatusCode.ALREADY_EXISTS: HTTPStatus.CONFLICT,
    grpc.StatusCode.FAILED_PRECONDITION: HTTPStatus.CONFLICT,
    grpc.StatusCode.ABORTED: HTTPStatus.CONFLICT,
    grpc.StatusCode.RESOURCE_EXHAUSTED: HTTPStatus.TOO_MANY_REQUESTS,
    grpc.StatusCode.CANCELLED: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.UNAVAILABLE: HTTPStatus.SERVICE_UNAVAILABLE,
    grpc.StatusCode.DEADLINE_EXCEEDED: HTTPStatus.GATEWAY_TIMEOUT,
    grpc.StatusCode.UNIMPLEMENTED: HTTPStatus.NOT_IMPLEMENTED,
    grpc.StatusCode.INTERNAL: HTTPStatus.BAD_GATEWAY,
    grpc.StatusCode.UNKNOWN: HTTPStatus.BAD_GATEWAY,
    grpc.StatusCode.DATA_LOSS: HTTPStatus.BAD_GATEWAY,
}
UNAVAILABLE_HINT = (
    "try again shortly; if it lasts, check that the scheduler is running (forge up) and that "
    "the gateway's FORGE_SCHEDULER_ADDR points at it"
)
# The trailing metadata gRPC keeps a rich status in.
STATUS_DETAILS_KEY = "grpc-status-details-bin"
# An error quotes at most this much of what a client sent (the scheduler's limit too), so that
# a 10,000-character name does not come back whole.
QUOTE_LIMIT = 100


@dataclass
class ApiError(Exception):
    """An error to answer with: HTTP status, machine-readable code, message and details."""

    status: int
    code: str
    message: str
    details: list[dict[str, Any]] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def body(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def response(self) -> web.Response:
        return web.json_response(self.body(), status=self.status, headers=self.headers)


def shorten(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text`, cut to `limit` characters and "…" when longer: what an error echoes of input."""
    return text if len(text) <= limit else text[:limit] + "…"


def quote(text: str, limit: int = QUOTE_LIMIT) -> str:
    """`text` shortened and quoted as Python writes a string (`'alice'`), for messages."""
    return repr(shorten(text, limit))


def invalid(field_name: str, message: str) -> ApiError:
    """A 422 for a request the gateway can tell is wrong before asking the scheduler."""
    field_name = shorten(field_name)
    return ApiError(
        HTTPStatus.UNPROCESSABLE_ENTITY,
        "invalid_argument",
        f"{field_name}: {message}",
        [{"field": field_name, "message": message}],
    )


def api_error(error: grpc.RpcError, *, tls: bool = False) -> ApiError:
    """The HTTP answer for a failed scheduler call; `tls`: whether the gateway connects so."""
    code: grpc.StatusCode = error.code()
    message: str = error.details() or ""
    status = HTTP_STATUS.get(code, HTTPStatus.BAD_GATEWAY)
    details: list[dict[str, Any]] = []
    headers: dict[str, str] = {}
    rich = status_details(_trailing_metadata(error))
    if code is grpc.StatusCode.UNAVAILABLE:
        # The scheduler's own reason (its NATS is down) or gRPC's (nothing listens there, or
        # the two ends disagree about TLS: then what to set on the gateway).
        hint = connection_hint(message, tls=tls, client="on the gateway", probe=False)
        message = f"the scheduler is unavailable ({message}); {hint or UNAVAILABLE_HINT}"
    elif code is grpc.StatusCode.INVALID_ARGUMENT:
        details = field_details(rich)
    elif code is grpc.StatusCode.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = 'Bearer realm="azuraforge"'
    elif code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        retry_after = retry_after_seconds(rich)
        if retry_after is not None:
            headers["Retry-After"] = str(retry_after)
    return ApiError(status, code.name.lower(), message, details, headers)


def status_details(metadata: Sequence[tuple[str, str | bytes]]) -> Status | None:
    """The rich status a call ended with, or None when it sent none or one that is unreadable.

    An unreadable one is ignored rather than failing the answer: the details help a client,
    the status and message already say what went wrong.
    """
    for key, value in metadata:
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                return Status.FromString(value)
            except DecodeError:
                return None
    return None


def field_details(status: Status | None) -> list[dict[str, Any]]:
    """The broken rules a rich status lists, each `{"field", "rule", "message"}`."""
    details: list[dict[str, Any]] = []
    for detail in status.details if status is not None else ():
        request = BadRequestDetails()
        if not detail.Unpack(request):
            continue
        for violation in request.field_violations:
            rule = {"rule": violation.reason} if violation.reason else {}
            details.append({"field": violation.field, **rule, "message": violation.description})
    return details


def retry_after_seconds(status: Status | None) -> int | None:
    """The whole seconds a rich status's `RetryInfo` says to wait (at least 1); None for none."""
    for detail in status.details if status is not None else ():
        info = RetryInfo()
        if detail.Unpack(info):
            delay = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
            return max(1, math.ceil(delay))
    return None


def _trailing_metadata(error: grpc.RpcError) -> Sequence[tuple[str, str | bytes]]:
    trailing = getattr(error, "trailing_metadata", None)
    metadata = trailing() if callable(trailing) else None
    return tuple(metadata or ())
