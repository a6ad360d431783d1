"""Registration and heartbeats against a real SchedulerService on loopback.

The scheduler here implements only the two trainer RPCs and records every call: it is the
other side of the contract, served for real, so the trainer's client code runs unchanged.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import grpc
import grpc.aio
import pytest
from google.protobuf import json_format

from azuraforge.tls import TlsSettings
from azuraforge.v1 import scheduler_pb2, scheduler_pb2_grpc, trainer_pb2
from forge_learner.config import config_json_schema
from forge_learner.registry import Discovery, discover_pipelines
from tests.certificates import Certificates
from tests.trainer.harness import AUTH, TOKEN, receive, running_trainer
from tests.trainer.probe import ProbeConfig, TrainerProbe
from tests.waiting import until

pytestmark = pytest.mark.timeout(60)


class RecordingScheduler(scheduler_pb2_grpc.SchedulerServiceServicer):
    """Accepts the cluster token only; forgets trainers on request; may hand out its own ids."""

    def __init__(self, assign_id: str = "", forget: int = 0) -> None:
        self.assign_id = assign_id
        self.forget = forget
        self.registrations: list[scheduler_pb2.RegisterTrainerRequest] = []
        self.heartbeats: list[scheduler_pb2.TrainerHeartbeatRequest] = []

    async def RegisterTrainer(self, request, context):
        await self._check(context)
        self.registrations.append(request)
        return scheduler_pb2.RegisterTrainerResponse(
            trainer_id=self.assign_id or request.trainer_id, heartbeat_interval_seconds=1
        )

    async def TrainerHeartbeat(self, request, context):
        await self._check(context)
        self.heartbeats.append(request)
        if self.forget > 0:
            self.forget -= 1
            return scheduler_pb2.TrainerHeartbeatResponse(registered=False)
        return scheduler_pb2.TrainerHeartbeatResponse(registered=True)

    async def _check(self, context) -> None:
        if dict(context.invocation_metadata()).get("authorization") != f"Bearer {TOKEN}":
            await context.abort(grpc.StatusCode.UNAUTHENTICATED, "wrong cluster token")


@asynccontextmanager
async def scheduler(
    servicer: RecordingScheduler, port: int = 0, tls: TlsSettings | None = None
) -> AsyncIterator[int]:
    server = grpc.aio.server()
    scheduler_pb2_grpc.add_SchedulerServiceServicer_to_server(servicer, server)
    bound = (tls or TlsSettings()).listen(server, f"127.0.0.1:{port}")
    await server.start()
    try:
        yield bound
    finally:
        await server.stop(None)


async def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Until the recording scheduler or the log shows what `condition` looks for."""
    await until(condition, timeout, "the scheduler double or the log to show it")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_trainer_registers_then_heartbeats_what_it_runs(tmp_path: Path):
    recorded = RecordingScheduler()

    async def scenario():
        async with scheduler(recorded) as port:
            address = f"127.0.0.1:{port}"
            changes = {"scheduler_address": address, "trainer_id": "t1", "slots": 2}
            async with running_trainer(tmp_path, **changes) as client:
                await wait_for(lambda: recorded.registrations)
                call = client.train("exp-1", {"behaviour": "hang"})
                received = await receive(call, until="log_line")
                await wait_for(
                    lambda: any(h.running_experiment_ids == ["exp-1"] for h in recorded.heartbeats)
                )
                await client.stub.Cancel(
                    trainer_pb2.CancelRequest(experiment_id="exp-1"), metadata=AUTH
                )
                await receive(call, received=received)
                return client.server.port

    trainer_port = asyncio.run(scenario())

    (registration,) = recorded.registrations
    assert registration.address == f"127.0.0.1:{trainer_port}"
    assert (registration.trainer_id, registration.slots) == ("t1", 2)
    announced = {pipeline.name: pipeline for pipeline in registration.pipelines}
    assert "trainer_probe" in announced
    # With the schema the scheduler checks submissions against: the probe's own.
    schema = json_format.MessageToDict(announced["trainer_probe"].config_schema)
    assert schema == config_json_schema(TrainerProbe.Config)
    assert {h.trainer_id for h in recorded.heartbeats} == {"t1"}


