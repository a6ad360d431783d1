"""The trainer server as tools see it: reflection, health, and what stopping or hanging up does."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from azuraforge.v1 import trainer_pb2, trainer_pb2_grpc
from tests.trainer.harness import AUTH, receive, running_trainer, settings, train_request
from trainer.server import create_server

pytestmark = pytest.mark.timeout(60)


def test_reflection_lists_the_services_and_health_answers_serving(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            reflection = reflection_pb2_grpc.ServerReflectionStub(client.channel)
            responses = [
                response
                async for response in reflection.ServerReflectionInfo(
                    iter([reflection_pb2.ServerReflectionRequest(list_services="")])
                )
            ]
            health = health_pb2_grpc.HealthStub(client.channel)
            statuses = [
                (await health.Check(health_pb2.HealthCheckRequest(service=name))).status
                for name in ("", "azuraforge.v1.TrainerService")
            ]
            return responses, statuses

    responses, statuses = asyncio.run(scenario())

    listed = {s.name for s in responses[0].list_services_response.service}
    assert {"azuraforge.v1.TrainerService", "grpc.health.v1.Health"} <= listed
    assert statuses == [health_pb2.HealthCheckResponse.SERVING] * 2


def test_a_client_that_hangs_up_ends_its_job(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            call = client.train("exp-1", {"behaviour": "hang"})
            await receive(call, until="log_line")
            call.cancel()
            for _ in range(100):
                described = await client.stub.Describe(trainer_pb2.DescribeRequest(), metadata=AUTH)
                if described.free_slots == 1 and not multiprocessing.active_children():
                    return True
                await asyncio.sleep(0.05)
            return False

    assert asyncio.run(scenario())


def test_stopping_the_server_kills_running_jobs(tmp_path: Path):
    async def scenario():
        server = create_server(settings(tmp_path))
        await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = trainer_pb2_grpc.TrainerServiceStub(channel)
            call = stub.Train(train_request("exp-1", {"behaviour": "hang"}), metadata=AUTH)
            await receive(call, until="log_line")
            running = multiprocessing.active_children()
            await server.stop(0.1)
            with pytest.raises(grpc.aio.AioRpcError):
                await receive(call)
            return running, multiprocessing.active_children()

    running, left = asyncio.run(scenario())

    assert len(running) == 1
    assert left == []
