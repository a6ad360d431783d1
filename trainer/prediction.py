"""Predictions on this trainer: a finished run's files in, the pipeline's answer out.

The scheduler stores every run's files and sends the few a prediction reads with each
``Predict`` call (docs/architecture.md#predictions), so any trainer that has the pipeline can
answer, whichever one trained it, and nothing is kept between calls. The files go into a
private temporary folder, the pipeline's ``predict`` rebuilds the model from it in a worker
thread (the event loop keeps serving training streams meanwhile), and the folder is removed.

A prediction is light next to training: one forward pass over a window or a few images, and
for a forecaster a load of its series through the data cache. So it takes no slot and starts
no process; ``MAX_CONCURRENT`` bounds how many run at once.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import tempfile
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2
from google.rpc.error_details_pb2 import BadRequest
from google.rpc.status_pb2 import Status
from grpc_status import rpc_status

from azuraforge.v1 import trainer_pb2
from forge_learner.config import ConfigError
from forge_learner.prediction import (
    PredictionInputError,
    PredictionRequest,
    PredictionUnavailable,
)
from forge_learner.registry import UnknownPipelineError, get_pipeline
from forge_learner.sources import DataRequestError, DataUnavailable

log = logging.getLogger(__name__)

FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""A file of the request lands in the run folder under its name: one plain name, no path."""
MAX_CONCURRENT = 4


class PredictionRefused(Exception):
    """A Predict call this trainer answers with ``code``, and field errors when the input is bad."""

    def __init__(
        self, code: grpc.StatusCode, message: str, fields: list[dict[str, str]] | None = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.fields = fields or []

    @property
    def trailing_metadata(self) -> tuple[tuple[str, str | bytes], ...]:
        """The bad fields as the standard ``google.rpc.BadRequest`` detail, as the scheduler
        sends its own (``scheduler.errors``); nothing when no field is to blame."""
        if not self.fields:
            return ()
        request = BadRequest(
            field_violations=[
                BadRequest.FieldViolation(
                    field=field["field"], reason=field["rule"], description=field["message"]
                )
                for field in self.fields
            ]
        )
        rich = Status(code=self.code.value[0], message=self.message)
        rich.details.add().Pack(request)
        return tuple(rpc_status.to_status(rich).trailing_metadata)


class Predictor:
    """Runs predictions for the servicer, a few at a time, each in a folder of its own."""

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self._running = asyncio.Semaphore(MAX_CONCURRENT)

    async def predict(
        self, request: trainer_pb2.TrainerServicePredictRequest
    ) -> trainer_pb2.TrainerServicePredictResponse:
        try:
            pipeline = get_pipeline(request.pipeline)
        except UnknownPipelineError as error:
            raise PredictionRefused(grpc.StatusCode.NOT_FOUND, str(error)) from None
        for name in request.files:
            if not FILE_NAME.fullmatch(name):
                raise PredictionRefused(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"files: {name[:60]!r} is not a plain file name (letters, digits, '.', "
                    "'_' or '-'); send the run's top-level files by their artifact names",
                )
        asked = PredictionRequest(
            inputs=_python(request.inputs) if request.HasField("inputs") else None,
            images=list(request.images),
        )
        async with self._running:
            answer = await asyncio.to_thread(
                _predict_in_folder, self.work_dir, pipeline(), dict(request.files), asked
            )
        prediction = struct_pb2.Struct()
        prediction.update(_strict_json(answer))
        log.info("experiment %s: predicted with %s", request.experiment_id, request.pipeline)
        return trainer_pb2.TrainerServicePredictResponse(prediction=prediction)


def _predict_in_folder(
    work_dir: Path, pipeline: Any, files: dict[str, bytes], request: PredictionRequest
) -> dict[str, Any]:
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".predict-", dir=work_dir) as folder:
        run_dir = Path(folder)
        for name, content in files.items():
            (run_dir / name).write_bytes(content)
        try:
            answer: dict[str, Any] = pipeline.predict(run_dir, request)
        except PredictionInputError as error:
            raise PredictionRefused(
                grpc.StatusCode.INVALID_ARGUMENT,
                str(error),
                [{"field": error.field, "rule": "invalid", "message": str(error)}],
            ) from None
        except (PredictionUnavailable, ConfigError, DataRequestError) as error:
            raise PredictionRefused(grpc.StatusCode.FAILED_PRECONDITION, str(error)) from None
        except DataUnavailable as error:
            raise PredictionRefused(grpc.StatusCode.UNAVAILABLE, str(error)) from None
    return answer


def _strict_json(value: Any) -> Any:
    """``value`` with every number that is not finite as None, as ``metrics.json`` writes it.

    A model that diverged forecasts NaN; protobuf's JSON printers refuse it, so it would
    break every client's answer rather than show as a gap.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _strict_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_strict_json(item) for item in value]
    return value


def _python(value: struct_pb2.Value) -> Any:
    """A protobuf ``Value`` as the plain value it holds, NaN and infinity kept as floats.

    ``json_format`` refuses a number that JSON cannot write; the pipeline names it instead,
    with the row or pixel it sits in.
    """
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {key: _python(item) for key, item in value.struct_value.fields.items()}
    if kind == "list_value":
        return [_python(item) for item in value.list_value.values]
    if kind in (None, "null_value"):
        return None
    return getattr(value, kind)
