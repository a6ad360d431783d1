"""``TrainerService``: the scheduler's handle on this trainer's slots.

The servicer is a few lines per RPC; the decisions sit beside it in small functions: which
requests are acceptable (``experiment_from_request``), which slot a job takes (``TrainerState``),
what this trainer can do (``describe``). A request that cannot run is refused with a status
that names the problem (an unknown pipeline, a config field out of bounds, no free slot) before
any process starts, so no input a caller sends can take the trainer down.

A Train stream ends with ``ExperimentFinished`` however the run ends. A run outlives its
stream (docs/architecture.md#faults): its items go into its ``RunStream`` first, and the Train call
only follows it. If the stream goes away (the scheduler died or restarted), the run goes on;
a scheduler that comes back calls ``Attach`` and follows it from the last item it stored. A run
nobody follows for ``grace_s`` is stopped (its checkpoints are kept in the stream), so a
scheduler that returns later places it again from its last checkpoint. What a run sent is kept
until a scheduler acknowledges it in a heartbeat answer, or tells the trainer to forget the run.
A cancel goes through the Cancel RPC; the trainer's own stop kills every job, and the scheduler
places those runs again from their checkpoints.

``Predict`` is apart from all this: it takes no slot and holds no run; ``trainer.prediction``
rebuilds a finished run's model from the files the request carries and answers.
"""

from __future__ import annotations

import asyncio
import logging
import re
import shutil
from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass

import grpc
import grpc.aio
from google.protobuf import json_format

from azuraforge.v1 import trainer_pb2, trainer_pb2_grpc
from forge_learner.config import ConfigError
from forge_learner.registry import (
    UnknownPipelineError,
    discover_pipelines,
    get_pipeline,
)
from trainer.job import JobSpec
from trainer.pipelines import pipeline_info
from trainer.prediction import PredictionRefused, Predictor
from trainer.runner import Assignment, Job, run_experiment
from trainer.settings import TrainerSettings
from trainer.stream import RunStream
from trainer.warm import ReadyProcesses

log = logging.getLogger(__name__)

EXPERIMENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
"""Experiment ids name run folders, so they must be safe as one: no separators, no leading dot."""


class RequestError(Exception):
    """A request this trainer refuses; ``code`` and the message go back to the caller."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass
class HeldRun:
    """A run this trainer holds: its job, the stream of what it sent, and who follows it."""

    job: Job
    stream: RunStream
    pump: asyncio.Task[None] | None = None
    followers: int = 0
    grace_timer: asyncio.TimerHandle | None = None

    @property
    def experiment_id(self) -> str:
        return self.job.experiment.experiment_id

    @property
    def running(self) -> bool:
        """Whether its job still trains (or has not been started yet)."""
        return self.pump is None or not self.pump.done()


class TrainerState:
    """What this trainer is (id, address, settings) and the runs it holds.

    The servicer and the registration task share it; both run on the event loop, so a slot is
    taken and released without locks. A run holds a slot while its job trains; an ended run
    stays held, without a slot, until a scheduler has acknowledged its last item.
    """

    def __init__(self, settings: TrainerSettings, trainer_id: str, address: str) -> None:
        self.settings = settings
        self.trainer_id = trainer_id
        self.address = address
        self._runs: dict[str, HeldRun] = {}
        # A job process started ahead of the next job (trainer.warm); started with the server.
        self.processes = ReadyProcesses(settings.threads)

    @property
    def running_experiment_ids(self) -> list[str]:
        """The runs whose jobs train now."""
        return sorted(run.experiment_id for run in self._runs.values() if run.running)

    @property
    def held_experiment_ids(self) -> list[str]:
        """Every run held: training, or ended with items a scheduler has not acknowledged."""
        return sorted(self._runs)

    @property
    def free_slots(self) -> int:
        return self.settings.slots - sum(1 for run in self._runs.values() if run.running)

    def held(self, experiment_id: str) -> HeldRun:
        """The run of `experiment_id`; a NOT_FOUND refusal when this trainer does not hold it."""
        run = self._runs.get(experiment_id)
        if run is None:
            raise RequestError(
                grpc.StatusCode.NOT_FOUND,
                f"trainer {self.trainer_id} holds no run of experiment {experiment_id!r}: it "
                "never ran it here, or forgot it (restarted, or told to); place it again",
            )
        return run

    def take_slot(self, experiment: Assignment) -> HeldRun:
        """The run of ``experiment`` in a free slot, not yet started; or a refusal."""
        experiment_id = experiment.experiment_id
        earlier = self._runs.get(experiment_id)
        if earlier is not None and earlier.running:
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
        if earlier is not None:  # an ended run placed here again: its old stream is moot
            self._forget(earlier)
        spill = self.settings.work_dir(self.trainer_id) / ".streams" / experiment_id
        run = self._runs[experiment_id] = HeldRun(
            Job(experiment, self.processes), RunStream(spill, self.settings.stream_memory_bytes)
        )
        return run

    def start(self, run: HeldRun) -> None:
        run.pump = asyncio.create_task(self._pump(run), name=f"forge-job-{run.experiment_id}")

    async def follow(
        self, run: HeldRun, after: int = 0
    ) -> AsyncIterator[trainer_pb2.TrainResponse]:
        """The run's items after position `after`, then live; a run left alone gets a grace."""
        run.followers += 1
        if run.grace_timer is not None:
            run.grace_timer.cancel()
            run.grace_timer = None
        try:
            async for response in run.stream.follow(after):
                yield response
        finally:
            run.followers -= 1
            if run.followers == 0 and run.running and self._runs.get(run.experiment_id) is run:
                self._start_grace(run)

    def acknowledge(self, positions: Mapping[str, int], forget: Iterable[str] = ()) -> None:
        """A scheduler stored these runs up to these positions, and expects nothing of `forget`."""
        for experiment_id, position in positions.items():
            run = self._runs.get(experiment_id)
            if run is None:
                continue
            run.stream.acknowledge(position)
            if run.stream.closed and run.stream.acknowledged >= run.stream.last_position:
                self._forget(run)
        for experiment_id in forget:
            run = self._runs.get(experiment_id)
            if run is not None:
                log.info("experiment %s: the scheduler expects nothing more of it", experiment_id)
                self._forget(run)

    def cancel(self, experiment_id: str) -> bool:
        """Cancel the running experiment; False when it is not running here."""
        run = self._runs.get(experiment_id)
        if run is None or not run.running:
            return False
        run.job.cancel()
        return True

    def close(self) -> None:
        """Kill every job's process and the ready one: the trainer is going away."""
        self.processes.close()
        for run in list(self._runs.values()):
            if run.grace_timer is not None:
                run.grace_timer.cancel()
            run.job.close()

    def _forget(self, run: HeldRun) -> None:
        if run.grace_timer is not None:
            run.grace_timer.cancel()
        run.job.close()
        if run.pump is not None:
            run.pump.cancel()
        run.stream.discard()
        if self._runs.get(run.experiment_id) is run:
            del self._runs[run.experiment_id]

    def _start_grace(self, run: HeldRun) -> None:
        grace = self.settings.grace_s
        log.warning(
            "experiment %s: nobody follows its run any more; it goes on for %.0f s, waiting "
            "for a scheduler to attach",
            run.experiment_id,
            grace,
        )
        run.grace_timer = asyncio.get_running_loop().call_later(grace, self._abandon, run)

    def _abandon(self, run: HeldRun) -> None:
        run.grace_timer = None
        if run.followers or not run.running:
            return
        run.job.abandon(
            f"no scheduler followed the run for {self.settings.grace_s:.0f} s, so trainer "
            f"{self.trainer_id} stopped it; it resumes from its last checkpoint"
        )

    async def _pump(self, run: HeldRun) -> None:
        """Run the job, appending all it sends to its stream; free the slot and folder after."""
        experiment = run.job.experiment
        run_dir = experiment.spec.run_dir
        shutil.rmtree(run_dir, ignore_errors=True)  # a run placed here before left its files
        log.info("experiment %s: running %s", run.experiment_id, experiment.spec.pipeline.name)
        try:
            async for response in run_experiment(run.job):
                run.stream.append(response)
        finally:
            run.job.close()
            run.stream.close()
            shutil.rmtree(run_dir, ignore_errors=True)  # sent on the stream, which keeps it
            log.info("experiment %s: done (exit code %s)", run.experiment_id, run.job.exitcode)


