"""How the parent reads a run's messages and its end, and the environment a job's process starts
with."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from pathlib import Path

import pytest

from azuraforge.v1 import experiment_pb2
from tests.trainer.probe import TrainerProbe
from trainer.events import RunInfo, to_event
from trainer.job import ChildMessage, EpochDone, JobSpec, LogRecord, RunEnded
from trainer.runner import (
    MOST_BATCH_BYTES,
    Assignment,
    Job,
    _Batch,
    _read,
    died,
    outcome,
    run_experiment,
)
from trainer.warm import THREAD_VARIABLES, thread_limits


def test_the_childs_own_report_of_its_end_wins():
    ended = RunEnded("cancelled", error="cancelled by request", metrics={"mse": 0.5}, at=1.0)

    result = outcome(ended, exitcode=0, cancel_requested=True)

    assert result.status == experiment_pb2.EXPERIMENT_STATUS_CANCELLED
    assert (result.error_message, result.metrics, result.at) == (
        "cancelled by request",
        {"mse": 0.5},
        1.0,
    )


def test_a_cancelled_child_that_had_to_be_killed_is_cancelled():
    result = outcome(None, exitcode=-15, cancel_requested=True)

    assert result.status == experiment_pb2.EXPERIMENT_STATUS_CANCELLED
    assert "was killed" in result.error_message


@pytest.mark.parametrize(
    ("exitcode", "message"),
    [
        (-9, "killed by signal SIGKILL (exit code -9) (the out-of-memory killer sends SIGKILL)"),
        (-11, "killed by signal SIGSEGV (exit code -11)"),
        (3, "exited with exit code 3 before the run ended"),
    ],
)
def test_a_child_that_died_fails_the_run_saying_how(exitcode, message):
    result = outcome(None, exitcode=exitcode, cancel_requested=False)

    assert result.status == experiment_pb2.EXPERIMENT_STATUS_FAILED
    assert message in result.error_message
    assert message in died(exitcode)


def test_thread_limits_are_set_for_the_start_only(monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "16")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)

    with thread_limits(2):
        inside = {name: os.environ[name] for name in THREAD_VARIABLES}

    assert inside == dict.fromkeys(THREAD_VARIABLES, "2")
    assert os.environ["OMP_NUM_THREADS"] == "16"
    assert "OPENBLAS_NUM_THREADS" not in os.environ


def test_a_job_that_cannot_start_fails_its_run(tmp_path: Path):
    class Unpicklable(TrainerProbe):
        """Defined in a function: pickle cannot name it, so no child can import it."""

    experiment = Assignment("exp-1", JobSpec(Unpicklable, {}, tmp_path), "t1", threads=1)

    async def scenario():
        job = Job(experiment)
        try:
            return [response async for response in run_experiment(job)]
        finally:
            job.close()

    (response,) = asyncio.run(scenario())

    finished = response.event.experiment_finished
    assert finished.status == experiment_pb2.EXPERIMENT_STATUS_FAILED
    assert finished.error_message.startswith("the training process could not start: ")
    assert "Unpicklable" in finished.error_message


def test_the_reader_hands_the_loop_each_list_the_child_sent_in_order():
    receiving, sending = multiprocessing.Pipe(duplex=False)
    sent = [
        [EpochDone(epoch, 9, {"loss": 1.0}, elapsed_s=0.0) for epoch in range(first, first + 3)]
        for first in (1, 4, 7)
    ]
    for arrived in sent:
        sending.send(arrived)
    sending.close()

    async def scenario() -> list[list[ChildMessage]]:
        inbox: asyncio.Queue[list[ChildMessage] | None] = asyncio.Queue()
        reader = threading.Thread(target=_read, args=(receiving, asyncio.get_running_loop(), inbox))
        reader.start()
        handed: list[list[ChildMessage]] = []
        while (arrived := await inbox.get()) is not None:
            handed.append(arrived)
        await asyncio.to_thread(reader.join)
        return handed

    assert asyncio.run(scenario()) == sent


def test_events_that_arrived_together_are_one_item_a_lone_one_stays_an_event():
    run = RunInfo("exp-1", "trainer_probe", "t1")
    batch = _Batch()
    batch.add(to_event(LogRecord("INFO", "probe", "alone"), run, 1))
    (alone,) = [batch.item()]
    for seq in range(2, 5):
        batch.add(to_event(LogRecord("INFO", "probe", f"line {seq}"), run, seq))
    together = batch.item()

    assert alone.WhichOneof("item") == "event"
    assert together.WhichOneof("item") == "events"
    assert [e.seq for e in together.events.events] == [2, 3, 4]
    assert not batch


def test_an_event_batch_is_full_once_it_reaches_an_artifact_chunks_size():
    run = RunInfo("exp-1", "trainer_probe", "t1")
    events = [to_event(LogRecord("INFO", "probe", "x" * 10_000), run, seq) for seq in range(40)]
    fits = MOST_BATCH_BYTES // events[0].ByteSize()  # all these events are the same size
    batch = _Batch()

    full = [batch.add(event) for event in events[: fits + 1]]

    assert full == [False] * fits + [True]
