"""Predictions: a SUCCEEDED experiment's stored files go to a live trainer that runs its pipeline.

The scheduler runs no engine code here (it imports neither `forge_learner` nor `forge_core`):
it never rebuilds a model. It checks who asks and what
(the caller's own experiment, or any for an admin; only a SUCCEEDED one), picks a trainer,
and sends it the run's files from the database with the caller's inputs
(docs/architecture.md#predictions). Which files: every stored artifact at the top of the run
folder named ``*.json`` or ``*.npz``, which is the model, ``metrics.json`` with the config and
the family's fitted transform; never the checkpoints or the plots, which a prediction does
not read.

The trainer is the live one that offers the pipeline with the most free slots, so a
prediction leans on a busy trainer last; one that cannot be reached is skipped for the next.
What the trainer refuses comes back as the scheduler's own errors: a bad input as a
``BadRequest`` naming the field, a run that cannot predict as ``NotPredictable``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any, cast

import grpc
import grpc.aio

from azuraforge.v1 import scheduler_pb2, trainer_pb2, trainer_pb2_grpc
from scheduler.caller import Caller
from scheduler.db.models import ExperimentStatus
from scheduler.errors import BadRequest, NotPredictable, NoTrainerAvailable, field_errors
from scheduler.records import ArtifactRecord, TrainerRecord
from scheduler.store import Store

log = logging.getLogger(__name__)

PREDICT_TIMEOUT_S = 120.0
"""A forecaster loads its series first, maybe from its source when the cache has expired."""
PREDICTION_SUFFIXES = (".json", ".npz")


def prediction_files(artifacts: Sequence[ArtifactRecord]) -> list[str]:
    """The names of the stored artifacts a trainer needs to predict (see the module docstring)."""
    return sorted(
        artifact.name
        for artifact in artifacts
        if "/" not in artifact.name and artifact.name.endswith(PREDICTION_SUFFIXES)
    )


def trainers_for(pipeline: str, live: Sequence[TrainerRecord]) -> list[TrainerRecord]:
    """The live trainers that offer ``pipeline``, the one with the most free slots first."""
    offering = [trainer for trainer in live if pipeline in trainer.pipelines]
    return sorted(offering, key=lambda trainer: (-trainer.free_slots, trainer.id))


class Predictions:
    """Answers SchedulerService.Predict; ``channel`` reaches a trainer by address."""

    def __init__(
        self,
        store: Store,
        channel: Callable[[str], grpc.aio.Channel],
        metadata: tuple[tuple[str, str], ...],
        trainer_timeout: timedelta,
    ) -> None:
        self.store = store
        self.channel = channel
        self.metadata = metadata
        self.trainer_timeout = trainer_timeout

    async def predict(
        self, request: scheduler_pb2.PredictRequest, caller: Caller
    ) -> scheduler_pb2.PredictResponse:
        experiment = await asyncio.to_thread(
            self.store.get_experiment, request.experiment_id, caller=caller
        )
        if experiment.status is not ExperimentStatus.SUCCEEDED:
            raise NotPredictable(
                f"experiment {experiment.id} is {experiment.status.name}: only a SUCCEEDED "
                "experiment has a trained model to predict with"
                + (
                    "; wait until it finishes"
                    if not experiment.status.is_terminal
                    else "; submit it again"
                )
            )
        if experiment.files_pending:
            raise NotPredictable(
                f"experiment {experiment.id} has just ended and its files are still being "
                "stored; ask again in a moment (its `files_pending` turns false)"
            )
        files = await asyncio.to_thread(self._files, experiment.id)
        asked = trainer_pb2.TrainerServicePredictRequest(
            experiment_id=experiment.id,
            pipeline=experiment.pipeline,
            files=files,
            images=request.images,
        )
        if request.HasField("inputs"):
            asked.inputs.CopyFrom(request.inputs)
        live = await asyncio.to_thread(self.store.list_trainers, alive_within=self.trainer_timeout)
        candidates = trainers_for(experiment.pipeline, live)
        if not candidates:
            raise NoTrainerAvailable(
                f"no live trainer runs pipeline {experiment.pipeline!r}, so nothing can load "
                f"experiment {experiment.id}'s model: start one with `forge trainer --scheduler "
                "HOST:PORT` where the pipeline is installed"
            )
        unreachable = ""
        for trainer in candidates:
            answer, unreachable = await self._ask(trainer, asked)
            if answer is not None:
                return scheduler_pb2.PredictResponse(
                    experiment_id=experiment.id,
                    pipeline=experiment.pipeline,
                    prediction=answer.prediction,
                )
        raise NoTrainerAvailable(
            f"none of the {len(candidates)} trainer(s) that run pipeline "
            f"{experiment.pipeline!r} could predict ({unreachable}); try again shortly"
        )

    def _files(self, experiment_id: str) -> dict[str, bytes]:
        names = prediction_files(self.store.list_artifacts(experiment_id))
        return {name: self.store.get_artifact(experiment_id, name)[1] for name in names}

    async def _ask(
        self, trainer: TrainerRecord, request: trainer_pb2.TrainerServicePredictRequest
    ) -> tuple[trainer_pb2.TrainerServicePredictResponse | None, str]:
        """The trainer's answer, or None and why it could not give one now; refusals as errors."""
        stub = trainer_pb2_grpc.TrainerServiceStub(self.channel(trainer.address))
        try:
            answer: trainer_pb2.TrainerServicePredictResponse = await stub.Predict(
                request, metadata=self.metadata, timeout=PREDICT_TIMEOUT_S
            )
        except grpc.aio.AioRpcError as error:
            code, details = error.code(), error.details() or ""
            if code is grpc.StatusCode.INVALID_ARGUMENT:
                errors = field_errors(cast(Any, error.trailing_metadata()) or ())
                if not errors:
                    raise BadRequest.field("inputs", "invalid", details) from None
                raise BadRequest(errors, "the inputs do not fit the model") from None
            if code is grpc.StatusCode.FAILED_PRECONDITION:
                raise NotPredictable(details) from None
            if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED):
                log.warning("trainer %s could not predict: %s", trainer.id, details)
                return None, details
            raise
        return answer, ""