def experiment_from_request(request: trainer_pb2.TrainRequest, trainer: TrainerState) -> Assignment:
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
    return Assignment(
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
        cancel_grace_s=trainer.settings.cancel_grace_s,
    )


def describe(trainer: TrainerState) -> trainer_pb2.DescribeResponse:
    """This trainer's id, slots, what runs in them, and every pipeline it can run."""
    return trainer_pb2.DescribeResponse(
        trainer_id=trainer.trainer_id,
        slots=trainer.settings.slots,
        free_slots=trainer.free_slots,
        pipelines=[pipeline_info(name, cls) for name, cls in sorted(discover_pipelines().items())],
        running_experiment_ids=trainer.running_experiment_ids,
    )


class TrainerServicer(trainer_pb2_grpc.TrainerServiceServicer):
    """The RPCs; the cluster token is checked before them (``trainer.auth``)."""

    def __init__(self, trainer: TrainerState) -> None:
        self.trainer = trainer
        self.predictor = Predictor(trainer.settings.work_dir(trainer.trainer_id) / ".predictions")

    async def Train(
        self,
        request: trainer_pb2.TrainRequest,
        context: grpc.aio.ServicerContext[trainer_pb2.TrainRequest, trainer_pb2.TrainResponse],
    ) -> AsyncIterator[trainer_pb2.TrainResponse]:
        try:
            run = self.trainer.take_slot(experiment_from_request(request, self.trainer))
        except RequestError as error:
            await context.abort(error.code, error.message)
        self.trainer.start(run)
        async for response in self.trainer.follow(run):
            yield response

    async def Attach(
        self,
        request: trainer_pb2.AttachRequest,
        context: grpc.aio.ServicerContext[trainer_pb2.AttachRequest, trainer_pb2.AttachResponse],
    ) -> AsyncIterator[trainer_pb2.AttachResponse]:
        try:
            run = self.trainer.held(request.experiment_id)
        except RequestError as error:
            await context.abort(error.code, error.message)
        log.info(
            "experiment %s: a scheduler attached after item %d",
            request.experiment_id,
            request.after_position,
        )
        async for response in self.trainer.follow(run, request.after_position):
            yield trainer_pb2.AttachResponse(response=response)

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

    async def Predict(
        self,
        request: trainer_pb2.TrainerServicePredictRequest,
        context: grpc.aio.ServicerContext[
            trainer_pb2.TrainerServicePredictRequest, trainer_pb2.TrainerServicePredictResponse
        ],
    ) -> trainer_pb2.TrainerServicePredictResponse:
        try:
            return await self.predictor.predict(request)
        except PredictionRefused as error:
            context.set_trailing_metadata(error.trailing_metadata)
            await context.abort(error.code, error.message)
