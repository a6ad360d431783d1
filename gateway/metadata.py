"""What travels from an HTTP request to the scheduler as gRPC metadata: credentials and an id.

The caller's `Authorization` header goes to the scheduler unchanged as the metadata
`authorization`; the gateway never reads, checks or keeps a token (the scheduler does). The
request's id goes along as `x-request-id`, so one request can be followed through both logs.
"""

from __future__ import annotations

from http import HTTPStatus

from aiohttp import web

from gateway.errors import ApiError
from gateway.keys import REQUEST_ID

Metadata = tuple[tuple[str, str], ...]


def call_metadata(request: web.Request) -> Metadata:
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


def bearer_metadata(token: str, request_id: str | None) -> Metadata:
    """gRPC metadata for a token that arrived another way than the header (WebSockets)."""
    metadata = [("authorization", f"Bearer {token}")]
    if request_id:
        metadata.append(("x-request-id", request_id))
    return tuple(metadata)
