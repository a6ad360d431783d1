"""Every error a caller can cause, as the one gRPC status it gets: decided here and nowhere else.

The servicers raise domain errors (`store.NotFound`, `auth.Throttled`, `BadRequest`, ...) and
`scheduler.interceptors` turns each into a status with `status_for`, so every RPC answers the
same mistake the same way and no bad input reaches a client as `UNKNOWN`:

| error | status | trailing metadata |
|---|---|---|
| `BadRequest`, `InvalidAccount`, `InvalidPageToken` | INVALID_ARGUMENT | `forge-field-errors` |
| `NotFound` | NOT_FOUND | |
| `AlreadyExists` | ALREADY_EXISTS | |
| `IllegalTransition` | FAILED_PRECONDITION | |
| `Unauthenticated` (and `TokenExpired`) | UNAUTHENTICATED | |
| `PermissionDenied` | PERMISSION_DENIED | |
| `Throttled` | RESOURCE_EXHAUSTED | `retry-after` (whole seconds) |
| `nats.errors.Error`, `BusUnavailable` | UNAVAILABLE | |

`forge-field-errors` is a JSON array of `{"field", "rule", "message"}`, one per broken rule, so
the gateway can answer 422 naming each field without parsing the message. `field` is the path
in the request: `pipeline`, `config.epochs`, `page_token`. The message names the fields too,
for grpcurl users. Anything else is a bug: it is logged with its traceback and answered
INTERNAL, without details that could leak internals.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import grpc
import nats.errors

from forge_learner.config import FieldError
from scheduler.auth import InvalidAccount, PermissionDenied, Throttled, Unauthenticated
from scheduler.bus import BusUnavailable
from scheduler.store import AlreadyExists, IllegalTransition, InvalidPageToken, NotFound

FIELD_ERRORS_KEY = "forge-field-errors"
RETRY_AFTER_KEY = "retry-after"

Metadata = tuple[tuple[str, str], ...]


class BadRequest(ValueError):
    """A request with fields the scheduler cannot use; `errors` names each one and its rule."""

    def __init__(self, errors: Sequence[FieldError], summary: str = "") -> None:
        self.errors = list(errors)
        details = "; ".join(error.message for error in self.errors)
        super().__init__(f"{summary}: {details}" if summary else details)

    @classmethod
    def field(cls, field: str, rule: str, message: str) -> BadRequest:
        """A request with one bad field."""
        return cls([FieldError(field, rule, message)])


@dataclass(frozen=True)
class RpcStatus:
    """What an RPC ends with instead of its answer."""

    code: grpc.StatusCode
    message: str
    trailing_metadata: Metadata = ()


def status_for(error: Exception) -> RpcStatus | None:
    """The status for an error a caller caused; None for a bug (see the module docstring)."""
    match error:
        case BadRequest():
            return _invalid(str(error), error.errors)
        case InvalidAccount():
            return _invalid(str(error), [FieldError(error.field, "invalid_account", str(error))])
        case InvalidPageToken():
            return _invalid(str(error), [FieldError("page_token", "invalid", str(error))])
        case NotFound():
            return RpcStatus(grpc.StatusCode.NOT_FOUND, str(error))
        case AlreadyExists():
            return RpcStatus(grpc.StatusCode.ALREADY_EXISTS, str(error))
        case IllegalTransition():
            return RpcStatus(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        case Throttled():
            retry_after = str(max(1, math.ceil(error.retry_after)))
            return RpcStatus(
                grpc.StatusCode.RESOURCE_EXHAUSTED, str(error), ((RETRY_AFTER_KEY, retry_after),)
            )
        case Unauthenticated():
            return RpcStatus(grpc.StatusCode.UNAUTHENTICATED, str(error))
        case PermissionDenied():
            return RpcStatus(grpc.StatusCode.PERMISSION_DENIED, str(error))
        case BusUnavailable() | nats.errors.Error():
            return RpcStatus(
                grpc.StatusCode.UNAVAILABLE,
                f"the scheduler cannot reach its message bus (NATS) right now ({error}); "
                "try again shortly",
            )
    return None


def field_errors(trailing_metadata: Sequence[tuple[str, str | bytes]]) -> list[FieldError]:
    """The field errors an INVALID_ARGUMENT status carries, read back (for clients and tests)."""
    for key, value in trailing_metadata:
        if key == FIELD_ERRORS_KEY:
            text = value.decode() if isinstance(value, bytes) else value
            return [FieldError(**item) for item in json.loads(text)]
    return []


def _invalid(message: str, errors: Sequence[FieldError]) -> RpcStatus:
    # ensure_ascii: a metadata value that is not binary must be printable ASCII.
    encoded = json.dumps([asdict(error) for error in errors], ensure_ascii=True)
    return RpcStatus(grpc.StatusCode.INVALID_ARGUMENT, message, ((FIELD_ERRORS_KEY, encoded),))
