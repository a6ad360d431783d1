"""`SchedulerService`: a few lines per RPC; the decisions live in the modules it calls.

Credentials are checked and errors turned into statuses before and after these methods run
(`scheduler.interceptors`), so each method reads its caller with `current_caller()` and raises
domain errors freely. The store is synchronous, so every call to it goes through
`asyncio.to_thread`; scoping (a user sees only their own experiments, another's is NOT_FOUND,
an admin sees all) is the store's rule, applied by passing the caller along.

The two watch streams send their response headers as soon as their NATS subscription is live:
a client that awaits `call.initial_metadata()` before acting misses nothing that follows. What
they send is what the database says, never what the bus alone says (`scheduler.watch`,
`scheduler.status_watch`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from datetime import timedelta
from typing import Any

import grpc.aio

from azuraforge.v1 import experiment_pb2, scheduler_pb2, scheduler_pb2_grpc
from scheduler.bus import Bus
from scheduler.caller import current_caller
from scheduler.convert import artifact_to_proto, experiment_to_proto, status_from_proto
from scheduler.db.models import ExperimentStatus
from scheduler.errors import BadRequest
from scheduler.names import check_name
from scheduler.pipelines import listed_pipelines
from scheduler.placement import Placement
from scheduler.predictions import Predictions
from scheduler.recorder import Recorder, log_event
from scheduler.records import StatusChange
from scheduler.registrations import check_registration
from scheduler.settings import DEFAULT_MAX_RESTARTS, MAX_RESTARTS_LIMIT
from scheduler.status_watch import Experiments, watch_changes
from scheduler.store import Store
from scheduler.submissions import check_submission, no_trainer_notice
from scheduler.watch import watch_events

log = logging.getLogger(__name__)

# The largest seq the database can hold: events are numbered in signed 64-bit integers.
MAX_SEQ = 2**63 - 1
ARTIFACT_CHUNK_SIZE = 256 * 1024
"""Far below gRPC's 4 MiB message limit, and large enough to keep the message count low."""

Context = grpc.aio.ServicerContext[Any, Any]


def statuses_from_request(
    statuses: Iterable[experiment_pb2.ExperimentStatus],
) -> list[ExperimentStatus]:
    """ListExperimentsRequest.statuses as the store's; `BadRequest` naming an unknown one."""
    try:
        return [status_from_proto(status) for status in statuses]
    except ValueError as error:
        raise BadRequest.field(
            "statuses", "enum", f"statuses: {error}; use PENDING, RUNNING, SUCCEEDED, ..."
        ) from None


def max_restarts_from_request(request: scheduler_pb2.SubmitExperimentRequest, default: int) -> int:
    """The submission's restart budget, `default` when unset; `BadRequest` past the limit."""
    if not request.HasField("max_restarts"):
        return default
    if request.max_restarts > MAX_RESTARTS_LIMIT:
        raise BadRequest.field(
            "max_restarts",
            "less_than_equal",
            f"max_restarts: must be at most {MAX_RESTARTS_LIMIT}, got {request.max_restarts}",
        )
    return request.max_restarts


def after_seq_from_request(request: scheduler_pb2.WatchExperimentRequest) -> int:
    """Where a watch resumes; `BadRequest` past the largest seq a database can store.

    The field is a uint64 and seqs are 64-bit signed integers in the database, so a number
    from 2^63 up names no event and cannot even be compared with one there.
    """
    if request.after_seq > MAX_SEQ:
        raise BadRequest.field(
            "after_seq",
            "less_than_equal",
            f"after_seq: must be at most {MAX_SEQ} (the seq of an event received), "
            f"got {request.after_seq}",
        )
    return request.after_seq


def artifact_responses(
    artifact: experiment_pb2.Artifact, content: bytes
) -> list[scheduler_pb2.GetArtifactResponse]:
    """The GetArtifact stream of one file: its description with the first chunk, then the rest."""
    chunks = [
        content[i : i + ARTIFACT_CHUNK_SIZE] for i in range(0, len(content), ARTIFACT_CHUNK_SIZE)
    ]
    responses = [scheduler_pb2.GetArtifactResponse(data=chunk) for chunk in chunks or [b""]]
    responses[0].artifact.CopyFrom(artifact)
    return responses