def test_a_trainer_the_scheduler_forgot_registers_again(tmp_path: Path):
    recorded = RecordingScheduler(forget=1)

    async def scenario():
        async with (
            scheduler(recorded) as port,
            running_trainer(tmp_path, scheduler_address=f"127.0.0.1:{port}"),
        ):
            await wait_for(lambda: len(recorded.registrations) == 2)

    asyncio.run(scenario())

    first, second = recorded.registrations
    assert first.trainer_id == second.trainer_id


def test_new_pipelines_are_announced_by_registering_again(tmp_path: Path):
    recorded = RecordingScheduler()

    async def scenario():
        async with scheduler(recorded) as port:
            address = f"127.0.0.1:{port}"
            async with running_trainer(tmp_path, scheduler_address=address) as client:
                await wait_for(lambda: recorded.heartbeats)
                offered = client.server.pipelines
                found = Discovery({"late": TrainerProbe, **discover_pipelines()}, {})
                assert offered.apply(found)
                await wait_for(lambda: len(recorded.registrations) == 2)

    asyncio.run(scenario())

    first, second = recorded.registrations
    names = [{pipeline.name for pipeline in r.pipelines} for r in (first, second)]
    assert names[1] - names[0] == {"late"}
    (late,) = [pipeline for pipeline in second.pipelines if pipeline.name == "late"]
    assert late.summary == TrainerProbe.summary
    assert json_format.MessageToDict(late.config_schema) == config_json_schema(ProbeConfig)
    assert second.trainer_id == first.trainer_id


def test_the_trainer_goes_by_the_id_the_scheduler_gives_it(tmp_path: Path):
    recorded = RecordingScheduler(assign_id="trainer-7")

    async def scenario():
        async with (
            scheduler(recorded) as port,
            running_trainer(tmp_path, scheduler_address=f"127.0.0.1:{port}") as client,
        ):
            await wait_for(lambda: recorded.heartbeats)
            return await client.stub.Describe(trainer_pb2.DescribeRequest(), metadata=AUTH)

    described = asyncio.run(scenario())

    assert described.trainer_id == "trainer-7"
    assert recorded.heartbeats[0].trainer_id == "trainer-7"


def test_an_unreachable_scheduler_is_retried_until_it_answers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    recorded = RecordingScheduler()
    port = free_port()

    async def scenario():
        async with running_trainer(tmp_path, scheduler_address=f"127.0.0.1:{port}"):
            await wait_for(lambda: "cannot reach the scheduler" in caplog.text)
            async with scheduler(recorded, port):
                await wait_for(lambda: recorded.registrations)

    with caplog.at_level(logging.WARNING, logger="trainer.registration"):
        asyncio.run(scenario())

    assert f"cannot reach the scheduler at 127.0.0.1:{port} (UNAVAILABLE" in caplog.text


def test_a_wrong_cluster_token_is_reported_and_retried(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    recorded = RecordingScheduler()

    async def scenario():
        async with scheduler(recorded) as port:
            address = f"127.0.0.1:{port}"
            async with running_trainer(tmp_path, scheduler_address=address, cluster_token="x"):
                await wait_for(lambda: caplog.text.count("UNAUTHENTICATED") >= 2)

    with caplog.at_level(logging.WARNING, logger="trainer.registration"):
        asyncio.run(scenario())

    assert (
        "refused this trainer's cluster token (UNAUTHENTICATED: wrong cluster token)" in caplog.text
    )
    assert "set FORGE_CLUSTER_TOKEN to the scheduler's cluster token" in caplog.text
    assert "cannot reach" not in caplog.text, "the scheduler was reached: it refused the token"
    assert recorded.registrations == []


def test_a_trainer_registers_over_tls_with_the_ca_and_is_told_to_set_it_without(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, certificates: Certificates
):
    recorded = RecordingScheduler()
    serving = TlsSettings.from_env(certificates.server_env())
    trusting = TlsSettings.from_env(certificates.client_env())

    async def scenario():
        async with scheduler(recorded, tls=serving) as port:
            address = f"127.0.0.1:{port}"
            async with running_trainer(tmp_path / "plain", scheduler_address=address):
                await wait_for(lambda: "cannot reach the scheduler" in caplog.text)
            assert recorded.registrations == []
            async with running_trainer(tmp_path / "tls", scheduler_address=address, tls=trusting):
                await wait_for(lambda: recorded.registrations)

    with caplog.at_level(logging.WARNING, logger="trainer.registration"):
        asyncio.run(scenario())

    assert "the scheduler serves TLS, and this connected without: set FORGE_TLS_CA" in caplog.text
