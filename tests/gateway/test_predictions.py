"""`POST experiments/{id}/predictions` through a real gateway, scheduler and trainer.

A forecaster (a month of the bundled weather sample) and the image classifier (scikit-learn's
digits) train for one epoch each on the real stack; then the REST route asks them, with JSON
and with a multipart form of PNG files, and every mistake a client can make gets its 4xx.
"""

from __future__ import annotations

import asyncio
import io
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import numpy as np
import pytest

from tests.gateway.harness import API, Gateway, bearer, gateway_on_stack

pytestmark = [pytest.mark.timeout(300), pytest.mark.usefixtures("probe_pipeline")]

WEATHER = {
    "source": "sample",
    "calendar_features": False,
    "epochs": 1,
    "hidden_size": 4,
    "end": "2010-01-31",
    "horizon": 2,
    "lookback": 24,
}
DIGITS = {"epochs": 1, "channels": [4]}


async def trained(gateway: Gateway, token: str, pipeline: str, config: dict[str, Any]) -> str:
    async with gateway.http.post(
        f"{API}/experiments",
        json={"pipeline": pipeline, "config": config},
        headers=bearer(token),
    ) as response:
        assert response.status == 201, await response.text()
        experiment_id = str((await response.json())["experiment_id"])
    experiment = await gateway.finished(token, experiment_id)
    assert experiment["status"] == "EXPERIMENT_STATUS_SUCCEEDED", experiment
    return experiment_id


async def post(
    gateway: Gateway, token: str, experiment_id: str, **body: Any
) -> tuple[int, dict[str, Any]]:
    headers = {**bearer(token), **body.pop("headers", {})}
    async with gateway.http.post(
        f"{API}/experiments/{experiment_id}/predictions", headers=headers, **body
    ) as response:
        return response.status, await response.json()


def form(*files: tuple[str, bytes]) -> aiohttp.FormData:
    data = aiohttp.FormData()
    for field, content in files:
        data.add_field(field, content, filename="digit.png", content_type="image/png")
    return data


