"""TrainerService over a real server and client: the Train stream, Cancel, Describe, refusals."""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
import json
import time
from pathlib import Path

import grpc
import numpy as np
import pytest

from azuraforge.v1 import experiment_pb2, trainer_pb2
from tests.trainer.harness import (
    AUTH,
    Received,
    events_in,
    receive,
    running_trainer,
    status_of,
    train_request,
)
from tests.trainer.probe import FAILURE

pytestmark = pytest.mark.timeout(120)

SUCCEEDED = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
FAILED = experiment_pb2.EXPERIMENT_STATUS_FAILED
CANCELLED = experiment_pb2.EXPERIMENT_STATUS_CANCELLED


def test_a_run_streams_its_events_as_they_happen_then_its_end_then_its_files(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path, trainer_id="t1", threads=2) as client:
            config = {"epochs": 4, "epoch_pause": 0.4}
            return await receive(client.train("exp-1", config))

    received = asyncio.run(scenario())

    kinds = received.kinds()
    assert kinds[-1] == "files_stored"
    assert received.finished.status == SUCCEEDED, received.finished.error_message
    assert received.finished.files_follow
    # The verdict comes before any file: nobody waits on the report's plots to learn it.
    ending = kinds.index("experiment_finished")
    first_chunk = kinds.index("artifact_chunk")
    assert ending < first_chunk
    assert set(kinds[ending + 1 : -1]) <= {"artifact_chunk", "log_line"}
    assert received.files_stored.count == len(received.artifacts())
    assert received.files_stored.error_message == ""
    assert set(received.finished.metrics) == {"loss"}
    finished = received.finished
    assert {name: dict(s.values) for name, s in finished.baselines.items()} == {
        "predict zero": {"loss": 5.0}
    }
    assert {name: dict(s.values) for name, s in finished.references.items()} == {
        "least_squares": {"loss": 0.0025}
    }
    assert "epoch_ended" not in kinds[ending:]
    assert "checkpoint_chunk" in kinds[:ending]
    events = received.events
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert {e.experiment_id for e in events} == {"exp-1"}

    (started,) = [e.experiment_started for e in events if e.HasField("experiment_started")]
    assert (started.pipeline, started.trainer_id) == ("trainer_probe", "t1")
    assert (started.total_epochs, started.steps_per_epoch, started.initial_epoch) == (4, 2, 0)
    epochs = [e.epoch_ended for e in events if e.HasField("epoch_ended")]
    assert [(e.epoch, e.total_epochs) for e in epochs] == [(1, 4), (2, 4), (3, 4), (4, 4)]
    assert {"loss", "val_loss"} <= set(epochs[0].metrics)
    assert all(b.elapsed_seconds > a.elapsed_seconds for a, b in itertools.pairwise(epochs))
    logs = [e.log_line for e in events if e.HasField("log_line")]
    assert any(line.message == "probe loading with 2 BLAS threads" for line in logs)
    assert all(line.level and line.logger for line in logs)

    # Each epoch reached the client while the child was still training, 0.4 s apart.
    arrived = received.times("epoch_ended")
    finished_at = received.times("experiment_finished")[0]
    assert all(later - earlier > 0.2 for earlier, later in itertools.pairwise(arrived))
    assert finished_at - arrived[0] > 0.8
    emitted = [e.emitted_at.ToDatetime().timestamp() for e in events if e.HasField("epoch_ended")]
    assert emitted[-1] - emitted[0] > 0.8

    files = received.artifacts()
    assert {"report.md", "metrics.json", "model.npz", "loss.png", "checkpoints/last.npz"} <= set(
        files
    )
    assert "# Run report: trainer_probe" in files["report.md"].decode()
    assert json.loads(files["metrics.json"])["status"] == "completed"
    assert set(np.load(io.BytesIO(files["model.npz"]))) == {"weight", "bias"}
    assert files["loss.png"].startswith(b"\x89PNG")
    types = received.content_types()
    assert types["report.md"] == "text/markdown; charset=utf-8"
    assert types["loss.png"] == "image/png"
    assert not (tmp_path / "trainer" / "t1" / "exp-1").exists()


