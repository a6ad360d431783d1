"""Processes killed mid-run, with the services started one by one as on several machines.

`forge scheduler` and `forge trainer`s run as processes of their own, on SQLite and on
Postgres, and nothing supervises them (docs/architecture.md#faults):

- the trainer running an experiment gets SIGKILL: the run goes on, on the other trainer, from
  its last checkpoint, and SUCCEEDS with one point per epoch;
- the scheduler gets SIGKILL and is started again: the run went on meanwhile on its trainer,
  and the scheduler follows it again with nothing trained twice or lost; killed after the
  run's ending and before its files, it stores the files when it is back;
- on Postgres, two schedulers: the one following a run gets SIGKILL, and the other takes the
  run over once the lease expires; and work submitted to both is placed exactly once.

A watcher reconnects with `after_seq` throughout, as the web UI does, and sees every seq once.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from forge_cli.up import free_port
from tests.faults import (
    EPOCHS,
    SUCCEEDED,
    Client,
    assert_resumed_once_from_a_checkpoint,
    assert_went_on_untouched,
    epoch,
    fault_environment,
    held_run,
    trainer_of,
)
from tests.processes import FORGE, Output
from tests.trainer.probe import Gate

pytestmark = pytest.mark.timeout(600)

LEASE_S = 5
REGISTERED = re.compile(r"registered with the scheduler at ")
SERVING = re.compile(r"scheduler serving on port ")


class Services:
    """`forge` service processes, each with its output; all killed at the end."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.processes: dict[str, tuple[subprocess.Popen[str], Output]] = {}
        self.outputs: list[tuple[subprocess.Popen[str], Output]] = []

    def start(self, name: str, *args: str, env: dict[str, str] | None = None) -> Output:
        process = subprocess.Popen(
            [str(FORGE), *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**self.env, **(env or {}), "FORGE_SCHEDULER_ID": name},
        )
        output = Output(process)
        self.processes[name] = (process, output)
        self.outputs.append((process, output))
        return output

    def kill(self, name: str) -> None:
        process = self.processes[name][0]
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    def scheduler(self, name: str, port: int) -> Output:
        """`forge scheduler` on `port`, serving once it says so."""
        process = self.start(name, "scheduler", "--port", str(port), "--host", "127.0.0.1")
        process.wait_for(SERVING)
        return process

    def trainer(self, name: str, scheduler: str) -> Output:
        """`forge trainer` named `name`, registered with `scheduler` (a gRPC target)."""
        args = ("--scheduler", scheduler, "--port", "0", "--host", "127.0.0.1", "--id", name)
        output = self.start(name, "trainer", *args, "--advertise", "127.0.0.1")
        output.wait_for(REGISTERED)
        return output

    def close(self) -> None:
        for process, output in self.outputs:
            if process.poll() is None:
                process.kill()
            process.wait()
            output.close()


@pytest.fixture
def services(tmp_path: Path, database_url: str, nats_url: str) -> Iterator[Services]:
    env = fault_environment(
        tmp_path,
        FORGE_DATABASE_URL=database_url,
        FORGE_NATS_URL=nats_url,
        # As on machines that share no data folder: the token is given to every service.
        FORGE_CLUSTER_TOKEN="faults-cluster-token",
        FORGE_TRAINER_HEARTBEAT_SECONDS="1",
        FORGE_SCHEDULER_LEASE_SECONDS=str(LEASE_S),
    )
    running = Services(env)
    try:
        yield running
    finally:
        running.close()


