"""A real trainer server on a free loopback port, and a real client for it."""

from __future__ import annotations

import multiprocessing
import multiprocessing.process
import time
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import grpc
import grpc.aio
from google.protobuf import struct_pb2

from azuraforge.v1 import events_pb2, trainer_pb2, trainer_pb2_grpc
from trainer.server import TrainerServer, create_server
from trainer.settings import TrainerSettings
from trainer.warm import READY_NAME

TOKEN = "test-cluster-token"
AUTH = (("authorization", f"Bearer {TOKEN}"),)


def settings(data_dir: Path, **changes: Any) -> TrainerSettings:
    base = TrainerSettings(
        cluster_token=TOKEN, data_dir=data_dir, host="127.0.0.1", port=0, threads=1
    )
    return replace(base, **changes)


@dataclass
class Client:
    server: TrainerServer
    channel: grpc.aio.Channel
    stub: trainer_pb2_grpc.TrainerServiceStub

    def train(
        self,
        experiment_id: str,
        config: Mapping[str, Any] | None = None,
        pipeline: str = "trainer_probe",
    ) -> Any:
        """The Train call (an async iterator of responses)."""
        return self.stub.Train(train_request(experiment_id, config, pipeline), metadata=AUTH)


@asynccontextmanager
async def running_trainer(data_dir: Path, **changes: Any) -> AsyncIterator[Client]:
    server = create_server(settings(data_dir, **changes))
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            yield Client(server, channel, trainer_pb2_grpc.TrainerServiceStub(channel))
    finally:
        await server.stop(None)


def train_request(
    experiment_id: str,
    config: Mapping[str, Any] | None = None,
    pipeline: str = "trainer_probe",
    **fields: Any,
) -> trainer_pb2.TrainRequest:
    struct = struct_pb2.Struct()
    struct.update(dict(config or {}))
    return trainer_pb2.TrainRequest(
        experiment_id=experiment_id, pipeline=pipeline, config=struct, **fields
    )


def events_in(response: trainer_pb2.TrainResponse) -> list[events_pb2.ExperimentEvent]:
    """The events one stream item carries: its one event, a batch's, or none."""
    if response.HasField("event"):
        return [response.event]
    return list(response.events.events)


@dataclass
class Received:
    """What a Train stream carried, each item with the monotonic time it arrived."""

    items: list[tuple[float, trainer_pb2.TrainResponse]] = field(default_factory=list)

    @property
    def events(self) -> list[events_pb2.ExperimentEvent]:
        return [event for _, r in self.items for event in events_in(r)]

    def kinds(self) -> list[str]:
        """Each event's kind, and each other item's."""
        return [
            kind
            for _, r in self.items
            for kind in (
                [e.WhichOneof("kind") or "" for e in events_in(r)]
                if r.WhichOneof("item") in ("event", "events")
                else [r.WhichOneof("item") or ""]
            )
        ]

    def times(self, kind: str) -> list[float]:
        return [t for t, r in self.items for e in events_in(r) if e.HasField(kind)]

    @property
    def finished(self) -> events_pb2.ExperimentFinished:
        """The run's ending: the last item, or followed by its files and `FilesStored` last."""
        (finished,) = [e for e in self.events if e.HasField("experiment_finished")]
        last = self.items[-1][1].event
        assert last == finished or (
            finished.experiment_finished.files_follow and last.HasField("files_stored")
        ), self.kinds()
        return finished.experiment_finished

    @property
    def files_stored(self) -> events_pb2.FilesStored:
        """The last item's `FilesStored`, of a run whose files followed its end."""
        last = self.items[-1][1].event
        assert last.HasField("files_stored"), self.kinds()
        return last.files_stored

    def artifacts(self) -> dict[str, bytes]:
        files: dict[str, bytes] = {}
        for _, response in self.items:
            if response.HasField("artifact_chunk"):
                chunk = response.artifact_chunk
                assert chunk.offset == len(files.get(chunk.name, b"")), chunk.name
                files[chunk.name] = files.get(chunk.name, b"") + chunk.data
        return files

    def content_types(self) -> dict[str, str]:
        return {
            r.artifact_chunk.name: r.artifact_chunk.content_type
            for _, r in self.items
            if r.HasField("artifact_chunk")
        }


async def receive(
    call: Any, until: str | None = None, received: Received | None = None
) -> Received:
    """Read ``call`` to its end, or until an event of kind ``until`` arrives."""
    received = received if received is not None else Received()
    async for response in call:
        received.items.append((time.monotonic(), response))
        if until is not None and any(e.HasField(until) for e in events_in(response)):
            break
    return received


async def status_of(call: Any) -> tuple[grpc.StatusCode, str]:
    """The status a call ended with, reading away anything it still streams."""
    try:
        async for _ in call:
            pass
    except grpc.aio.AioRpcError as error:
        return error.code(), error.details() or ""
    return await call.code(), await call.details()


def job_processes() -> list[multiprocessing.process.BaseProcess]:
    """This process's children that run a job: all but the one ready for the next job."""
    return [child for child in multiprocessing.active_children() if child.name != READY_NAME]
