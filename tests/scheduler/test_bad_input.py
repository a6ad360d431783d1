"""Input a client can send straight over gRPC that once reached INTERNAL or UNKNOWN (issue #12).

Each case is answered INVALID_ARGUMENT naming the field in its `google.rpc.BadRequest`, with no
exception class or traceback in the message, and quoting at most the start of what was sent:
a message that echoed a 10,000-character name whole pushed the answer past gRPC's metadata
limit, so the client got a transport error (RESOURCE_EXHAUSTED) instead. On the real stack,
SQLite and Postgres: Postgres refuses NUL characters in text, SQLite 64-bit overflows.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path
from typing import Any, cast

import grpc
import grpc.aio
import pytest

from azuraforge.v1 import auth_pb2, scheduler_pb2
from scheduler.errors import field_errors
from tests.stack import PROBE, Stack, auth, running_stack

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]

LONG = 10_000
# What an answer may echo of an input: the quoted start and the rest of a sentence.
ECHO_LIMIT = 1_000


async def refusal(call: Any) -> grpc.aio.AioRpcError:
    """The error a call (unary, or a stream read to its end) ends with."""
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        if hasattr(call, "__aiter__"):
            async for _ in call:
                pass
        else:
            await call
    return raised.value


def fields(error: grpc.aio.AioRpcError) -> list[str]:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    details = error.details() or ""
    assert "Error" not in details and "Traceback" not in details and "<class" not in details
    return [e.field for e in field_errors(cast(Any, error.trailing_metadata()) or ())]


def in_stack(tmp_path: Path, database_url: str, nats_url: str, scenario: Any) -> Any:
    async def run() -> Any:
        async with running_stack(tmp_path, database_url, nats_url, trainers=0) as stack:
            return await scenario(stack)

    return asyncio.run(run())


def varint(number: int) -> bytes:
    out = bytearray()
    while True:
        byte, number = number & 0x7F, number >> 7
        out.append(byte | (0x80 if number else 0))
        if not number:
            return bytes(out)


def length_delimited(field: int, payload: bytes) -> bytes:
    return varint(field << 3 | 2) + varint(len(payload)) + payload


def nested_submission(depth: int) -> bytes:
    """A SubmitExperimentRequest whose config is `{"a": {"a": ...}}` `depth` levels deep.

    Written as bytes: protobuf's Python library refuses to build a message this deep, but
    nothing stops another client from sending one.
    """
    config = b""
    for _ in range(depth):
        value = length_delimited(5, config)  # Value.struct_value
        config = length_delimited(1, length_delimited(1, b"a") + length_delimited(2, value))
    return length_delimited(1, PROBE.encode()) + length_delimited(2, config)


def page_token(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def test_non_finite_numbers_in_a_config_are_refused_naming_the_field(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        refused = []
        for value in (float("nan"), float("inf"), float("-inf")):
            refused.append(await refusal(stack.submit(stack.admin_token, {"learning_rate": value})))
        refused.append(
            await refusal(stack.submit(stack.admin_token, {"nested": {"list": [1, float("nan")]}}))
        )
        return refused

    nan, inf, minus_inf, nested = in_stack(tmp_path, database_url, nats_url, scenario)

    for error, written in ((nan, "NaN"), (inf, "Infinity"), (minus_inf, "-Infinity")):
        assert fields(error) == ["config.learning_rate"]
        assert f"must be a finite number, got {written}" in (error.details() or "")
    assert fields(nested) == ["config.nested.list.1"]


def test_a_config_nested_past_protobufs_limit_is_refused_naming_config(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        submit = stack.channel.unary_unary(
            "/azuraforge.v1.SchedulerService/SubmitExperiment",
            request_serializer=None,
            response_deserializer=None,
        )
        return [
            await refusal(submit(nested_submission(depth), metadata=auth(stack.admin_token)))
            for depth in (20, 60)
        ]

    too_deep_for_us, too_deep_for_protobuf = in_stack(tmp_path, database_url, nats_url, scenario)

    # The config is level 1, so the 17th level down is the first too deep.
    assert fields(too_deep_for_us) == ["config" + ".a" * 16]
    assert "nested more than 16 levels" in (too_deep_for_us.details() or "")
    assert fields(too_deep_for_protobuf) == ["config"]
    assert "DecodeError" not in (too_deep_for_protobuf.details() or "")


def test_page_tokens_not_handed_out_are_refused_however_they_decode(
    tmp_path: Path, database_url: str, nats_url: str
):
    tokens = {
        "nested past the parser": page_token(b"[" * 2000 + b"]" * 2000),
        "nested, and short": page_token(b"[" * 300 + b"]" * 300),
        "no time zone": page_token(json.dumps(["2026-01-01T00:00:00", "x"]).encode()),
        "before the calendar in UTC": page_token(
            json.dumps(["0001-01-01T00:00:00+05:00", "x"]).encode()
        ),
    }

    async def scenario(stack: Stack):
        return {
            name: await refusal(
                stack.stub.ListExperiments(
                    scheduler_pb2.ListExperimentsRequest(page_token=token),
                    metadata=auth(stack.admin_token),
                )
            )
            for name, token in tokens.items()
        }

    refused = in_stack(tmp_path, database_url, nats_url, scenario)

    for name, error in refused.items():
        assert fields(error) == ["page_token"], name


def test_watching_after_a_seq_no_database_holds_is_refused(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        experiment = await stack.submit(stack.admin_token, {"epochs": 1})
        return [
            await refusal(
                stack.stub.WatchExperiment(
                    scheduler_pb2.WatchExperimentRequest(
                        experiment_id=experiment.experiment_id, after_seq=after
                    ),
                    metadata=auth(stack.admin_token),
                )
            )
            for after in (2**63, 2**64 - 1)
        ]

    for error in in_stack(tmp_path, database_url, nats_url, scenario):
        assert fields(error) == ["after_seq"]


def test_a_10000_character_name_or_key_is_refused_naming_it_and_quoted_short(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        admin = auth(stack.admin_token)
        return {
            "pipeline": await refusal(stack.submit(stack.admin_token, {}, pipeline="p" * LONG)),
            "config key": await refusal(stack.submit(stack.admin_token, {"k" * LONG: 1})),
            "config value": await refusal(
                stack.submit(stack.admin_token, {"behaviour": "v" * LONG})
            ),
            "username": await refusal(
                stack.auth.CreateUser(
                    auth_pb2.CreateUserRequest(username="u" * LONG, password="long-enough"),
                    metadata=admin,
                )
            ),
            "experiment id": await refusal(
                stack.stub.GetExperiment(
                    scheduler_pb2.GetExperimentRequest(experiment_id="e" * LONG), metadata=admin
                )
            ),
        }

    refused = in_stack(tmp_path, database_url, nats_url, scenario)

    assert fields(refused["pipeline"]) == ["pipeline"]
    assert fields(refused["config key"]) == ["config." + "k" * 100 + "…"]
    assert fields(refused["config value"]) == ["config.behaviour"]
    assert fields(refused["username"]) == ["username"]
    assert refused["experiment id"].code() == grpc.StatusCode.NOT_FOUND
    for name, error in refused.items():
        details = error.details() or ""
        assert len(details) < ECHO_LIMIT, name
        assert "…" in details, name
        for item in field_errors(error.trailing_metadata() or ()):
            assert len(item.message) < ECHO_LIMIT, name


def test_a_config_with_thousands_of_long_keys_still_gets_its_field_errors(
    tmp_path: Path, database_url: str, nats_url: str
):
    config = {f"{number}-" + "k" * 500: number for number in range(2000)}

    async def scenario(stack: Stack):
        return await refusal(stack.submit(stack.admin_token, config))

    error = in_stack(tmp_path, database_url, nats_url, scenario)

    listed = fields(error)
    assert 0 < len(listed) < 2000
    assert (error.details() or "").startswith(f"2000 errors, the first {len(listed)} listed")


def test_nul_characters_in_names_and_ids_are_refused_naming_the_field(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        admin = auth(stack.admin_token)
        return {
            "experiment_id": await refusal(
                stack.stub.GetExperiment(
                    scheduler_pb2.GetExperimentRequest(experiment_id="a\x00b"), metadata=admin
                )
            ),
            "pipeline": await refusal(
                stack.stub.ListExperiments(
                    scheduler_pb2.ListExperimentsRequest(pipeline="p\x00"), metadata=admin
                )
            ),
            "username": await refusal(
                stack.auth.Login(auth_pb2.LoginRequest(username="admin\x00", password="x"))
            ),
        }

    for field, error in in_stack(tmp_path, database_url, nats_url, scenario).items():
        assert fields(error) == [field]
