"""SchedulerService.Predict on the real stack: trained models answer, through a real trainer.

Each scenario trains a real experiment on a real trainer (a forecaster on a month of the
bundled weather sample, the image classifier on scikit-learn's digits, one epoch each), then
predicts with it through the scheduler, which sends the stored files to the trainer.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

import grpc
import grpc.aio
import numpy as np
import pytest
from google.protobuf import json_format, struct_pb2

from azuraforge.v1 import experiment_pb2, scheduler_pb2
from scheduler.errors import field_errors
from tests.stack import Stack, auth, running_stack

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("probe_pipeline")]

SUCCEEDED = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
RUNNING = experiment_pb2.EXPERIMENT_STATUS_RUNNING
WEATHER = {
    "source": "sample",
    "calendar_features": False,
    "epochs": 1,
    "hidden_size": 4,
    "end": "2010-01-31",
    "horizon": 3,
    "lookback": 24,
}
DIGITS = {"epochs": 1, "channels": [4]}


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: training is the cost here, and the store's reads are tested on both."""
    return f"sqlite:///{tmp_path / 'forge.db'}"


def value(inputs: Any) -> struct_pb2.Value:
    message = struct_pb2.Value()
    json_format.ParseDict(inputs, message)
    return message


async def predict(
    stack: Stack, token: str, experiment_id: str, inputs: Any = None, images: Sequence[bytes] = ()
) -> dict[str, Any]:
    request = scheduler_pb2.PredictRequest(experiment_id=experiment_id, images=list(images))
    if inputs is not None:
        request.inputs.CopyFrom(value(inputs))
    response = await stack.stub.Predict(request, metadata=auth(token))
    assert response.experiment_id == experiment_id
    return json_format.MessageToDict(response.prediction)


async def refusal(
    stack: Stack, token: str, experiment_id: str, inputs: Any = None, images: Sequence[bytes] = ()
) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await predict(stack, token, experiment_id, inputs, images)
    return raised.value


def details(error: grpc.aio.AioRpcError) -> str:
    return error.details() or ""


def bad_fields(error: grpc.aio.AioRpcError) -> list[str]:
    assert error.code() is grpc.StatusCode.INVALID_ARGUMENT, details(error)
    return [e.field for e in field_errors(tuple(cast(Any, error.trailing_metadata()) or ()))]


async def trained(stack: Stack, token: str, pipeline: str, config: dict[str, Any]) -> str:
    experiment = await stack.submit(token, config, pipeline=pipeline)
    finished = await stack.finished(token, experiment.experiment_id, timeout=180)
    assert finished.status == SUCCEEDED, finished
    return str(experiment.experiment_id)