def test_a_killed_trainer_hands_its_run_to_the_other_from_its_checkpoint(
    services: Services, gate: Gate
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    services.scheduler("scheduler", port)
    for name in ("trainer-a", "trainer-b"):
        services.trainer(name, address)
    client = Client(address)
    experiment_id = client.submit(held_run(gate))
    client.follow(experiment_id, epoch(2))
    victim = trainer_of(client.events)

    services.kill(victim)
    gate.open()
    final = client.finished(experiment_id)

    resumed = assert_resumed_once_from_a_checkpoint(final, client.events)
    assert resumed.previous_trainer_id == victim != resumed.trainer_id
    assert f"trainer {victim} at 127.0.0.1:" in resumed.reason
    assert [a.trainer_id for a in final.attempts] == [victim, resumed.trainer_id]


def test_a_killed_scheduler_comes_back_and_follows_the_run_again(
    services: Services, gate: Gate
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    services.scheduler("scheduler", port)
    services.trainer("trainer-a", address)
    client = Client(address)
    experiment_id = client.submit(held_run(gate))
    client.follow(experiment_id, epoch(2))

    services.kill("scheduler")
    killed_at = time.monotonic()
    gate.open()
    services.scheduler("scheduler", port)
    client.follow(experiment_id, lambda event: event.HasField("epoch_ended"))
    gap = time.monotonic() - killed_at
    final = client.finished(experiment_id)

    assert_went_on_untouched(final, client.events)
    print(f"scheduler kill to the next epoch at a watcher: {gap:.1f} s")


def test_a_scheduler_killed_between_a_runs_end_and_its_files_stores_them_when_back(
    services: Services, gate: Gate
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    services.scheduler("scheduler", port)
    services.trainer("trainer-a", address)
    client = Client(address)
    gate.release(EPOCHS)  # it gives its verdict, then waits before writing its files
    experiment_id = client.submit(gate.config(epochs=EPOCHS, hold_files=True))
    ending = client.follow(experiment_id, lambda event: event.HasField("experiment_finished"))
    ended = client.get(experiment_id)

    services.kill("scheduler")
    gate.open()
    services.scheduler("scheduler", port)
    final = client.finished(experiment_id)

    assert ending.experiment_finished.files_follow
    assert ended.status == SUCCEEDED and not ended.artifacts
    events = [e for e in client.events if e.experiment_id == experiment_id]
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[-1].HasField("files_stored") and not events[-1].files_stored.error_message
    stored = [e.artifact_stored.artifact.name for e in events if e.HasField("artifact_stored")]
    assert "report.md" in stored and len(stored) == len(final.artifacts)
    assert final.status == SUCCEEDED


def test_a_scheduler_away_past_the_trainers_grace_resumes_the_run_from_its_checkpoint(
    services: Services, gate: Gate
) -> None:
    port = free_port()
    address = f"127.0.0.1:{port}"
    services.scheduler("scheduler", port)
    trainer = services.start(
        "trainer-a",
        *("trainer", "--scheduler", address, "--port", "0", "--host", "127.0.0.1"),
        *("--id", "trainer-a", "--advertise", "127.0.0.1"),
        env={"FORGE_TRAINER_GRACE_SECONDS": "2"},
    )
    trainer.wait_for(REGISTERED)
    client = Client(address)
    experiment_id = client.submit(held_run(gate))
    client.follow(experiment_id, epoch(2))

    services.kill("scheduler")
    trainer.wait_for(re.compile(r"no scheduler followed the run for 2 s, so trainer trainer-a"))
    gate.open()
    services.scheduler("scheduler", port)
    final = client.finished(experiment_id)

    resumed = assert_resumed_once_from_a_checkpoint(final, client.events)
    assert "no scheduler followed the run for 2 s" in resumed.reason


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_the_other_scheduler_takes_over_a_run_when_its_scheduler_dies(
    services: Services, database_url: str, gate: Gate
) -> None:
    ports = {"scheduler-a": free_port(), "scheduler-b": free_port()}
    both = "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports.values())
    for name, port in ports.items():
        services.scheduler(name, port)
    for name in ("trainer-a", "trainer-b"):
        services.trainer(name, both)
    client = Client(both)
    experiment_id = client.submit(held_run(gate))
    client.follow(experiment_id, epoch(2))
    owner = following_scheduler(database_url, experiment_id)
    (survivor,) = set(ports) - {owner}

    services.kill(owner)
    killed_at = time.monotonic()
    gate.open()
    client.follow(experiment_id, lambda event: event.HasField("epoch_ended"))
    gap = time.monotonic() - killed_at
    final = client.finished(experiment_id)

    assert_went_on_untouched(final, client.events)
    again = next(
        e.log_line.message for e in client.events if "again, from item" in e.log_line.message
    )
    assert again.startswith(f"scheduler {survivor} follows the run on trainer ")
    assert gap < LEASE_S + 10, f"taken over {gap:.1f} s after the kill"
    print(f"owner kill to the next epoch at a watcher, lease {LEASE_S} s: {gap:.1f} s")


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_work_submitted_to_two_schedulers_is_placed_exactly_once(services: Services) -> None:
    ports = [free_port(), free_port()]
    for name, port in zip(("scheduler-a", "scheduler-b"), ports, strict=True):
        services.scheduler(name, port)
    both = "ipv4:" + ",".join(f"127.0.0.1:{port}" for port in ports)
    for name in ("trainer-a", "trainer-b"):
        services.trainer(name, both)
    clients = [Client(f"127.0.0.1:{port}") for port in ports]
    submitted = [clients[number % 2].submit({"epochs": 1}) for number in range(20)]

    finals = [clients[number % 2].finished(i) for number, i in enumerate(submitted)]

    assert all(final.status == SUCCEEDED for final in finals), [f.error_message for f in finals]
    assert all(len(final.attempts) == 1 for final in finals)
    for client in clients:
        started = [e for e in client.events if e.HasField("experiment_started")]
        assert len(started) == len({e.experiment_id for e in started})


def following_scheduler(database_url: str, experiment_id: str) -> str:
    """Which scheduler follows a run, as the database says."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            owner = connection.execute(
                text("SELECT scheduler_id FROM experiments WHERE id = :id"), {"id": experiment_id}
            ).scalar_one()
    finally:
        engine.dispose()
    return str(owner)
