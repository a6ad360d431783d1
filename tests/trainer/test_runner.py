"""How the parent reads a run's messages and its end, and the environment a job's process starts
with."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
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
    _Gatherer,
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


def read_in_a_thread(
    receiving: Connection, send: Callable[[], None], first: threading.Event | None = None
) -> list[list[ChildMessage]]:
    """What the reader hands the loop while `send` runs in a thread, until the pipe closes;
    `first` is set once the first hand-over has come."""

    async def run() -> list[list[ChildMessage]]:
        inbox: asyncio.Queue[list[ChildMessage] | None] = asyncio.Queue()
        reader = threading.Thread(
            target=_read, args=(receiving, _Gatherer(asyncio.get_running_loop(), inbox))
        )
        reader.start()
        sender = threading.Thread(target=send)
        sender.start()
        handed: list[list[ChildMessage]] = []
        while (arrived := await inbox.get()) is not None:
            handed.append(arrived)
            if first is not None:
                first.set()
        await asyncio.to_thread(reader.join)
        await asyncio.to_thread(sender.join)
        return handed

    return asyncio.run(run())


def test_a_fast_runs_messages_reach_the_loop_in_a_few_groups_in_order():
    receiving, sending = multiprocessing.Pipe(duplex=False)

    def send() -> None:
        for epoch in range(1, 501):
            sending.send(EpochDone(epoch, 500, {"loss": 1.0}, elapsed_s=0.0))
        sending.close()

    handed = read_in_a_thread(receiving, send)

    epochs = [m.epoch for arrived in handed for m in arrived if isinstance(m, EpochDone)]
    assert epochs == list(range(1, 501))
    # 500 sends take a few milliseconds: a handful of hand-overs, not 500 (a stalled machine
    # could add a few more).
    assert len(handed) <= 20


def test_a_lone_message_reaches_the_loop_without_waiting_for_company():
    receiving, sending = multiprocessing.Pipe(duplex=False)
    said = threading.Event()

    def send() -> None:
        sending.send(LogRecord("INFO", "probe", "alone"))
        # The pipe stays open and quiet until the message is handed over; a gatherer that
        # waited for company would get a second message after 10 s, and hand both over.
        if not said.wait(10):
            sending.send(LogRecord("INFO", "probe", "late"))
        sending.close()

    handed = read_in_a_thread(receiving, send, first=said)

    assert [m.message for m in handed[0] if isinstance(m, LogRecord)] == ["alone"]


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