def png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def test_a_forecaster_forecasts_past_its_data_and_from_a_window(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario() -> None:
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            alice = await stack.add_user("alice")
            bob = await stack.add_user("bob")
            experiment_id = await trained(stack, alice, "weather_forecaster", WEATHER)

            ahead = await predict(stack, alice, experiment_id)
            assert ahead["kind"] == "forecast" and ahead["from"] == "end of data"
            assert ahead["history"]["timestamps"][-1] == "2010-01-31T23:00:00"
            assert ahead["forecast"]["timestamps"] == [
                "2010-02-01T00:00:00",
                "2010-02-01T01:00:00",
                "2010-02-01T02:00:00",
            ]
            assert len(ahead["forecast"]["values"]) == 3
            assert all(math.isfinite(v) for v in ahead["forecast"]["values"])
            # The last-value baseline forecasts from each step's own origin, the end and before.
            history = ahead["history"]["values"]
            assert ahead["baselines"]["persistence"] == history[-3:]
            assert len(ahead["baselines"]["seasonal naive"]) == 3

            rows = [
                {"timestamp": f"2011-03-01T{hour:02d}:00", "temperature": 5.0 + hour / 4}
                for hour in range(24)
            ]
            window = await predict(stack, alice, experiment_id, rows)
            assert window["from"] == "inputs"
            assert window["forecast"]["timestamps"] == ["2011-03-02T02:00:00"]
            assert window["baselines"]["persistence"] == [rows[-1]["temperature"]]
            # An admin may predict with anyone's model, the same as its owner.
            assert (await predict(stack, stack.admin_token, experiment_id, rows)) == window

            assert bad_fields(await refusal(stack, alice, experiment_id, rows[:5])) == ["inputs"]
            holes = [*rows[:2], {"temperature": None}, *rows[3:]]
            assert bad_fields(await refusal(stack, alice, experiment_id, holes)) == [
                "inputs[2].temperature"
            ]
            extra = [{**row, "humidity": 80} for row in rows]
            error = await refusal(stack, alice, experiment_id, extra)
            assert bad_fields(error) == ["inputs[0]"] and "'humidity'" in details(error)
            assert bad_fields(await refusal(stack, alice, experiment_id, {"rows": 1})) == ["inputs"]

            error = await refusal(stack, bob, experiment_id)
            assert error.code() is grpc.StatusCode.NOT_FOUND
            error = await refusal(stack, alice, "no-such-experiment")
            assert error.code() is grpc.StatusCode.NOT_FOUND

    asyncio.run(scenario())


def test_an_image_classifier_gives_each_image_its_class_probabilities(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario() -> None:
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            alice = await stack.add_user("alice")
            experiment_id = await trained(stack, alice, "image_classifier", DIGITS)

            blank, bar = np.zeros((8, 8)), np.zeros((8, 8))
            bar[1:7, 3:5] = 1.0
            answer = await predict(stack, alice, experiment_id, [blank.tolist(), bar.tolist()])
            assert answer["kind"] == "classification"
            assert answer["classes"] == [str(d) for d in range(10)]
            assert answer["image_shape"] == [1, 8, 8]
            for prediction in answer["predictions"]:
                assert math.isclose(sum(prediction["probabilities"]), 1.0, rel_tol=1e-6)
                top = max(range(10), key=lambda i: prediction["probabilities"][i])
                assert prediction["label"] == answer["classes"][top]

            # A drawing on paper: dark ink on a light ground, at another size.
            paper = np.full((32, 32), 255)
            paper[4:28, 14:18] = 0
            drawn = await predict(stack, alice, experiment_id, images=[png(paper)])
            assert drawn["predictions"][0]["inverted"] is True
            assert math.isclose(sum(drawn["predictions"][0]["probabilities"]), 1.0, rel_tol=1e-6)

            error = await refusal(stack, alice, experiment_id, [np.zeros((7, 8)).tolist()])
            assert bad_fields(error) == ["inputs[0]"] and "8x8" in details(error)
            error = await refusal(stack, alice, experiment_id, [[[math.inf] * 8] * 8])
            assert bad_fields(error) == ["inputs[0]"]
            error = await refusal(stack, alice, experiment_id, images=[b"not an image"])
            assert bad_fields(error) == ["images[0]"]
            assert bad_fields(await refusal(stack, alice, experiment_id)) == ["inputs"]

    asyncio.run(scenario())


def test_only_a_succeeded_experiment_of_a_predicting_pipeline_predicts(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario() -> None:
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            alice = await stack.add_user("alice")
            running = await stack.submit(alice, {"epochs": 3, "epoch_pause": 10.0})
            await stack.wait_for(alice, running.experiment_id, frozenset({RUNNING}))
            error = await refusal(stack, alice, running.experiment_id)
            assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
            assert "is RUNNING" in details(error)
            await stack.stub.CancelExperiment(
                scheduler_pb2.CancelExperimentRequest(experiment_id=running.experiment_id),
                metadata=auth(alice),
            )

            probe = await trained(stack, alice, "trainer_probe", {"epochs": 1})
            error = await refusal(stack, alice, probe)
            assert error.code() is grpc.StatusCode.FAILED_PRECONDITION
            assert "does not make predictions" in details(error)

            with pytest.raises(grpc.aio.AioRpcError) as anonymous:
                await stack.stub.Predict(scheduler_pb2.PredictRequest(experiment_id=probe))
            assert anonymous.value.code() is grpc.StatusCode.UNAUTHENTICATED

    asyncio.run(scenario())


def test_without_a_live_trainer_a_prediction_is_unavailable(
    tmp_path: Path, database_url: str, nats_url: str
):
    async def scenario() -> None:
        async with running_stack(tmp_path, database_url, nats_url) as stack:
            alice = await stack.add_user("alice")
            experiment_id = await trained(stack, alice, "trainer_probe", {"epochs": 1})
            await stack.trainers[0].stop(None)
            stack.trainers.clear()
            # The trainer is gone but still counts as live until its heartbeats lapse: the
            # scheduler finds it unreachable and says so.
            error = await refusal(stack, alice, experiment_id)
            assert error.code() is grpc.StatusCode.UNAVAILABLE
            assert "trainer" in details(error)

    asyncio.run(scenario())
