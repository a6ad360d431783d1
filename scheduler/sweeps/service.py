"""`SweepService`: a few lines per RPC; the sweep's life is `scheduler.sweeps.runner`'s.

Credentials and errors are the interceptors' (`scheduler.interceptors`), as for
`SchedulerService`: a user sees their own sweeps, someone else's is NOT_FOUND, an admin sees
all; a bad spec is INVALID_ARGUMENT with a field violation per bad field.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import grpc.aio

from azuraforge.v1 import sweep_pb2, sweep_pb2_grpc
from scheduler.bus import Bus
from scheduler.caller import current_caller
from scheduler.errors import BadRequest
from scheduler.store import Store
from scheduler.sweeps.convert import sweep_to_proto
from scheduler.sweeps.runner import SweepRunner
from scheduler.sweeps.watch import watch_sweep

Context = grpc.aio.ServicerContext[Any, Any]
MAX_SEQ = 2**63 - 1


class SweepServicer(sweep_pb2_grpc.SweepServiceServicer):
    """The RPCs of `azuraforge.v1.SweepService`."""

    def __init__(self, store: Store, bus: Bus, runner: SweepRunner) -> None:
        self.store = store
        self.bus = bus
        self.runner = runner

    async def SubmitSweep(
        self, request: sweep_pb2.SubmitSweepRequest, context: Context
    ) -> sweep_pb2.SubmitSweepResponse:
        sweep = await self.runner.submit(current_caller(), request.spec)
        return sweep_pb2.SubmitSweepResponse(sweep=sweep_to_proto(sweep))

    async def GetSweep(
        self, request: sweep_pb2.GetSweepRequest, context: Context
    ) -> sweep_pb2.GetSweepResponse:
        sweep = await asyncio.to_thread(
            self.store.get_sweep, request.sweep_id, caller=current_caller()
        )
        return sweep_pb2.GetSweepResponse(sweep=sweep_to_proto(sweep))

    async def ListSweeps(
        self, request: sweep_pb2.ListSweepsRequest, context: Context
    ) -> sweep_pb2.ListSweepsResponse:
        sweeps, token = await asyncio.to_thread(
            self.store.list_sweeps,
            caller=current_caller(),
            page_size=request.page_size,
            page_token=request.page_token,
        )
        return sweep_pb2.ListSweepsResponse(
            sweeps=[sweep_to_proto(sweep, rungs=False) for sweep in sweeps],
            next_page_token=token,
        )

    async def CancelSweep(
        self, request: sweep_pb2.CancelSweepRequest, context: Context
    ) -> sweep_pb2.CancelSweepResponse:
        sweep = await self.runner.cancel(request.sweep_id, current_caller())
        return sweep_pb2.CancelSweepResponse(sweep=sweep_to_proto(sweep))

    async def WatchSweep(
        self, request: sweep_pb2.WatchSweepRequest, context: Context
    ) -> AsyncIterator[sweep_pb2.WatchSweepResponse]:
        if request.after_seq > MAX_SEQ:
            raise BadRequest.field(
                "after_seq",
                "less_than_equal",
                f"after_seq: must be at most {MAX_SEQ} (the seq of an event received), "
                f"got {request.after_seq}",
            )
        # Access first: someone else's sweep is NOT_FOUND before anything streams.
        await asyncio.to_thread(self.store.get_sweep, request.sweep_id, caller=current_caller())
        events = watch_sweep(
            self.store,
            self.bus,
            request.sweep_id,
            request.after_seq,
            subscribed=lambda: context.send_initial_metadata(()),
        )
        async for event in events:
            yield sweep_pb2.WatchSweepResponse(event=event)
