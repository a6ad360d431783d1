"""How the parent reads a run's end, and the environment a job's process starts with."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from azuraforge.v1 import experiment_pb2
from tests.trainer.probe import TrainerProbe
from trainer.job import JobSpec, RunEnded
from trainer.runner import Assignment, Job, died, outcome, run_experiment
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
