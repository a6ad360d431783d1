"""The trainer server as tools see it: reflection, health, and what stopping or hanging up does."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from azuraforge.v1 import experiment_pb2, trainer_pb2, trainer_pb2_grpc
from tests.trainer.harness import (
    AUTH,
    events_in,
    job_processes,
    receive,
    running_trainer,
    settings,
    train_request,
)
from tests.trainer.probe import Gate
from tests.waiting import until
from trainer.server import create_server

pytestmark = pytest.mark.timeout(60)

SUCCEEDED = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
FAILED = experiment_pb2.EXPERIMENT_STATUS_FAILED


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


def test_a_run_outlives_its_stream_and_a_scheduler_attaches_where_it_left_off(
    tmp_path: Path, gate: Gate
):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            call = client.train("exp-1", gate.config(epochs=4))
            gate.release(1)
            first = await receive(call, until="epoch_ended")
            call.cancel()  # the scheduler died
            gate.open()
            last = first.items[-1][1].position
            attach = client.stub.Attach(
                trainer_pb2.AttachRequest(experiment_id="exp-1", after_position=last),
                metadata=AUTH,
            )
            rest = [response.response async for response in attach]
            return first, rest

    first, rest = asyncio.run(scenario())

    positions = [r.position for _, r in first.items] + [r.position for r in rest]
    assert positions == list(range(1, len(positions) + 1))
    events = first.events + [e for r in rest for e in events_in(r)]
    assert [e.epoch_ended.epoch for e in events if e.HasField("epoch_ended")] == [1, 2, 3, 4]
    (ending,) = [e.experiment_finished for e in events if e.HasField("experiment_finished")]
    assert ending.status == SUCCEEDED and ending.files_follow
    assert rest[-1].event.HasField("files_stored")
    assert any(r.HasField("artifact_chunk") for r in rest)


def test_a_run_nobody_follows_stops_after_the_grace_and_keeps_its_ending(
    tmp_path: Path, gate: Gate
):
    async def scenario():
        async with running_trainer(tmp_path, grace_s=1, checkpoint_interval_s=0) as client:
            call = client.train("exp-1", gate.config(epochs=100))
            gate.release(1)
            first = await receive(call, until="epoch_ended")
            call.cancel()
            # Two more epochs, each checkpointed, while nobody follows; then it waits until the
            # grace runs out.
            gate.release(3)

            # The slot is free again once the job stops; nobody follows, so nothing else tells.
            async def slot_free() -> bool:
                described = client.stub.Describe(trainer_pb2.DescribeRequest(), metadata=AUTH)
                return (await described).free_slots == 1

            await until(slot_free, 30, "the trainer's slot to be free again")
            held = client.server.trainer.held_experiment_ids
            attach = client.stub.Attach(
                trainer_pb2.AttachRequest(
                    experiment_id="exp-1", after_position=first.items[-1][1].position
                ),
                metadata=AUTH,
            )
            rest = [response.response async for response in attach]
            return held, rest, job_processes()

    held, rest, left = asyncio.run(scenario())

    assert held == ["exp-1"] and left == []
    finished = rest[-1].event.experiment_finished
    assert finished.status == FAILED and finished.retryable
    assert finished.error_message.startswith("no scheduler followed the run for 1 s")
    # What the run sent after the hang-up is kept for the scheduler: its checkpoints too.
    assert any(r.HasField("checkpoint_chunk") for r in rest)


def test_an_acknowledged_run_is_forgotten_and_attach_says_so(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            done = await receive(client.train("exp-1", {"epochs": 1}))
            trainer = client.server.trainer
            trainer.acknowledge({"exp-1": done.items[-2][1].position})
            still_held = trainer.held_experiment_ids
            trainer.acknowledge({"exp-1": done.items[-1][1].position})
            with pytest.raises(grpc.aio.AioRpcError) as gone:
                await receive(
                    client.stub.Attach(
                        trainer_pb2.AttachRequest(experiment_id="exp-1"), metadata=AUTH
                    )
                )
            return still_held, trainer.held_experiment_ids, gone.value

    still_held, after, gone = asyncio.run(scenario())

    assert still_held == ["exp-1"] and after == []
    assert gone.code() == grpc.StatusCode.NOT_FOUND
    assert "holds no run of experiment 'exp-1'" in (gone.details() or "")


def test_a_run_the_scheduler_forgets_is_stopped(tmp_path: Path, gate: Gate):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            call = client.train("exp-1", gate.config(epochs=100))
            gate.release(1)
            await receive(call, until="epoch_ended")
            client.server.trainer.acknowledge({}, forget=["exp-1"])
            rest = await receive(call)  # it ends: nothing more will come
            return (
                rest.kinds(),
                client.server.trainer.held_experiment_ids,
                job_processes(),
            )

    rest, held, left = asyncio.run(scenario())

    assert "experiment_finished" not in rest
    assert held == [] and left == []


def test_stopping_the_server_kills_running_jobs(tmp_path: Path):
    async def scenario():
        server = create_server(settings(tmp_path))
        await server.start()
        async with grpc.aio.insecure_channel(f"127.0.0.1:{server.port}") as channel:
            stub = trainer_pb2_grpc.TrainerServiceStub(channel)
            call = stub.Train(train_request("exp-1", {"behaviour": "hang"}), metadata=AUTH)
            await receive(call, until="log_line")
            running = job_processes()
            await server.stop(0.1)
            with pytest.raises(grpc.aio.AioRpcError):
                await receive(call)
            return running, multiprocessing.active_children()

    running, left = asyncio.run(scenario())

    assert len(running) == 1
    assert left == []
