"""Every error a caller can cause, as the one gRPC status it gets: decided here and nowhere else.

The servicers raise domain errors (`store.NotFound`, `auth.Throttled`, `BadRequest`, ...) and
`scheduler.interceptors` turns each into a status with `status_for`, so every RPC answers the
same mistake the same way and no bad input reaches a client as `UNKNOWN`:

| error | status | details |
|---|---|---|
| `BadRequest`, `InvalidAccount`, `InvalidPageToken` | INVALID_ARGUMENT | `google.rpc.BadRequest` |
| `NotFound` | NOT_FOUND | |
| `AlreadyExists` | ALREADY_EXISTS | |
| `IllegalTransition`, `NotPredictable` | FAILED_PRECONDITION | |
| `Unauthenticated` (and `TokenExpired`) | UNAUTHENTICATED | |
| `PermissionDenied` | PERMISSION_DENIED | |
| `Throttled` | RESOURCE_EXHAUSTED | `google.rpc.RetryInfo` (whole seconds) |
| `nats.errors.Error`, `BusUnavailable`, `NoTrainerAvailable` | UNAVAILABLE | |

The details travel as gRPC's standard rich status: a `google.rpc.Status` in the trailing
metadata `grpc-status-details-bin`, which grpcurl prints and every gRPC library reads
(`grpc_status.rpc_status`). A `BadRequest` has one field violation per broken rule: `field` is
the path in the request (`pipeline`, `config.epochs`, `page_token`), `reason` the rule,
`description` the message; so the gateway can answer 422 naming each field without parsing the
message. The status message names the fields too. Anything else is a bug: it is logged with
its traceback and answered INTERNAL, without details that could leak internals.

The status message and the details travel as metadata, which gRPC caps (8 KiB before it may
refuse an answer, 16 KiB before it must), so whatever a caller sent, both are kept within
budgets that fit: messages quote input cut short (`scheduler.quoting`), and here a message is cut
to `MESSAGE_BUDGET` bytes and the field violations stop at `DETAILS_BUDGET`, saying how many more
there were. A client always gets the status meant for it, never a transport error.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import grpc
import nats.errors
from google.protobuf.duration_pb2 import Duration
from google.protobuf.message import DecodeError
from google.protobuf.message import Message as ProtoMessage
from google.rpc.error_details_pb2 import BadRequest as BadRequestDetails
from google.rpc.error_details_pb2 import RetryInfo
from google.rpc.status_pb2 import Status
from grpc_status import rpc_status

from scheduler.auth import InvalidAccount, PermissionDenied, Throttled, Unauthenticated
from scheduler.bus import BusUnavailable
from scheduler.quoting import ELLIPSIS
from scheduler.store import AlreadyExists, IllegalTransition, InvalidPageToken, NotFound

# Bytes on the wire; together well under gRPC's 8 KiB, with room for the other headers. The
# rich status repeats the message beside the details, and is sent base64-encoded (3 bytes take
# 4): at most 2048 + 4/3 * (2048 + 1536) bytes in all.
MESSAGE_BUDGET = 2048
DETAILS_BUDGET = 1536
# Each field error's own share, so that one long error cannot crowd out the others.
FIELD_BUDGET = 256
FIELD_MESSAGE_BUDGET = 768

Metadata = tuple[tuple[str, str | bytes], ...]
# The trailing metadata gRPC keeps a rich status in.
STATUS_DETAILS_KEY = "grpc-status-details-bin"


@dataclass(frozen=True)
class FieldError:
    """One broken rule: `field` (a dotted path in the request), `rule` (a stable name for
    programs, e.g. `greater_than_equal`, `extra_forbidden`, `missing`) and `message` (for
    people; it names the field).
    """

    field: str
    rule: str
    message: str


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
    match error:
        case BadRequest():
            return _invalid(str(error), error.errors)
        case InvalidAccount():
            return _invalid(str(error), [FieldError(error.field, "invalid_account", str(error))])
        case InvalidPageToken():
            return _invalid(str(error), [FieldError("page_token", "invalid", str(error))])
        case NotFound():
            return _status(grpc.StatusCode.NOT_FOUND, str(error))
        case AlreadyExists():
            return _status(grpc.StatusCode.ALREADY_EXISTS, str(error))
        case IllegalTransition() | NotPredictable():
            return _status(grpc.StatusCode.FAILED_PRECONDITION, str(error))
        case NoTrainerAvailable():
            return _status(grpc.StatusCode.UNAVAILABLE, str(error))
        case Throttled():
            delay = Duration(seconds=max(1, math.ceil(error.retry_after)))
            retry = RetryInfo(retry_delay=delay)
            return _status(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error), retry)
        case Unauthenticated():
            return _status(grpc.StatusCode.UNAUTHENTICATED, str(error))
        case PermissionDenied():
            return _status(grpc.StatusCode.PERMISSION_DENIED, str(error))
        case BusUnavailable() | nats.errors.Error():
            return _status(
                grpc.StatusCode.UNAVAILABLE,
                f"the scheduler cannot reach its message bus (NATS) right now ({error}); "
                "try again shortly",
            )
    return None


def _status(code: grpc.StatusCode, message: str, *details: ProtoMessage) -> RpcStatus:
    """A status with `message` cut to its budget, and `details` as a rich status when any."""
    message = fit(message, MESSAGE_BUDGET)
    if not details:
        return RpcStatus(code, message)
    rich = Status(code=code.value[0], message=message)
    for detail in details:
        rich.details.add().Pack(detail)
    return RpcStatus(code, message, tuple(rpc_status.to_status(rich).trailing_metadata))


def _invalid(message: str, errors: Sequence[FieldError]) -> RpcStatus:
    request = BadRequestDetails()
    size = 0
    for error in errors:
        violation = BadRequestDetails.FieldViolation(
            field=fit(error.field, FIELD_BUDGET),
            reason=fit(error.rule, FIELD_BUDGET),
            description=fit(error.message, FIELD_MESSAGE_BUDGET),
        )
        # The violation, and its tag and length inside the BadRequest.
        violation_size = violation.ByteSize() + 3
        if size + violation_size > DETAILS_BUDGET:
            break
        request.field_violations.append(violation)
        size += violation_size
    listed = len(request.field_violations)
    if listed < len(errors):
        message = f"{len(errors)} errors, the first {listed} listed: {message}"
    return _status(grpc.StatusCode.INVALID_ARGUMENT, message, request)


def rich_status(trailing_metadata: Sequence[tuple[str, str | bytes]]) -> Status | None:
    """The rich status a call ended with, read back (for clients and tests); None for none."""
    for key, value in trailing_metadata:
        if key == STATUS_DETAILS_KEY and isinstance(value, bytes):
            try:
                return Status.FromString(value)
            except DecodeError:
                return None
    return None


def field_errors(trailing_metadata: Sequence[tuple[str, str | bytes]]) -> list[FieldError]:
    """The field errors an INVALID_ARGUMENT status carries, read back (for clients and tests)."""
    status = rich_status(trailing_metadata)
    errors: list[FieldError] = []
    for detail in status.details if status is not None else ():
        request = BadRequestDetails()
        if detail.Unpack(request):
            errors += [
                FieldError(violation.field, violation.reason, violation.description)
                for violation in request.field_violations
            ]
    return errors


def retry_after(trailing_metadata: Sequence[tuple[str, str | bytes]]) -> float | None:
    """The seconds a RESOURCE_EXHAUSTED status says to wait, read back; None for none."""
    status = rich_status(trailing_metadata)
    for detail in status.details if status is not None else ():
        info = RetryInfo()
        if detail.Unpack(info):
            return info.retry_delay.ToTimedelta().total_seconds()
    return None


def fit(text: str, budget: int) -> str:
    """`text`, cut and marked with "…" where needed to take at most `budget` bytes as metadata.

    Counted the dearer way it may travel: percent-encoded in a status message (3 bytes for each
    byte that is not printable ASCII, and for `%`), and never less than its UTF-8 bytes in the
    details.
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
        return 3 if character == "%" else 1
    # Percent-encoding takes 3 bytes per UTF-8 byte.
    return 3 * len(character.encode("utf-8", "surrogatepass"))
