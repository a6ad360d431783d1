"""The one table of errors and the gRPC statuses they become."""

from __future__ import annotations

import math

import grpc
import pytest
from google.rpc.error_details_pb2 import BadRequest as BadRequestDetails

from scheduler.auth import (
    InvalidAccount,
    InvalidCredentials,
    PermissionDenied,
    Throttled,
    TokenExpired,
)
from scheduler.bus import BusUnavailable
from scheduler.db.models import ExperimentStatus
from scheduler.errors import (
    DETAILS_BUDGET,
    MESSAGE_BUDGET,
    BadRequest,
    FieldError,
    field_errors,
    fit,
    retry_after,
    rich_status,
    status_for,
)
from scheduler.store import AlreadyExists, IllegalTransition, InvalidPageToken, NotFound

Code = grpc.StatusCode


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (NotFound("experiment", "x"), Code.NOT_FOUND),
        (AlreadyExists("a user named 'a' exists already"), Code.ALREADY_EXISTS),
        (
            IllegalTransition("x", ExperimentStatus.SUCCEEDED, ExperimentStatus.CANCELLED),
            Code.FAILED_PRECONDITION,
        ),
        (InvalidCredentials(), Code.UNAUTHENTICATED),
        (TokenExpired("the access token has expired; log in again"), Code.UNAUTHENTICATED),
        (PermissionDenied("only an admin may do this"), Code.PERMISSION_DENIED),
        (BusUnavailable("no NATS"), Code.UNAVAILABLE),
    ],
)
def test_each_domain_error_has_its_status_and_keeps_its_message(error: Exception, code):
    status = status_for(error)

    assert status is not None
    assert status.code == code
    assert str(error) in status.message


def test_bad_requests_carry_their_field_errors_as_a_standard_bad_request():
    error = BadRequest(
        [
            FieldError("config.epochs", "greater_than_equal", "epochs: must be at least 1"),
            FieldError("config.mode", "literal_error", "mode: must be 'a' or 'b', got 'ü'"),
        ],
        "invalid config for pipeline 'probe'",
    )

    status = status_for(error)

    assert status is not None and status.code == Code.INVALID_ARGUMENT
    assert status.message.startswith("invalid config for pipeline 'probe': epochs: must be")
    ((key, value),) = status.trailing_metadata
    assert key == "grpc-status-details-bin" and isinstance(value, bytes)
    rich = rich_status(status.trailing_metadata)
    assert rich is not None
    assert (rich.code, rich.message) == (Code.INVALID_ARGUMENT.value[0], status.message)
    request = BadRequestDetails()
    assert rich.details[0].Unpack(request)
    assert request.field_violations[0] == BadRequestDetails.FieldViolation(
        field="config.epochs",
        reason="greater_than_equal",
        description="epochs: must be at least 1",
    )
    assert field_errors(status.trailing_metadata) == error.errors


@pytest.mark.parametrize(
    ("error", "field"),
    [
        (InvalidAccount("username", "username 'a b' must be ..."), "username"),
        (InvalidPageToken("page_token is not one this server handed out"), "page_token"),
    ],
)
def test_invalid_values_name_their_field(error: Exception, field: str):
    status = status_for(error)

    assert status is not None and status.code == Code.INVALID_ARGUMENT
    assert [e.field for e in field_errors(status.trailing_metadata)] == [field]


def test_throttled_logins_say_when_to_retry_in_whole_seconds():
    status = status_for(Throttled("alice", 1.2))

    assert status is not None and status.code == Code.RESOURCE_EXHAUSTED
    assert retry_after(status.trailing_metadata) == 2
    assert "try again in 2 seconds" in status.message


def test_a_bug_is_no_caller_error():
    assert status_for(RuntimeError("boom")) is None
    assert status_for(KeyError("x")) is None


@pytest.mark.parametrize("character", ["x", "%", "é", "\U0001f600", "\x00"])
def test_messages_and_field_errors_fit_their_metadata_budgets(character: str):
    # Thousands of errors, each naming a long field: gRPC would refuse all of it as metadata.
    error = BadRequest(
        [FieldError(f"config.{character * 5000}", "extra_forbidden", character * 5000)] * 3000,
        character * 100_000,
    )

    status = status_for(error)

    assert status is not None and status.code == Code.INVALID_ARGUMENT
    assert status.message.startswith("3000 errors, the first ")
    assert status.message.endswith("…")
    # Percent-encoded, as gRPC sends it: 3 bytes for each byte that is not printable ASCII.
    wire = sum(1 if " " <= c <= "~" else 3 * len(c.encode()) for c in status.message)
    assert wire <= MESSAGE_BUDGET
    ((_key, value),) = status.trailing_metadata
    # Sent base64-encoded, 4 bytes for every 3; with the message, well under gRPC's 8 KiB.
    assert isinstance(value, bytes)
    assert len(value) <= DETAILS_BUDGET + len(status.message.encode()) + 16
    assert 4 * math.ceil(len(value) / 3) + wire <= 7 * 1024
    assert 1 <= len(field_errors(status.trailing_metadata)) < 3000


def test_fit_leaves_what_fits_alone_and_marks_a_cut():
    assert fit("short enough", 100) == "short enough"
    assert fit("x" * 100, 100) == "x" * 100
    assert fit("x" * 101, 100) == "x" * 91 + "…"


def test_messages_read_as_sentences():
    finished = IllegalTransition("x", ExperimentStatus.SUCCEEDED, ExperimentStatus.CANCELLED)

    assert str(Throttled("alice", 0.4)).endswith("try again in 1 second")
    assert str(Throttled("alice", 2)).endswith("try again in 2 seconds")
    assert str(finished) == (
        "experiment 'x' is succeeded and cannot become cancelled (it is over for good)"
    )
