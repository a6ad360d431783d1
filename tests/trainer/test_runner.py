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
    MOST_AT_ONCE,
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


def test_messages_waiting_in_the_pipe_reach_the_loop_together_in_order():
    """What piled up while the reader was busy goes to the loop as one hand-over (at most
    MOST_AT_ONCE), so a fast run costs the loop a wake-up per burst, not per event."""
    receiving, sending = multiprocessing.Pipe(duplex=False)
    count = MOST_AT_ONCE + 44
    for epoch in range(1, count + 1):
        sending.send(EpochDone(epoch, count, {"loss": 1.0 / epoch}, elapsed_s=0.0))
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

    handed = asyncio.run(scenario())

    assert [len(arrived) for arrived in handed] == [MOST_AT_ONCE, 44]
    epochs = [m.epoch for arrived in handed for m in arrived if isinstance(m, EpochDone)]
    assert epochs == list(range(1, count + 1))


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


def test_a_lone_message_is_handed_over_at_once_and_a_fast_runs_in_a_few_groups():
    receiving, sending = multiprocessing.Pipe(duplex=False)

    async def scenario() -> tuple[list[ChildMessage], list[list[ChildMessage]]]:
        inbox: asyncio.Queue[list[ChildMessage] | None] = asyncio.Queue()
        reader = threading.Thread(target=_read, args=(receiving, asyncio.get_running_loop(), inbox))
        reader.start()
        sending.send(LogRecord("INFO", "probe", "alone"))
        alone = await inbox.get()  # nothing else is sent until it is here
        assert alone is not None
        for epoch in range(1, 101):
            sending.send(EpochDone(epoch, 100, {"loss": 1.0}, elapsed_s=0.0))
        sending.close()
        groups: list[list[ChildMessage]] = []
        while (arrived := await inbox.get()) is not None:
            groups.append(arrived)
        await asyncio.to_thread(reader.join)
        return alone, groups

    alone, groups = asyncio.run(scenario())

    assert [m.message for m in alone if isinstance(m, LogRecord)] == ["alone"]
    # A hundred sends take about a millisecond: one group, a few if the machine stalls.
    assert len(groups) <= 5
    assert [m.epoch for group in groups for m in group if isinstance(m, EpochDone)] == list(
        range(1, 101)
    )
