"""A real gRPC server that plays one running experiment whose events a test releases at will.

The real stack cannot be made to emit tens of megabytes of events, which is what it takes for
a client that stops reading to fill the socket buffers between it and the gateway. This
server can: its `WatchExperiment` streams `count` large events, each stream (the gateway's
shared one and each viewer's own replay) starting after the `after_seq` it was asked for, and
it starts only once the test sets `go`, so that every viewer has joined first.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import grpc
import grpc.aio

from azuraforge.v1 import events_pb2, experiment_pb2, scheduler_pb2, scheduler_pb2_grpc

EXPERIMENT = "scripted"


class ScriptedExperiment(scheduler_pb2_grpc.SchedulerServiceServicer):
    """One RUNNING experiment of `count` events of `size` bytes, the last one its finish."""

    def __init__(self, count: int, size: int) -> None:
        self.count = count
        self.filler = "x" * size
        self.go = asyncio.Event()
        self.watch_calls: list[int] = []
        # GetExperiment answers once this is set; meanwhile the calls are counted as held.
        self.answer_lookups = asyncio.Event()
        self.answer_lookups.set()
        self.lookups_held = 0
        self.most_lookups_held = 0

    def event(self, seq: int) -> events_pb2.ExperimentEvent:
        event = events_pb2.ExperimentEvent(experiment_id=EXPERIMENT, seq=seq)
        if seq == self.count:
            event.experiment_finished.status = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
        else:
            event.log_line.message = self.filler
        return event

    async def GetExperiment(
        self, request: scheduler_pb2.GetExperimentRequest, context: Any
    ) -> scheduler_pb2.GetExperimentResponse:
        if request.experiment_id != EXPERIMENT:
            await context.abort(grpc.StatusCode.NOT_FOUND, "no such experiment")
        self.lookups_held += 1
        self.most_lookups_held = max(self.most_lookups_held, self.lookups_held)
        try:
            await self.answer_lookups.wait()
        finally:
            self.lookups_held -= 1
        return scheduler_pb2.GetExperimentResponse(
            experiment=experiment_pb2.Experiment(
                experiment_id=EXPERIMENT, status=experiment_pb2.EXPERIMENT_STATUS_RUNNING
            )
        )

    async def WatchExperiment(
        self, request: scheduler_pb2.WatchExperimentRequest, context: Any
    ) -> AsyncIterator[scheduler_pb2.WatchExperimentResponse]:
        self.watch_calls.append(request.after_seq)
        await self.go.wait()
        for seq in range(request.after_seq + 1, self.count + 1):
            yield scheduler_pb2.WatchExperimentResponse(event=self.event(seq))


@asynccontextmanager
async def running_script(count: int, size: int) -> AsyncIterator[tuple[ScriptedExperiment, str]]:
    """The scripted scheduler on a free loopback port: the servicer and its address."""
    server = grpc.aio.server()
    script = ScriptedExperiment(count, size)
    scheduler_pb2_grpc.add_SchedulerServiceServicer_to_server(script, server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        yield script, f"127.0.0.1:{port}"
    finally:
        await server.stop(None)