class SchedulerServicer(scheduler_pb2_grpc.SchedulerServiceServicer):
    """The RPCs of `azuraforge.v1.SchedulerService`."""

    def __init__(
        self,
        store: Store,
        bus: Bus,
        recorder: Recorder,
        placement: Placement,
        *,
        heartbeat_interval_s: int,
        max_restarts: int = DEFAULT_MAX_RESTARTS,
        trainer_timeout: timedelta = timedelta(seconds=15),
    ) -> None:
        self.store = store
        self.bus = bus
        self.recorder = recorder
        self.placement = placement
        self.heartbeat_interval_s = heartbeat_interval_s
        self.max_restarts = max_restarts
        # A trainer heard from within this long is live (as placement counts them).
        self.trainer_timeout = trainer_timeout
        # Who owns what, for every WatchExperiments call at once.
        self.experiments = Experiments(store)
        self.predictions = Predictions(
            store, placement.trainer_channel, placement.cluster_metadata, trainer_timeout
        )

    async def ListPipelines(
        self, request: scheduler_pb2.ListPipelinesRequest, context: Context
    ) -> scheduler_pb2.ListPipelinesResponse:
        pipelines = await asyncio.to_thread(
            listed_pipelines,
            self.store,
            self.trainer_timeout,
            include_offline=request.include_offline,
        )
        return scheduler_pb2.ListPipelinesResponse(pipelines=pipelines)

    async def SubmitExperiment(
        self, request: scheduler_pb2.SubmitExperimentRequest, context: Context
    ) -> scheduler_pb2.SubmitExperimentResponse:
        caller = current_caller()
        name = check_name(request.name)
        submission = await asyncio.to_thread(
            check_submission, self.store, request.pipeline, request.config
        )
        experiment = await asyncio.to_thread(
            self.store.create_experiment,
            caller.user_id,
            submission.pipeline,
            submission.config,
            total_epochs=submission.total_epochs,
            max_restarts=max_restarts_from_request(request, self.max_restarts),
            name=name,
        )
        await self.recorder.changed(StatusChange(experiment, None))
        if await self._warn_if_no_trainer_runs(experiment.id, submission.pipeline):
            experiment = await asyncio.to_thread(
                self.store.get_experiment, experiment.id, caller=caller
            )
        self.placement.wake()
        return scheduler_pb2.SubmitExperimentResponse(experiment=experiment_to_proto(experiment))

    async def _warn_if_no_trainer_runs(self, experiment_id: str, pipeline: str) -> bool:
        """Say in the experiment's log, at once, when it will wait for a trainer to offer it.

        Whether it said so (the experiment has an event more).
        """
        live = await asyncio.to_thread(self.store.list_trainers, alive_within=self.trainer_timeout)
        notice = no_trainer_notice(pipeline, live)
        if notice is None:
            return False
        log.warning("experiment %s: %s", experiment_id, notice)
        await self.recorder.event(experiment_id, log_event(notice))
        return True

    async def GetExperiment(
        self, request: scheduler_pb2.GetExperimentRequest, context: Context
    ) -> scheduler_pb2.GetExperimentResponse:
        experiment = await asyncio.to_thread(
            self.store.get_experiment, request.experiment_id, caller=current_caller()
        )
        return scheduler_pb2.GetExperimentResponse(experiment=experiment_to_proto(experiment))

    async def ListExperiments(
        self, request: scheduler_pb2.ListExperimentsRequest, context: Context
    ) -> scheduler_pb2.ListExperimentsResponse:
        page = await asyncio.to_thread(
            self.store.list_experiments,
            caller=current_caller(),
            statuses=statuses_from_request(request.statuses),
            pipeline=request.pipeline,
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return scheduler_pb2.ListExperimentsResponse(
            experiments=[experiment_to_proto(experiment) for experiment in page.experiments],
            next_page_token=page.next_page_token,
            total_size=page.total_size,
        )

    async def RenameExperiment(
        self, request: scheduler_pb2.RenameExperimentRequest, context: Context
    ) -> scheduler_pb2.RenameExperimentResponse:
        experiment = await asyncio.to_thread(
            self.store.rename_experiment,
            request.experiment_id,
            check_name(request.name),
            caller=current_caller(),
        )
        return scheduler_pb2.RenameExperimentResponse(experiment=experiment_to_proto(experiment))

    async def CancelExperiment(
        self, request: scheduler_pb2.CancelExperimentRequest, context: Context
    ) -> scheduler_pb2.CancelExperimentResponse:
        experiment = await self.placement.cancel(request.experiment_id, current_caller())
        return scheduler_pb2.CancelExperimentResponse(experiment=experiment_to_proto(experiment))

    async def WatchExperiment(
        self, request: scheduler_pb2.WatchExperimentRequest, context: Context
    ) -> AsyncIterator[scheduler_pb2.WatchExperimentResponse]:
        after_seq = after_seq_from_request(request)
        # Access first: someone else's experiment is NOT_FOUND before anything streams.
        await asyncio.to_thread(
            self.store.get_experiment, request.experiment_id, caller=current_caller()
        )
        events = watch_events(
            self.store,
            self.bus,
            request.experiment_id,
            after_seq,
            subscribed=lambda: context.send_initial_metadata(()),
        )
        # Closed here when the client hangs up, so the NATS subscription ends with the RPC.
        async with contextlib.aclosing(events):
            async for event in events:
                yield scheduler_pb2.WatchExperimentResponse(event=event)

    async def WatchExperiments(
        self, request: scheduler_pb2.WatchExperimentsRequest, context: Context
    ) -> AsyncIterator[scheduler_pb2.WatchExperimentsResponse]:
        changes = watch_changes(
            self.experiments,
            self.bus,
            current_caller(),
            subscribed=lambda: context.send_initial_metadata(()),
        )
        async with contextlib.aclosing(changes):
            async for change in changes:
                yield scheduler_pb2.WatchExperimentsResponse(change=change)

    async def GetArtifact(
        self, request: scheduler_pb2.GetArtifactRequest, context: Context
    ) -> AsyncIterator[scheduler_pb2.GetArtifactResponse]:
        await asyncio.to_thread(
            self.store.get_experiment, request.experiment_id, caller=current_caller()
        )
        record, content = await asyncio.to_thread(
            self.store.get_artifact, request.experiment_id, request.name
        )
        for response in artifact_responses(artifact_to_proto(record), content):
            yield response

    async def Predict(
        self, request: scheduler_pb2.PredictRequest, context: Context
    ) -> scheduler_pb2.PredictResponse:
        return await self.predictions.predict(request, current_caller())

    async def RegisterTrainer(
        self, request: scheduler_pb2.RegisterTrainerRequest, context: Context
    ) -> scheduler_pb2.RegisterTrainerResponse:
        announced = check_registration(request)
        trainer = await asyncio.to_thread(
            self.store.register_trainer,
            address=request.address,
            slots=request.slots,
            pipelines=[pipeline.name for pipeline in announced],
            trainer_id=request.trainer_id,
            held=request.running_experiment_ids,
            announced=announced,
        )
        self.placement.trainer_registered(trainer.id)
        return scheduler_pb2.RegisterTrainerResponse(
            trainer_id=trainer.id, heartbeat_interval_seconds=self.heartbeat_interval_s
        )

    async def TrainerHeartbeat(
        self, request: scheduler_pb2.TrainerHeartbeatRequest, context: Context
    ) -> scheduler_pb2.TrainerHeartbeatResponse:
        answer = await asyncio.to_thread(
            self.store.heartbeat, request.trainer_id, request.running_experiment_ids
        )
        if answer.registered:
            self.placement.wake()
        return scheduler_pb2.TrainerHeartbeatResponse(
            registered=answer.registered,
            acknowledged=answer.acknowledged,
            forget_experiment_ids=answer.forget,
        )
