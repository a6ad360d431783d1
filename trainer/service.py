"""``TrainerService``: the scheduler's handle on this trainer's slots.

The servicer is a few lines per RPC; the decisions sit beside it in small functions: which
requests are acceptable (``experiment_from_request``), which slot a job takes (``Trainer``),
what this trainer can do (``describe``). A request that cannot run is refused with a status
that names the problem (an unknown pipeline, a config field out of bounds, no free slot) before
any process starts, so no input a caller sends can take the trainer down.

A Train stream ends with ``ExperimentFinished`` however the run ends. If the stream itself
goes away first (the scheduler hung up, the trainer is shutting down), the job's process is
killed: nobody would hear its events, and the scheduler treats a broken stream as a lost
trainer and places the experiment again, with the last checkpoint the run sent it.
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import AsyncIterator

import grpc
import grpc.aio
from google.protobuf import json_format, struct_pb2

from azuraforge.v1 import experiment_pb2, trainer_pb2, trainer_pb2_grpc
from forge_learner.config import ConfigError, config_json_schema
from forge_learner.registry import (
    PipelineClass,
    UnknownPipelineError,
    discover_pipelines,
    get_pipeline,
)
from trainer.job import JobSpec
from trainer.runner import Experiment, Job, run_experiment
from trainer.settings import TrainerSettings

log = logging.getLogger(__name__)

EXPERIMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""Experiment ids name run folders, so they must be safe as one: no separators, no leading dot."""


class RequestError(Exception):
    """A request this trainer refuses; ``code`` and the message go back to the caller."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class Trainer:
    """What this trainer is (id, address, settings) and the jobs in its slots.

    The servicer and the registration task share it; both run on the event loop, so a slot is
    taken and released without locks.
    """

    def __init__(self, settings: TrainerSettings, trainer_id: str, address: str) -> None:
        self.settings = settings
        self.trainer_id = trainer_id
        self.address = address
        self._jobs: dict[str, Job] = {}

    @property
    def running_experiment_ids(self) -> list[str]:
        return sorted(self._jobs)

    @property
    def free_slots(self) -> int:
        return self.settings.slots - len(self._jobs)

    def take_slot(self, experiment: Experiment) -> Job:
        """The job of ``experiment`` in a free slot, not yet started; or a refusal."""
        experiment_id = experiment.experiment_id
        if experiment_id in self._jobs:
            raise RequestError(
                grpc.StatusCode.ALREADY_EXISTS,
                f"experiment {experiment_id!r} is already running on trainer {self.trainer_id}",
            )
        if self.free_slots <= 0:
            raise RequestError(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"trainer {self.trainer_id} has no free slot: all {self.settings.slots} are "
                f"running ({', '.join(self.running_experiment_ids)}); place it elsewhere or "
                "wait for one to finish",
            )
        job = self._jobs[experiment_id] = Job(experiment)
        return job

    def free_slot(self, job: Job) -> None:
        self._jobs.pop(job.experiment.experiment_id, None)

    def cancel(self, experiment_id: str) -> bool:
        """Cancel the running experiment; False when it is not running here."""
        job = self._jobs.get(experiment_id)
        if job is None:
            return False
        job.cancel()
        return True

    def close(self) -> None:
        """Kill every job's process: the trainer is going away."""
        for job in list(self._jobs.values()):
            job.close()