def test_a_pipeline_that_raises_fails_with_its_error_and_the_trainer_serves_on(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            failed = await receive(client.train("exp-1", {"behaviour": "raise"}))
            after = await receive(client.train("exp-2", {"epochs": 1}))
            return failed, after

    failed, after = asyncio.run(scenario())

    assert failed.finished.status == FAILED
    assert not failed.finished.retryable  # a bug in the pipeline: a restart would not help
    message = failed.finished.error_message
    assert message.startswith(f"RuntimeError: {FAILURE} (in load_data, probe.py:")
    errors = [e.log_line for e in failed.events if e.HasField("log_line")]
    assert any(line.level == "ERROR" and "Traceback" in line.message for line in errors)
    assert after.finished.status == SUCCEEDED


def test_cancel_stops_a_running_job_within_two_seconds(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            call = client.train("exp-1", {"epochs": 10_000, "batch_pause": 0.05})
            received = await receive(call, until="epoch_ended")
            cancelled_at = time.monotonic()
            answer = await client.stub.Cancel(
                trainer_pb2.CancelRequest(experiment_id="exp-1"), metadata=AUTH
            )
            await receive(call, received=received)
            again = await client.stub.Cancel(
                trainer_pb2.CancelRequest(experiment_id="exp-1"), metadata=AUTH
            )
            return answer, again, received, cancelled_at

    answer, again, received, cancelled_at = asyncio.run(scenario())

    assert answer.cancelled
    assert not again.cancelled
    assert received.finished.status == CANCELLED
    assert received.times("experiment_finished")[0] - cancelled_at < 2.0
    assert "cancelled" in received.finished.error_message


def test_cancel_kills_a_job_that_does_not_reach_a_batch(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path, cancel_grace_s=1) as client:
            call = client.train("exp-1", {"behaviour": "hang"})
            received = await receive(call, until="log_line")
            cancelled_at = time.monotonic()
            await client.stub.Cancel(
                trainer_pb2.CancelRequest(experiment_id="exp-1"), metadata=AUTH
            )
            await receive(call, received=received)
            return received, cancelled_at

    received, cancelled_at = asyncio.run(scenario())

    assert received.finished.status == CANCELLED
    assert "did not stop within 1 s, so its process was killed" in received.finished.error_message
    assert received.times("experiment_finished")[0] - cancelled_at < 3.0
    assert "artifact_chunk" not in received.kinds()


def test_a_child_killed_by_a_signal_fails_the_run_naming_it(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            return await receive(client.train("exp-1", {"behaviour": "die", "epochs": 3}))

    received = asyncio.run(scenario())

    assert received.finished.status == FAILED
    assert received.finished.retryable  # no fault of the pipeline: worth placing again
    assert "killed by signal SIGKILL (exit code -9)" in received.finished.error_message
    assert len(received.times("epoch_ended")) == 1
    assert "artifact_chunk" not in received.kinds()


def test_a_child_killed_after_its_verdict_keeps_it_and_says_its_files_were_not_sent(
    tmp_path: Path,
):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            return await receive(client.train("exp-1", {"behaviour": "die_writing", "epochs": 2}))

    received = asyncio.run(scenario())

    assert received.finished.status == SUCCEEDED
    assert received.finished.files_follow and not received.finished.retryable
    assert "artifact_chunk" not in received.kinds()
    stored = received.files_stored
    assert stored.count == 0
    assert stored.error_message == (
        "the run's files were not sent: the training process was killed by signal SIGKILL "
        "(exit code -9) (the out-of-memory killer sends SIGKILL)"
    )


def test_a_run_whose_report_fails_after_its_verdict_sends_what_it_wrote_and_says_so(
    tmp_path: Path,
):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            config = {"behaviour": "raise_writing", "epochs": 2}
            return await receive(client.train("exp-1", config))

    received = asyncio.run(scenario())

    assert received.finished.status == SUCCEEDED and received.finished.files_follow
    files = received.artifacts()
    assert "model.npz" in files and "report.md" not in files
    stored = received.files_stored
    assert stored.count == len(files)
    assert stored.error_message.startswith(
        "writing the run's files failed: RuntimeError: the probe's report could not be written"
    )


def checkpoints(received: Received) -> list[tuple[int, bytes]]:
    """The whole checkpoints a Train stream carried, each with its epoch; checksums checked."""
    whole: list[tuple[int, bytes]] = []
    data = b""
    for _, response in received.items:
        if response.HasField("checkpoint_chunk"):
            chunk = response.checkpoint_chunk
            if chunk.offset == 0:
                data = b""
            assert chunk.offset == len(data)
            data += chunk.data
            if chunk.last:
                assert hashlib.sha256(data).hexdigest() == chunk.sha256
                whole.append((chunk.epoch, data))
    return whole


def test_a_run_sends_a_checkpoint_every_checkpoint_every_epochs_that_resumes_it_exactly(
    tmp_path: Path,
):
    async def scenario():
        async with running_trainer(tmp_path, checkpoint_interval_s=0) as client:
            whole = await receive(client.train("exp-1", {"epochs": 4, "checkpoint_every": 2}))
            (_, second), _ = checkpoints(whole)
            resumed = await receive(
                client.stub.Train(
                    train_request("exp-2", {"epochs": 4}, checkpoint=second, attempt=2),
                    metadata=AUTH,
                )
            )
            return whole, resumed

    whole, resumed = asyncio.run(scenario())

    assert [epoch for epoch, _ in checkpoints(whole)] == [2, 4]
    # Each checkpoint left the trainer just before its epoch's end, while the run went on.
    order: list[tuple[str, int]] = []
    for _, r in whole.items:
        if r.HasField("checkpoint_chunk") and r.checkpoint_chunk.last:
            order.append(("checkpoint", r.checkpoint_chunk.epoch))
        order += [("epoch", e.epoch_ended.epoch) for e in events_in(r) if e.HasField("epoch_ended")]
    assert order == [
        ("epoch", 1),
        ("checkpoint", 2),
        ("epoch", 2),
        ("epoch", 3),
        ("checkpoint", 4),
        ("epoch", 4),
    ]
    assert not [name for name in whole.artifacts() if name.startswith(".")]

    assert resumed.finished.status == SUCCEEDED, resumed.finished.error_message
    (started,) = [e.experiment_started for e in resumed.events if e.HasField("experiment_started")]
    assert started.initial_epoch == 2
    epochs = [e.epoch_ended for e in resumed.events if e.HasField("epoch_ended")]
    assert [e.epoch for e in epochs] == [3, 4]
    # Exactly where the whole run was: the same loss at epoch 4, to the last bit.
    last = [e.epoch_ended for e in whole.events if e.HasField("epoch_ended")][-1]
    assert epochs[-1].metrics["loss"] == last.metrics["loss"]


def test_checkpoints_come_no_more_often_than_the_interval(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path, checkpoint_interval_s=3600) as client:
            return await receive(client.train("exp-1", {"epochs": 3}))

    received = asyncio.run(scenario())

    assert [epoch for epoch, _ in checkpoints(received)] == [1]


@pytest.mark.parametrize("metadata", [(), (("authorization", "Bearer wrong"),)])
def test_calls_without_the_cluster_token_are_unauthenticated(tmp_path: Path, metadata):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            train = await status_of(
                client.stub.Train(trainer_pb2.TrainRequest(experiment_id="x"), metadata=metadata)
            )
            codes = [train[0]]
            for call in (
                client.stub.Cancel(trainer_pb2.CancelRequest(experiment_id="x"), metadata=metadata),
                client.stub.Describe(trainer_pb2.DescribeRequest(), metadata=metadata),
            ):
                with pytest.raises(grpc.aio.AioRpcError) as error:
                    await call
                codes.append(error.value.code())
            return codes, train[1]

    codes, details = asyncio.run(scenario())

    assert codes == [grpc.StatusCode.UNAUTHENTICATED] * 3
    assert "cluster token" in details


def test_a_full_trainer_refuses_more_and_describes_what_it_runs(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path, slots=1, trainer_id="t1") as client:
            call = client.train("exp-1", {"behaviour": "hang"})
            received = await receive(call, until="log_line")
            refused = await status_of(client.train("exp-2"))
            busy = await client.stub.Describe(trainer_pb2.DescribeRequest(), metadata=AUTH)
            await client.stub.Cancel(
                trainer_pb2.CancelRequest(experiment_id="exp-1"), metadata=AUTH
            )
            await receive(call, received=received)
            idle = await client.stub.Describe(trainer_pb2.DescribeRequest(), metadata=AUTH)
            return refused, busy, idle

    (code, details), busy, idle = asyncio.run(scenario())

    assert code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "no free slot" in details and "exp-1" in details
    assert (busy.trainer_id, busy.slots, busy.free_slots) == ("t1", 1, 0)
    assert list(busy.running_experiment_ids) == ["exp-1"]
    assert (idle.free_slots, list(idle.running_experiment_ids)) == (1, [])
    (probe,) = [p for p in idle.pipelines if p.name == "trainer_probe"]
    assert probe.summary.startswith("Fits a line")
    assert probe.config_schema["properties"]["behaviour"]["default"] == "train"


def test_the_same_experiment_runs_once_at_a_time(tmp_path: Path):
    async def scenario():
        async with running_trainer(tmp_path, slots=2) as client:
            call = client.train("exp-1", {"behaviour": "hang"})
            received = await receive(call, until="log_line")
            twice = await status_of(client.train("exp-1"))
            await client.stub.Cancel(
                trainer_pb2.CancelRequest(experiment_id="exp-1"), metadata=AUTH
            )
            await receive(call, received=received)
            return twice

    code, details = asyncio.run(scenario())

    assert code == grpc.StatusCode.ALREADY_EXISTS
    assert "'exp-1' is already running" in details


@pytest.mark.parametrize(
    ("pipeline", "experiment_id", "config", "code", "named"),
    [
        ("no_such_pipeline", "exp-1", {}, grpc.StatusCode.NOT_FOUND, "'no_such_pipeline'"),
        ("", "exp-1", {}, grpc.StatusCode.INVALID_ARGUMENT, "pipeline is empty"),
        ("trainer_probe", "exp-1", {"epochs": 0}, grpc.StatusCode.INVALID_ARGUMENT, "epochs:"),
        ("trainer_probe", "exp-1", {"epochz": 3}, grpc.StatusCode.INVALID_ARGUMENT, "epochz"),
        (
            "trainer_probe",
            "exp-1",
            {"behaviour": "x"},
            grpc.StatusCode.INVALID_ARGUMENT,
            "behaviour",
        ),
        ("trainer_probe", "../up", {}, grpc.StatusCode.INVALID_ARGUMENT, "'../up'"),
        ("trainer_probe", "", {}, grpc.StatusCode.INVALID_ARGUMENT, "experiment_id ''"),
    ],
)
def test_a_request_that_cannot_run_is_refused_naming_why(
    tmp_path: Path, pipeline, experiment_id, config, code, named
):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            refused = await status_of(client.train(experiment_id, config, pipeline=pipeline))
            described = await client.stub.Describe(trainer_pb2.DescribeRequest(), metadata=AUTH)
            return refused, described

    (got, details), described = asyncio.run(scenario())

    assert got == code
    assert named in details
    assert described.free_slots == 1
