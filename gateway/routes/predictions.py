"""Predictions: `POST experiments/{id}/predictions` asks a SUCCEEDED experiment's model.

The body is JSON or a multipart form (docs/api.md#predictions):

- JSON `{}` (or no body) asks for the pipeline's default: a forecaster forecasts the `horizon`
  steps after its data; `{"inputs": ...}` sends the model's inputs (a window of rows for a
  forecaster, pixel arrays for an image classifier).
- A multipart form with one or more files in `image` fields sends PNG or JPEG images to an
  image classifier, which resizes them as its training images were.

The answer is `PredictResponse` as JSON. Bad inputs are 422 naming the field (`inputs[3]`,
`images[0]`), an experiment that has not succeeded 409, another user's 404, and no trainer
that runs the pipeline 503.
"""

from __future__ import annotations

from typing import Any

from aiohttp import BodyPartReader, web
from aiohttp.http_exceptions import HttpProcessingError
from google.protobuf import json_format, struct_pb2

from azuraforge.v1 import scheduler_pb2
from gateway.errors import invalid
from gateway.json_form import to_json
from gateway.keys import scheduler
from gateway.routes import API
from gateway.routes.bodies import PredictionInputs, parse
from gateway.routes.request import credentials, json_object

routes = web.RouteTableDef()

IMAGE_FIELD = "image"
MAX_IMAGES = 256
"""As many as a trainer classifies in one request."""


@routes.post(f"{API}/experiments/{{experiment_id}}/predictions")
async def predict(request: web.Request) -> web.Response:
    metadata = credentials(request)
    asked = scheduler_pb2.PredictRequest(experiment_id=request.match_info["experiment_id"])
    if request.content_type.startswith("multipart/"):
        asked.images.extend(await _images(request))
    elif request.body_exists:
        inputs = parse(PredictionInputs, await json_object(request)).inputs
        if inputs is not None:
            asked.inputs.CopyFrom(_value(inputs))
    stubs = scheduler(request)
    response = await stubs.scheduler.Predict(asked, metadata=metadata, timeout=stubs.timeout)
    return web.json_response(to_json(response))


def _value(inputs: Any) -> struct_pb2.Value:
    value = struct_pb2.Value()
    try:
        json_format.ParseDict(inputs, value)
    except (json_format.ParseError, ValueError, RecursionError) as error:
        raise invalid("inputs", f"has a value protobuf cannot carry ({error})") from None
    return value


async def _images(request: web.Request) -> list[bytes]:
    """The files of the form's `image` fields, in order; 422 for any other field."""
    images: list[bytes] = []
    try:
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name != IMAGE_FIELD:
                name = part.name if isinstance(part, BodyPartReader) else "a nested form"
                raise invalid(
                    str(name), f"unknown field; send each image as an {IMAGE_FIELD!r} file"
                )
            if len(images) == MAX_IMAGES:
                raise invalid("images", f"send at most {MAX_IMAGES} images per request")
            images.append(bytes(await part.read()))
    except (ValueError, AssertionError, HttpProcessingError) as error:
        raise invalid("body", f"is not a readable multipart form ({error})") from None
    if not images:
        raise invalid("images", f"send at least one PNG or JPEG file as an {IMAGE_FIELD!r} field")
    return images
