"""What trainers announce is what the scheduler checks and lists, on the real stack.

The pipeline `remote` here is installed nowhere: only the RegisterTrainer RPC a trainer would
send names it, with its schema, so the scheduler can know it from that alone. Its trainer
listens nowhere either; it is live from its registration until the stack stops, which is all
these checks need (experiments of it are accepted; where they go is placement's business).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, cast

import grpc
import grpc.aio
import pytest
from google.protobuf import json_format

from azuraforge.v1 import experiment_pb2, scheduler_pb2
from scheduler.errors import field_errors
from tests.stack import CLUSTER_TOKEN, PROBE, Stack, auth, running_stack, struct

pytestmark = [pytest.mark.timeout(180), pytest.mark.usefixtures("probe_pipeline")]

REMOTE = "remote"


def remote_schema(least_epochs: int) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "epochs": {"type": "integer", "minimum": least_epochs, "default": least_epochs + 1},
            "rate": {"type": "number", "exclusiveMinimum": 0, "default": 1},
        },
        "x-order": ["epochs", "rate"],
    }


def remote(least_epochs: int) -> experiment_pb2.PipelineInfo:
    return experiment_pb2.PipelineInfo(
        name=REMOTE,
        summary="Known to its trainer alone.",
        config_schema=struct(remote_schema(least_epochs)),
    )


async def register(stack: Stack, *pipelines: experiment_pb2.PipelineInfo) -> None:
    await stack.stub.RegisterTrainer(
        scheduler_pb2.RegisterTrainerRequest(
            address="127.0.0.1:1", slots=1, trainer_id="remote-trainer", pipelines=pipelines
        ),
        metadata=auth(CLUSTER_TOKEN),
    )


async def refusal(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await call
    return raised.value


def named(error: grpc.aio.AioRpcError) -> list[tuple[str, str]]:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, (error.code(), error.details())
    return [(e.field, e.rule) for e in field_errors(cast(Any, error.trailing_metadata()) or ())]


def in_stack(
    tmp_path: Path, database_url: str, nats_url: str, scenario: Any, **options: Any
) -> Any:
    async def run() -> Any:
        async with running_stack(tmp_path, database_url, nats_url, trainers=0, **options) as stack:
            return await scenario(stack)

    return asyncio.run(run())


def test_submissions_are_checked_against_the_schema_the_trainer_announced_last(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        await register(stack, remote(least_epochs=5))
        too_few = await refusal(stack.submit(stack.admin_token, {"epochs": 2}, pipeline=REMOTE))
        defaults = await stack.submit(stack.admin_token, {}, pipeline=REMOTE)
        await register(stack, remote(least_epochs=1))
        now_enough = await stack.submit(stack.admin_token, {"epochs": 2}, pipeline=REMOTE)
        return too_few, defaults, now_enough

    too_few, defaults, now_enough = in_stack(tmp_path, database_url, nats_url, scenario)

    assert named(too_few) == [("config.epochs", "greater_than_equal")]
    assert "epochs: must be at least 5, got 2" in (too_few.details() or "")
    assert json_format.MessageToDict(defaults.config) == {"epochs": 6, "rate": 1.0}
    assert now_enough.pipeline == REMOTE
    assert json_format.MessageToDict(now_enough.config)["epochs"] == 2


def test_a_pipeline_no_trainer_announced_is_refused_naming_pipeline(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        return await refusal(stack.submit(stack.admin_token, {"epochs": 1}, pipeline=PROBE))

    # Installed here, but no trainer registered to say so: the scheduler does not look.
    refused = in_stack(tmp_path, database_url, nats_url, scenario, announce=False)

    assert named(refused) == [("pipeline", "unknown_pipeline")]
    assert (refused.details() or "").startswith(
        "unknown pipeline 'trainer_probe': no trainer has announced it (announced: none yet)"
    )


def test_the_list_is_what_live_trainers_run_and_offline_ones_on_request(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario(stack: Stack):
        async def names(include_offline: bool = False) -> list[str]:
            listed = await stack.stub.ListPipelines(
                scheduler_pb2.ListPipelinesRequest(include_offline=include_offline),
                metadata=auth(stack.admin_token),
            )
            return [pipeline.name for pipeline in listed.pipelines]

        before = await names(), await names(include_offline=True)
        await register(stack, remote(least_epochs=1))
        listed = await stack.stub.ListPipelines(
            scheduler_pb2.ListPipelinesRequest(), metadata=auth(stack.admin_token)
        )
        return before, listed, await names(include_offline=True)

    (live, offline), listed, everything = in_stack(tmp_path, database_url, nats_url, scenario)

    assert live == []  # announced by the stack, but no live trainer runs them
    assert PROBE in offline and REMOTE not in offline
    (only,) = listed.pipelines
    assert (only.name, only.summary) == (REMOTE, "Known to its trainer alone.")
    assert json_format.MessageToDict(only.config_schema)["properties"]["epochs"]["minimum"] == 1
    assert everything == sorted([*offline, REMOTE])


def test_a_registration_with_a_bad_pipeline_is_refused_naming_it(
    tmp_path: Path, database_url: str, nats_url: str
):
    not_a_schema = experiment_pb2.PipelineInfo(
        name="broken", config_schema=struct({"type": "object", "minProperties": -1})
    )
    not_an_object = experiment_pb2.PipelineInfo(
        name="listy", config_schema=struct({"type": "array"})
    )

    async def scenario(stack: Stack):
        answers = {}
        for case, pipelines in {
            "no name": [experiment_pb2.PipelineInfo(config_schema=struct(remote_schema(1)))],
            "long name": [experiment_pb2.PipelineInfo(name="p" * 10_000)],
            "twice": [remote(1), remote(2)],
            "schemas": [remote(1), not_a_schema, not_an_object],
        }.items():
            answers[case] = await refusal(register(stack, *pipelines))
        listed = await stack.stub.ListPipelines(
            scheduler_pb2.ListPipelinesRequest(include_offline=True),
            metadata=auth(stack.admin_token),
        )
        return answers, [pipeline.name for pipeline in listed.pipelines]

    answers, announced = in_stack(tmp_path, database_url, nats_url, scenario, announce=False)

    assert named(answers["no name"]) == [("pipelines.0.name", "invalid")]
    assert named(answers["long name"]) == [("pipelines.0.name", "invalid")]
    assert len(answers["long name"].details() or "") < 1_000
    assert named(answers["twice"]) == [("pipelines.1.name", "duplicate")]
    assert named(answers["schemas"]) == [
        ("pipelines.1.config_schema", "invalid_schema"),
        ("pipelines.2.config_schema", "invalid_schema"),
    ]
    assert announced == []  # nothing of a refused registration is kept
