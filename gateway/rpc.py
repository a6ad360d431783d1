"""The one place where HTTP meets gRPC: credentials in, errors and messages out.

- The caller's `Authorization` header travels to the scheduler unchanged as the gRPC metadata
  `authorization`; the gateway never reads, checks or keeps a token (the scheduler does).
- A gRPC status becomes one HTTP status and the JSON error body
  `{"error": {"code", "message", "details"}}` (docs/architecture.md#contracts). `code` is the
  gRPC status name in lower case (`invalid_argument`), or the gateway's own name for an error
  it finds itself (`payload_too_large`), so a program can branch on it; `message` is the
  scheduler's text.
- Messages become JSON with protobuf's own mapping (`json_format`), keeping the `.proto` field
  names (`experiment_id`, as `grpcurl` users and the OAuth2 token response spell them), printing
  zero values (a pending experiment shows `"epochs_done": 0`), and 64-bit integers as JSON
  numbers where JavaScript reads them exactly (`"seq": 12`). Protobuf's JSON parsers read
  this form back, so it is the protobuf JSON form of each message.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

import grpc
from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2_grpc

from azuraforge.tls import TlsSettings, connection_hint
from azuraforge.v1 import auth_pb2_grpc, scheduler_pb2_grpc
from gateway.keys import REQUEST_ID

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
# Trailing metadata of the scheduler's errors (see scheduler/errors.py, read here, not imported):
# INVALID_ARGUMENT carries a JSON array of `{"field", "rule", "message"}`, one per broken rule;
# RESOURCE_EXHAUSTED the whole seconds to wait.
FIELD_ERRORS_KEY = "forge-field-errors"
RETRY_AFTER_KEY = "retry-after"
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
    trailing = _trailing_metadata(error)
    if code is grpc.StatusCode.UNAVAILABLE:
        # The scheduler's own reason (its NATS is down) or gRPC's (nothing listens there, or
        # the two ends disagree about TLS: then what to set on the gateway).
        hint = connection_hint(message, tls=tls, client="on the gateway", probe=False)
        message = f"the scheduler is unavailable ({message}); {hint or UNAVAILABLE_HINT}"
    elif code is grpc.StatusCode.INVALID_ARGUMENT:
        details = field_details(trailing)
    elif code is grpc.StatusCode.UNAUTHENTICATED:
        headers["WWW-Authenticate"] = 'Bearer realm="azuraforge"'
    elif code is grpc.StatusCode.RESOURCE_EXHAUSTED:
        retry_after = _metadata_value(trailing, RETRY_AFTER_KEY)
        if retry_after is not None and retry_after.isdigit():
            headers["Retry-After"] = retry_after
    return ApiError(status, code.name.lower(), message, details, headers)


def field_details(metadata: Sequence[tuple[str, str | bytes]]) -> list[dict[str, Any]]:
    """The broken rules the scheduler listed with an INVALID_ARGUMENT, each naming its field.

    Entries that are not `{"field", ...}` objects are left out rather than failing the answer:
    the field list helps a client, the status and message already say what went wrong.
    """
    text = _metadata_value(metadata, FIELD_ERRORS_KEY)
    if text is None:
        return []
    try:
        items = json.loads(text)
    except ValueError:
        return []
    if not isinstance(items, list):
        return []
    return [
        {key: item[key] for key in ("field", "rule", "message") if isinstance(item.get(key), str)}
        for item in items
        if isinstance(item, dict) and isinstance(item.get("field"), str)
    ]


def _metadata_value(metadata: Sequence[tuple[str, str | bytes]], key: str) -> str | None:
    for name, value in metadata:
        if name == key:
            return _text(value)
    return None


def _trailing_metadata(error: grpc.RpcError) -> Sequence[tuple[str, str | bytes]]:
    trailing = getattr(error, "trailing_metadata", None)
    metadata = trailing() if callable(trailing) else None
    return tuple(metadata or ())


def _text(value: str | bytes) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


def call_metadata(request: web.Request) -> tuple[tuple[str, str], ...]:
    """gRPC metadata for a scheduler call made for `request`: its credentials and request id."""
    metadata: list[tuple[str, str]] = []
    authorization = request.headers.get("Authorization")
    if authorization:
        if not is_metadata_text(authorization):
            raise ApiError(
                HTTPStatus.UNAUTHORIZED,
                "unauthenticated",
                "the Authorization header must be `Bearer <token>`, in printable ASCII",
            )
        metadata.append(("authorization", authorization))
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        metadata.append(("x-request-id", request_id))
    return tuple(metadata)


def is_metadata_text(value: str) -> bool:
    """Whether `value` may travel as gRPC metadata: printable ASCII, as HTTP/2 headers allow."""
    return all(" " <= character <= "~" for character in value)


def bearer_metadata(token: str, request_id: str | None) -> tuple[tuple[str, str], ...]:
    """gRPC metadata for a token that arrived another way than the header (WebSockets)."""
    metadata = [("authorization", f"Bearer {token}")]
    if request_id:
        metadata.append(("x-request-id", request_id))
    return tuple(metadata)


def to_json(message: Message) -> dict[str, Any]:
    """`message` in the protobuf JSON form described in the module docstring."""
    return json_format.MessageToDict(
        message,
        always_print_fields_with_no_presence=True,
        preserving_proto_field_name=True,
        unquote_int64_if_possible=True,
    )


def json_text(message: Message) -> str:
    """`to_json` serialised, for WebSocket frames."""
    return json.dumps(to_json(message), separators=(",", ":"))


@dataclass(frozen=True)
class Scheduler:
    """The stubs of one channel to the scheduler, shared by every request of the process."""

    channel: grpc.aio.Channel
    auth: auth_pb2_grpc.AuthServiceStub
    scheduler: scheduler_pb2_grpc.SchedulerServiceStub
    health: health_pb2_grpc.HealthStub
    timeout: float

    @classmethod
    def connect(cls, address: str, timeout: float, tls: TlsSettings | None = None) -> Scheduler:
        channel = (tls or TlsSettings()).aio_channel(address)
        return cls(
            channel=channel,
            auth=auth_pb2_grpc.AuthServiceStub(channel),
            scheduler=scheduler_pb2_grpc.SchedulerServiceStub(channel),
            health=health_pb2_grpc.HealthStub(channel),
            timeout=timeout,
        )
