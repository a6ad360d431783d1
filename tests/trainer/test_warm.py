"""The job process kept ready: a job runs in it, another is made ready, and none outlives the
trainer."""

from __future__ import annotations

import asyncio
import multiprocessing
from pathlib import Path

import pytest

from azuraforge.v1 import experiment_pb2
from tests.trainer.harness import receive, running_trainer
from tests.trainer.probe import Gate
from tests.waiting import until
from trainer.warm import READY_NAME

pytestmark = pytest.mark.usefixtures("probe_pipeline")


def ready_pids() -> list[int | None]:
    return [child.pid for child in multiprocessing.active_children() if child.name == READY_NAME]


def test_a_job_runs_in_the_process_made_ready_for_it_and_another_is_made_ready(
    tmp_path: Path, gate: Gate
):
    async def scenario():
        async with running_trainer(tmp_path) as client:
            processes = client.server.trainer.processes
            await until(lambda: processes.ready, 60, "the ready process to import everything")
            before = ready_pids()
            call = client.train("exp-1", gate.config(epochs=2))
            await receive(call, until="experiment_started")
            job = [c.pid for c in multiprocessing.active_children() if c.name == "forge-job-exp-1"]
            await until(lambda: processes.ready, 60, "the next ready process")
            after = ready_pids()
            gate.open()
            rest = await receive(call)
        return before, job, after, rest.kinds(), multiprocessing.active_children()

    before, job, after, kinds, left = asyncio.run(scenario())

    assert len(before) == 1
    assert job == before
    assert len(after) == 1 and after != before
    assert kinds[-1] == "files_stored" and "experiment_finished" in kinds
    assert left == []


def test_a_job_whose_ready_process_died_gets_a_new_one(tmp_path: Path):
    """And so does one that comes before the ready process has imported everything: that is
    the first job of every trainer here, as the other tests show."""

    async def scenario():
        async with running_trainer(tmp_path) as client:
            await until(lambda: client.server.trainer.processes.ready, 60, "a ready process")
            [ready] = [c for c in multiprocessing.active_children() if c.name == READY_NAME]
            ready.kill()
            ready.join()
            call = client.train("exp-1", {"epochs": 1})
            return (await receive(call)).finished

    finished = asyncio.run(scenario())

    assert finished.status == experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED, finished.error_message