def experiment_from_request(request: trainer_pb2.TrainRequest, trainer: Trainer) -> Experiment:
    """The experiment a Train request asks for, checked down to each config field."""
    if not EXPERIMENT_ID.fullmatch(request.experiment_id):
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"experiment_id {request.experiment_id!r} is not usable: give 1 to 128 letters, "
            "digits, '.', '_' or '-', starting with a letter or digit",
        )
    if not request.pipeline:
        raise RequestError(grpc.StatusCode.INVALID_ARGUMENT, "pipeline is empty: name one")
    try:
        pipeline = get_pipeline(request.pipeline)
    except UnknownPipelineError as error:
        raise RequestError(grpc.StatusCode.NOT_FOUND, str(error)) from None
    try:
        config = pipeline.parse_config(json_format.MessageToDict(request.config))
    except ConfigError as error:
        problems = "; ".join(field.message for field in error.errors)
        raise RequestError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"invalid config for pipeline {pipeline.name!r}: {problems}",
        ) from None
    run_dir = trainer.settings.work_dir(trainer.trainer_id) / request.experiment_id
    return Experiment(
        experiment_id=request.experiment_id,
        spec=JobSpec(
            pipeline,
            config.model_dump(mode="json"),
            run_dir,
            resume_checkpoint=request.checkpoint or None,
            checkpoint_interval_s=trainer.settings.checkpoint_interval_s,
        ),
        trainer_id=trainer.trainer_id,
        threads=trainer.settings.threads,
    )


def describe(trainer: Trainer) -> trainer_pb2.DescribeResponse:
    """This trainer's id, slots, what runs in them, and every pipeline it can run."""
    return trainer_pb2.DescribeResponse(
        trainer_id=trainer.trainer_id,
        slots=trainer.settings.slots,
        free_slots=trainer.free_slots,
        pipelines=[pipeline_info(name, cls) for name, cls in sorted(discover_pipelines().items())],
        running_experiment_ids=trainer.running_experiment_ids,
    )


def pipeline_info(name: str, cls: PipelineClass) -> experiment_pb2.PipelineInfo:
    """A pipeline's name, summary and config JSON Schema, as the contract describes one."""
    schema = struct_pb2.Struct()
    schema.update(config_json_schema(cls.Config))
    return experiment_pb2.PipelineInfo(name=name, summary=cls.summary, config_schema=schema)


async def train(trainer: Trainer, job: Job) -> AsyncIterator[trainer_pb2.TrainResponse]:
    """Stream the job that holds a slot; the slot and the run folder are freed after."""
    experiment = job.experiment
    run_dir = experiment.spec.run_dir
    shutil.rmtree(run_dir, ignore_errors=True)  # a run placed here before left its files
    log.info("experiment %s: running %s", experiment.experiment_id, experiment.spec.pipeline.name)
    try:
        async for response in run_experiment(job):
            yield response
    finally:
        job.close()
        trainer.free_slot(job)
        shutil.rmtree(run_dir, ignore_errors=True)  # sent to the scheduler, which keeps it
        log.info("experiment %s: done (exit code %s)", experiment.experiment_id, job.exitcode)


class TrainerServicer(trainer_pb2_grpc.TrainerServiceServicer):
    """The RPCs; the cluster token is checked before them (``trainer.auth``)."""

    def __init__(self, trainer: Trainer) -> None:
        self.trainer = trainer

    async def Train(
        self,
        request: trainer_pb2.TrainRequest,
        context: grpc.aio.ServicerContext[trainer_pb2.TrainRequest, trainer_pb2.TrainResponse],
    ) -> AsyncIterator[trainer_pb2.TrainResponse]:
        try:
            job = self.trainer.take_slot(experiment_from_request(request, self.trainer))
        except RequestError as error:
            await context.abort(error.code, error.message)
        async for response in train(self.trainer, job):
            yield response

    async def Cancel(
        self,
        request: trainer_pb2.CancelRequest,
        context: grpc.aio.ServicerContext[trainer_pb2.CancelRequest, trainer_pb2.CancelResponse],
    ) -> trainer_pb2.CancelResponse:
        return trainer_pb2.CancelResponse(cancelled=self.trainer.cancel(request.experiment_id))

    async def Describe(
        self,
        request: trainer_pb2.DescribeRequest,
        context: grpc.aio.ServicerContext[
            trainer_pb2.DescribeRequest, trainer_pb2.DescribeResponse
        ],
    ) -> trainer_pb2.DescribeResponse:
        return describe(self.trainer)
