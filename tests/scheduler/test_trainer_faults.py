"""A trainer killed mid-run, with the services started one by one as on several machines.

`forge scheduler` and two `forge trainer`s run as processes of their own, on SQLite and on
Postgres; the trainer running an experiment gets SIGKILL, and nothing restarts it. The run
must go on, on the other trainer, from its last checkpoint, and SUCCEED with one point per
epoch (DESIGN.md §6).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from forge_cli.up import free_port
from tests.faults import (
    PACED_RUN,
    PASSWORD,
    Client,
    assert_resumed_once_from_a_checkpoint,
    epoch,
    trainer_of,
)
from tests.processes import FORGE, Output
from tests.stack import write_probe_distribution

pytestmark = pytest.mark.timeout(600)

REPO = Path(__file__).resolve().parents[2]
REGISTERED = re.compile(r"registered with the scheduler at ")


class Services:
    """`forge` service processes, each with its output; all killed at the end."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: dict[str, tuple[subprocess.Popen[str], Output]] = {}

    def start(self, name: str, *args: str) -> Output:
        process = subprocess.Popen(
            [str(FORGE), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
        )
        output = Output(process)
        self.processes[name] = (process, output)
        return output

    def kill(self, name: str) -> None:
        os.kill(self.processes[name][0].pid, signal.SIGKILL)

    def close(self) -> None:
        for process, output in self.processes.values():
            if process.poll() is None:
                process.kill()
            process.wait()
            output.close()


@pytest.fixture
def services(tmp_path: Path, database_url: str, nats_url: str) -> Iterator[Services]:
    site = write_probe_distribution(tmp_path / "site")
    env = {
        **os.environ,
        "FORGE_DATA_DIR": str(tmp_path / "var"),
        "FORGE_DATABASE_URL": database_url,
        "FORGE_NATS_URL": nats_url,
        "FORGE_ADMIN_PASSWORD": PASSWORD,
        # As on machines that share no data folder: the token is given to every service.
        "FORGE_CLUSTER_TOKEN": "faults-cluster-token",
        "FORGE_CHECKPOINT_INTERVAL_SECONDS": "0",
        "FORGE_TRAINER_HEARTBEAT_SECONDS": "1",
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
        "PYTHONUNBUFFERED": "1",
    }
    running = Services(env)
    try:
        yield running
    finally:
        running.close()


def test_a_killed_trainer_hands_its_run_to_the_other_from_its_checkpoint(
    services: Services,
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    services.start("scheduler", "scheduler", "--port", str(port), "--host", "127.0.0.1")
    for name in ("trainer-a", "trainer-b"):
        services.start(
            name,
            "trainer",
            *("--scheduler", address, "--port", "0", "--host", "127.0.0.1", "--id", name),
        ).wait_for(REGISTERED)
    client = Client(address)
    experiment_id = client.submit(PACED_RUN)
    client.follow(experiment_id, epoch(2))
    victim = trainer_of(client.events)

    services.kill(victim)
    final = client.finished(experiment_id)

    resumed = assert_resumed_once_from_a_checkpoint(final, client.events)
    assert resumed.previous_trainer_id == victim != resumed.trainer_id
    assert f"trainer {victim} at 127.0.0.1:" in resumed.reason
    assert [a.trainer_id for a in final.attempts] == [victim, resumed.trainer_id]
