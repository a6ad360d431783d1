"""Naming experiments through the gRPC API, on the real stack: at submission, renamed, cleared.

No trainer runs here: experiments stay PENDING, which naming does not care about.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import grpc
import grpc.aio
import pytest

from azuraforge.v1 import scheduler_pb2
from scheduler.errors import field_errors
from tests.stack import PROBE, Stack, auth, running_stack, struct

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]


async def refusal(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


def fields(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    return [(e.field, e.rule) for e in field_errors(cast(Any, error.trailing_metadata()) or ())]


def in_stack(tmp_path: Path, database_url: str, nats_url: str, scenario: Any) -> Any:
    async def run() -> Any:
        async with running_stack(tmp_path, database_url, nats_url, trainers=0) as stack:
            return await scenario(stack)

    return asyncio.run(run())


async def submit(stack: Stack, token: str, name: str | None) -> Any:
    request = scheduler_pb2.SubmitExperimentRequest(
        pipeline=PROBE, config=struct({"epochs": 1}), name=name
    )
    return (await stack.stub.SubmitExperiment(request, metadata=auth(token))).experiment


async def rename(stack: Stack, token: str, experiment_id: str, name: str) -> Any:
    request = scheduler_pb2.RenameExperimentRequest(experiment_id=experiment_id, name=name)
    return (await stack.stub.RenameExperiment(request, metadata=auth(token))).experiment


def test_an_experiment_is_named_at_submission_renamed_and_cleared(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        alice = await stack.add_user("alice")
        named = await submit(stack, alice, "  baseline, two layers ")
        unnamed = await submit(stack, alice, None)
        renamed = await rename(stack, alice, named.experiment_id, "lr 0.01")
        got = await stack.get(alice, named.experiment_id)
        listed = await stack.stub.ListExperiments(
            scheduler_pb2.ListExperimentsRequest(), metadata=auth(alice)
        )
        cleared = await rename(stack, alice, named.experiment_id, "   ")
        return named, unnamed, renamed, got, listed, cleared

    named, unnamed, renamed, got, listed, cleared = in_stack(
        tmp_path, database_url, nats_url, scenario
    )

    assert named.name == "baseline, two layers"
    assert unnamed.name == ""
    assert renamed.name == got.name == "lr 0.01"
    assert renamed.experiment_id == named.experiment_id
    assert {e.experiment_id: e.name for e in listed.experiments} == {
        named.experiment_id: "lr 0.01",
        unnamed.experiment_id: "",
    }
    assert cleared.name == ""


def test_bad_names_are_refused_naming_the_field(tmp_path: Path, database_url: str, nats_url: str):
    async def scenario(stack: Stack):
        alice = await stack.add_user("alice")
        experiment = await submit(stack, alice, "kept")
        at_submission = [
            await refusal(submit(stack, alice, name))
            for name in ("x" * 101, "two\nlines", "nul\x00")
        ]
        at_rename = [
            await refusal(rename(stack, alice, experiment.experiment_id, name))
            for name in ("x" * 101, "tab\there")
        ]
        listed = await stack.stub.ListExperiments(
            scheduler_pb2.ListExperimentsRequest(), metadata=auth(alice)
        )
        return experiment, at_submission, at_rename, listed

    experiment, at_submission, at_rename, listed = in_stack(
        tmp_path, database_url, nats_url, scenario
    )

    for error in at_submission + at_rename:
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "name" in (error.details() or "")
    assert [fields(error) for error in at_submission] == [
        [("name", "max_length")],
        [("name", "control_character")],
        [("name", "nul_character")],
    ]
    assert [fields(error) for error in at_rename] == [
        [("name", "max_length")],
        [("name", "control_character")],
    ]
    # Nothing was stored by a refused submission, and a refused rename kept the old name.
    assert [(e.experiment_id, e.name) for e in listed.experiments] == [
        (experiment.experiment_id, "kept")
    ]


def test_only_the_owner_or_an_admin_may_rename(tmp_path: Path, database_url: str, nats_url: str):
    async def scenario(stack: Stack):
        alice = await stack.add_user("alice")
        bob = await stack.add_user("bob")
        experiment = await submit(stack, alice, "alice's")
        theirs = await refusal(rename(stack, bob, experiment.experiment_id, "bob's now"))
        missing = await refusal(rename(stack, bob, "no-such-experiment", "anything"))
        by_admin = await rename(stack, stack.admin_token, experiment.experiment_id, "tidied")
        return (
            experiment,
            theirs,
            missing,
            by_admin,
            await stack.get(alice, experiment.experiment_id),
        )

    experiment, theirs, missing, by_admin, after = in_stack(
        tmp_path, database_url, nats_url, scenario
    )

    assert theirs.code() == missing.code() == grpc.StatusCode.NOT_FOUND
    # Someone else's reads as one that does not exist, so ids cannot be probed.
    assert (theirs.details() or "").replace(experiment.experiment_id, "no-such-experiment") == (
        missing.details()
    )
    assert by_admin.name == after.name == "tidied"
