"""Every error a caller can cause, as the one gRPC status it gets: decided here and nowhere else.

The servicers raise domain errors (`store.NotFound`, `auth.Throttled`, `BadRequest`, ...) and
`scheduler.interceptors` turns each into a status with `status_for`, so every RPC answers the
same mistake the same way and no bad input reaches a client as `UNKNOWN`:

| error | status | trailing metadata |
|---|---|---|
| `BadRequest`, `InvalidAccount`, `InvalidPageToken` | INVALID_ARGUMENT | `forge-field-errors` |
| `NotFound` | NOT_FOUND | |
| `AlreadyExists` | ALREADY_EXISTS | |
| `IllegalTransition`, `NotPredictable` | FAILED_PRECONDITION | |
| `Unauthenticated` (and `TokenExpired`) | UNAUTHENTICATED | |
| `PermissionDenied` | PERMISSION_DENIED | |
| `Throttled` | RESOURCE_EXHAUSTED | `retry-after` (whole seconds) |
| `nats.errors.Error`, `BusUnavailable`, `NoTrainerAvailable` | UNAVAILABLE | |

`forge-field-errors` is a JSON array of `{"field", "rule", "message"}`, one per broken rule, so
the gateway can answer 422 naming each field without parsing the message. `field` is the path
in the request: `pipeline`, `config.epochs`, `page_token`. The message names the fields too,
for grpcurl users. Anything else is a bug: it is logged with its traceback and answered
INTERNAL, without details that could leak internals.

The status message and the field errors travel as metadata, which gRPC caps (8 KiB before it
may refuse an answer, 16 KiB before it must), so whatever a caller sent, both are kept within
budgets that fit: messages quote input cut short (`forge_learner.quoting`), and here a message
is cut to `MESSAGE_BUDGET` bytes and the field errors stop at `FIELD_ERRORS_BUDGET`, saying how
many more there were. A client always gets the status meant for it, never a transport error.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import grpc
import nats.errors

from forge_learner.config import FieldError
from forge_learner.quoting import ELLIPSIS
from scheduler.auth import InvalidAccount, PermissionDenied, Throttled, Unauthenticated
from scheduler.bus import BusUnavailable
from scheduler.store import AlreadyExists, IllegalTransition, InvalidPageToken, NotFound

FIELD_ERRORS_KEY = "forge-field-errors"
RETRY_AFTER_KEY = "retry-after"
# Bytes on the wire; together well under gRPC's 8 KiB, with room for the other headers.
MESSAGE_BUDGET = 2048
FIELD_ERRORS_BUDGET = 4096
# Each field error's own share, so that one long error cannot crowd out the others.
FIELD_BUDGET = 256
FIELD_MESSAGE_BUDGET = 768

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


class NotPredictable(Exception):
    """The experiment cannot predict: it has not SUCCEEDED, or its run cannot (no model file)."""


class NoTrainerAvailable(Exception):
    """No live trainer offers the experiment's pipeline, or none could answer now."""


@dataclass(frozen=True)
class RpcStatus:
    """What an RPC ends with instead of its answer."""

    code: grpc.StatusCode
    message: str
    trailing_metadata: Metadata = ()


def status_for(error: Exception) -> RpcStatus | None:
    """The status for an error a caller caused; None for a bug (see the module docstring)."""
    status = _status(error)
    if status is None:
        return None
    return replace(status, message=fit(status.message, MESSAGE_BUDGET))


def _status(error: Exception) -> RpcStatus | None:
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
        case IllegalTransition() | NotPredictable():
            return RpcStatus(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        case NoTrainerAvailable():
            return RpcStatus(grpc.StatusCode.UNAVAILABLE, str(error))
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
    items: list[dict[str, str]] = []
    # The brackets of the array.
    size = 2
    for error in errors:
        item = {
            "field": fit(error.field, FIELD_BUDGET),
            "rule": fit(error.rule, FIELD_BUDGET),
            "message": fit(error.message, FIELD_MESSAGE_BUDGET),
        }
        item_size = len(_encode(item)) + 1
        if size + item_size > FIELD_ERRORS_BUDGET:
            break
        items.append(item)
        size += item_size
    left_out = len(errors) - len(items)
    if left_out:
        message = f"{len(errors)} errors, the first {len(items)} listed: {message}"
    metadata = ((FIELD_ERRORS_KEY, _encode(items)),)
    return RpcStatus(grpc.StatusCode.INVALID_ARGUMENT, message, metadata)


def _encode(value: object) -> str:
    # ensure_ascii: a metadata value that is not binary must be printable ASCII.
    return json.dumps(value, ensure_ascii=True)


def fit(text: str, budget: int) -> str:
    """`text`, cut and marked with "…" where needed to take at most `budget` bytes as metadata.

    Counted the dearer of the two ways it travels: percent-encoded in a status message, or
    JSON-escaped with `ensure_ascii` in the field errors.
    """
    room = budget - _wire_size(ELLIPSIS)
    used = 0
    for index, character in enumerate(text):
        size = _wire_size(character)
        if used + size > room:
            # What is left may still fit where the ellipsis would go (and every character
            # takes a byte at least, so a long rest is not even counted).
            rest = text[index:]
            if len(rest) <= budget - used and used + sum(map(_wire_size, rest)) <= budget:
                return text
            return text[:index] + ELLIPSIS
        used += size
    return text


def _wire_size(character: str) -> int:
    if " " <= character <= "~":
        # %, " and \ are escaped by one encoding or the other.
        return 3 if character in '%"\\' else 1
    # Percent-encoding takes 3 bytes per UTF-8 byte; JSON's \uXXXX takes 6 per UTF-16 unit.
    return max(6, 3 * len(character.encode("utf-8", "surrogatepass")))
