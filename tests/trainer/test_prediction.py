"""TrainerService.Predict on a real trainer, with the files of a run trained here for real.

A forecaster trains for one epoch on a month of the bundled weather sample in this process;
its folder's files are what a scheduler would send. The trainer answers, and refuses what it
cannot use with the status and field a caller can act on, leaving no file behind.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
import numpy as np
import pytest
from google.protobuf import json_format, struct_pb2

import forge_core
from apps.weather_forecaster.pipeline import WeatherForecaster
from azuraforge.v1 import trainer_pb2
from scheduler.errors import field_errors
from tests.trainer.harness import AUTH, Client, running_trainer

pytestmark = pytest.mark.timeout(180)

WEATHER = {
    "source": "sample",
    "calendar_features": False,
    "epochs": 1,
    "hidden_size": 4,
    "end": "2010-01-31",
    "lookback": 4,
}


@pytest.fixture(scope="module")
def run_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    run_dir = tmp_path_factory.mktemp("run")
    WeatherForecaster().run(WEATHER, run_dir=run_dir)
    return {
        path.name: path.read_bytes()
        for path in run_dir.iterdir()
        if path.suffix in (".json", ".npz")
    }


def request(
    files: dict[str, bytes], inputs: Any = None, pipeline: str = "weather_forecaster"
) -> trainer_pb2.TrainerServicePredictRequest:
    message = trainer_pb2.TrainerServicePredictRequest(
        experiment_id="exp-1", pipeline=pipeline, files=files
    )
    if inputs is not None:
        json_format.ParseDict(inputs, message.inputs)
    return message


async def refused(client: Client, message: Any, metadata: Any = AUTH) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await client.stub.Predict(message, metadata=metadata)
    return raised.value


def test_it_forecasts_from_the_files_and_names_what_it_cannot_use(
    tmp_path: Path, run_files: dict[str, bytes]
):
    assert set(run_files) == {"inputs.json", "metrics.json", "model.npz", "transform.json"}

    async def scenario() -> dict[str, Any]:
        async with running_trainer(tmp_path, trainer_id="t1") as client:
            answer = await client.stub.Predict(request(run_files), metadata=AUTH)
            window = await client.stub.Predict(
                request(run_files, [1.0, 2.0, 3.0, 4.0]), metadata=AUTH
            )

            short = await refused(client, request(run_files, [1.0, 2.0]))
            nan = struct_pb2.Value()
            for number in (1.0, float("nan"), 3.0, 4.0):
                nan.list_value.values.add().number_value = number
            with_nan = request(run_files)
            with_nan.inputs.CopyFrom(nan)
            not_finite = await refused(client, with_nan)
            escaping = await refused(client, request({"../model.npz": b"x"}))
            unknown = await refused(client, request(run_files, pipeline="no_such_pipeline"))
            no_model = await refused(client, request({"metrics.json": run_files["metrics.json"]}))
            anonymous = await refused(client, request(run_files), metadata=())
            return {
                "answer": json_format.MessageToDict(answer.prediction),
                "window": json_format.MessageToDict(window.prediction),
                "short": short,
                "not_finite": not_finite,
                "escaping": escaping,
                "unknown": unknown,
                "no_model": no_model,
                "anonymous": anonymous,
                "left": sorted(p.name for p in tmp_path.rglob(".predict-*")),
            }

    result = asyncio.run(scenario())

    assert result["answer"]["kind"] == "forecast"
    assert result["answer"]["forecast"]["timestamps"] == ["2010-02-01T00:00:00"]
    assert result["window"]["baselines"]["persistence"] == [4.0]

    short = result["short"]
    assert short.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert [e.field for e in field_errors(short.trailing_metadata() or ())] == ["inputs"]
    assert "window of 4 rows" in short.details()
    assert result["not_finite"].code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "inputs[1]: must be a finite number, got nan" in result["not_finite"].details()
    assert result["escaping"].code() is grpc.StatusCode.INVALID_ARGUMENT
    assert result["unknown"].code() is grpc.StatusCode.NOT_FOUND
    assert result["no_model"].code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "model.npz" in result["no_model"].details()
    assert result["anonymous"].code() is grpc.StatusCode.UNAUTHENTICATED
    assert result["left"] == []


def test_a_model_that_forecasts_nan_answers_null_rather_than_breaking_the_answer(
    tmp_path: Path, run_files: dict[str, bytes]
):
    weights = tmp_path / "model.npz"
    weights.write_bytes(run_files["model.npz"])
    state = forge_core.load(weights)
    forge_core.save({**state, "head.bias": np.full(1, np.nan, dtype=np.float32)}, weights)
    diverged = {**run_files, "model.npz": weights.read_bytes()}

    async def scenario() -> Any:
        async with running_trainer(tmp_path, trainer_id="t1") as client:
            return await client.stub.Predict(request(diverged), metadata=AUTH)

    answer = json_format.MessageToDict(asyncio.run(scenario()).prediction)

    assert answer["forecast"]["values"] == [None]
    assert all(v is not None for v in answer["baselines"]["persistence"])