def png(pixels: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(pixels.astype(np.uint8), mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def fields(body: dict[str, Any]) -> list[str]:
    return [detail["field"] for detail in body["error"]["details"]]


def test_a_forecaster_answers_json_and_names_what_is_wrong(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway) -> None:
        alice = await gateway.add_user("alice")
        bob = await gateway.add_user("bob")
        experiment_id = await trained(gateway, alice, "weather_forecaster", WEATHER)

        status, body = await post(gateway, alice, experiment_id, json={})
        assert status == 200, body
        assert body["pipeline"] == "weather_forecaster"
        forecast = body["prediction"]
        assert forecast["kind"] == "forecast"
        assert forecast["forecast"]["timestamps"] == ["2010-02-01T00:00:00", "2010-02-01T01:00:00"]
        assert set(forecast["baselines"]) == {"persistence", "seasonal naive"}
        # No body at all is the same as {}.
        assert await post(gateway, alice, experiment_id) == (200, body)

        rows = [{"temperature": 3.0 + hour / 10} for hour in range(24)]
        status, body = await post(gateway, alice, experiment_id, json={"inputs": rows})
        assert status == 200, body
        assert body["prediction"]["forecast"]["timestamps"] == [None]
        assert math.isfinite(body["prediction"]["forecast"]["values"][0])

        status, body = await post(gateway, alice, experiment_id, json={"inputs": rows[:23]})
        assert (status, fields(body)) == (422, ["inputs"])
        assert "24 rows" in body["error"]["message"]
        status, body = await post(
            gateway, alice, experiment_id, json={"inputs": [*rows[:23], {"temp": 1.0}]}
        )
        assert (status, fields(body)) == (422, ["inputs[23]"])
        status, body = await post(
            gateway,
            alice,
            experiment_id,
            data=b'{"inputs": [NaN]}',
            headers={"Content-Type": "application/json"},
        )
        assert status == 422 and fields(body) == ["inputs.0"]
        status, body = await post(gateway, alice, experiment_id, json={"input": rows})
        assert (status, fields(body)) == (422, ["input"])
        status, body = await post(
            gateway,
            alice,
            experiment_id,
            data=b"{not json",
            headers={"Content-Type": "application/json"},
        )
        assert status == 400

        assert (await post(gateway, bob, experiment_id, json={}))[0] == 404
        assert (await post(gateway, alice, "no-such-experiment", json={}))[0] == 404
        async with gateway.http.post(f"{API}/experiments/{experiment_id}/predictions") as response:
            assert response.status == 401

        running = await trained_later(gateway, alice)
        status, body = await post(gateway, alice, running, json={})
        message = body["error"]["message"]
        assert status == 409 and ("is PENDING" in message or "is RUNNING" in message), body

    asyncio.run(run(tmp_path, nats_url, scenario))


async def trained_later(gateway: Gateway, token: str) -> str:
    """An experiment that is not done: the probe, pausing after each epoch."""
    async with gateway.http.post(
        f"{API}/experiments",
        json={"pipeline": "trainer_probe", "config": {"epochs": 2, "epoch_pause": 10.0}},
        headers=bearer(token),
    ) as response:
        assert response.status == 201, await response.text()
        return str((await response.json())["experiment_id"])


def test_an_image_classifier_reads_png_files_and_pixel_arrays(tmp_path: Path, nats_url: str):
    async def scenario(gateway: Gateway) -> None:
        alice = await gateway.add_user("alice")
        experiment_id = await trained(gateway, alice, "image_classifier", DIGITS)

        paper = np.full((40, 30), 255)
        paper[5:35, 13:17] = 0
        status, body = await post(
            gateway, alice, experiment_id, data=form(("image", png(paper)), ("image", png(paper)))
        )
        assert status == 200, body
        predictions = body["prediction"]["predictions"]
        assert len(predictions) == 2
        for prediction in predictions:
            assert math.isclose(sum(prediction["probabilities"]), 1.0, rel_tol=1e-6)
            assert prediction["label"] in body["prediction"]["classes"]
            assert prediction["inverted"] is True

        pixels = (np.arange(64).reshape(8, 8) % 17).tolist()
        status, body = await post(gateway, alice, experiment_id, json={"inputs": [pixels]})
        assert status == 200, body
        assert len(body["prediction"]["predictions"]) == 1

        status, body = await post(gateway, alice, experiment_id, data=form(("image", b"GIF89a")))
        assert (status, fields(body)) == (422, ["images[0]"])
        status, body = await post(gateway, alice, experiment_id, data=form(("photo", b"x")))
        assert (status, fields(body)) == (422, ["photo"])
        status, body = await post(gateway, alice, experiment_id, json={"inputs": [[[1, 2]]]})
        assert (status, fields(body)) == (422, ["inputs[0]"])
        status, body = await post(gateway, alice, experiment_id, json={})
        assert (status, fields(body)) == (422, ["inputs"])

    asyncio.run(run(tmp_path, nats_url, scenario))


async def run(tmp_path: Path, nats_url: str, scenario: Any) -> Any:
    async with gateway_on_stack(tmp_path, nats_url, slots=2) as gateway:
        return await scenario(gateway)


def test_a_streamed_form_of_images_over_the_limit_is_413_before_any_call(tmp_path: Path):
    from tests.gateway.test_errors import TOKEN, refused

    boundary = "forge-boundary"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=image; filename=big.png\r\n"
        "Content-Type: image/png\r\n\r\n"
    ).encode()
    body = head + b"\x89PNG" + b"0" * 8192 + f"\r\n--{boundary}--\r\n".encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 1000):
            yield body[start : start + 1000]

    async def scenario() -> tuple[int, dict[str, Any], list[Any]]:
        form = {**TOKEN, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        async with (
            refused(tmp_path, max_body_bytes=2048) as (refuser, gateway),
            gateway.http.post(
                f"{API}/experiments/some-id/predictions", data=chunks(), headers=form
            ) as response,
        ):
            return response.status, await response.json(), refuser.calls

    status, answer, calls = asyncio.run(scenario())

    assert status == 413
    assert answer["error"]["code"] == "payload_too_large"
    assert calls == []
