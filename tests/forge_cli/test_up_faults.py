"""Durable runs under `forge up`, with real processes and signals (docs/architecture.md#faults).

Each test starts `forge up` as a user would, on free ports and a fresh data folder, submits a
`trainer_probe` run that trains at a pace a test can act on, and then kills what a fault would
kill: the trainer running it, the only trainer, the scheduler, or `forge up` itself with
Ctrl-C. The run must still SUCCEED, go on after the epoch of its last checkpoint, and keep one
point per epoch. Every wait ends on an event: a line of `forge up`'s output or an event of
the experiment, never on a sleep.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from forge_cli.supervisor import group_exists
from forge_cli.up import free_port
from tests.faults import (
    Client,
    assert_resumed_once_from_a_checkpoint,
    assert_went_on_untouched,
    epoch,
    fault_environment,
    held_run,
    trainer_of,
)
from tests.processes import FORGE, Output, kill_group
from tests.trainer.probe import Gate

pytestmark = pytest.mark.timeout(900)

UP = re.compile(r"^up +\| AzuraForge is up: scheduler ")
RESTARTED_SCHEDULER = re.compile(r"^up +\| restarted scheduler \(pid \d+\)$")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return fault_environment(tmp_path)


class ForgeUp:
    """One `forge up` process and its output; ports stay the same across restarts."""

    def __init__(self, env: dict[str, str], trainers: int) -> None:
        self.env = env
        self.trainers = trainers
        self.scheduler_port = free_port()
        self.gateway_port = free_port()
        self.runs: list[tuple[subprocess.Popen[str], Output]] = []

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.scheduler_port}"

    @property
    def output(self) -> Output:
        return self.runs[-1][1]

    def start(self) -> Output:
        process = subprocess.Popen(
            [
                str(FORGE),
                "up",
                "--trainers",
                str(self.trainers),
                "--scheduler-port",
                str(self.scheduler_port),
                "--gateway-port",
                str(self.gateway_port),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=self.env,
            process_group=0,
        )
        output = Output(process)
        self.runs.append((process, output))
        output.wait_for(UP)
        return output

    def kill(self, service: str) -> None:
        os.kill(self.output.children()[service], signal.SIGKILL)

    def ctrl_c(self) -> int:
        process, output = self.runs[-1]
        process.send_signal(signal.SIGINT)
        code = process.wait(timeout=120)
        output.close()
        for name, pid in output.children().items():
            assert not group_exists(pid), f"a process of {name}'s group outlived forge up"
        return code

    def close(self) -> None:
        for process, output in self.runs:
            if process.poll() is None:
                process.kill()
                process.wait()
            for pid in output.children().values():
                kill_group(pid)
            output.close()


@contextmanager
def forge_up(env: dict[str, str], trainers: int) -> Iterator[ForgeUp]:
    up = ForgeUp(env, trainers)
    try:
        up.start()
        yield up
    finally:
        up.close()


def test_killing_the_trainer_running_a_run_hands_it_to_another(
    env: dict[str, str], gate: Gate
) -> None:
    with forge_up(env, trainers=2) as up:
        client = Client(up.address)
        experiment_id = client.submit(held_run(gate))
        client.follow(experiment_id, epoch(2))
        victim = trainer_of(client.events)

        up.kill(victim)
        gate.open()
        final = client.finished(experiment_id)

        resumed = assert_resumed_once_from_a_checkpoint(final, client.events)
        assert resumed.previous_trainer_id == victim
        assert "was lost" in resumed.reason
        up.output.wait_for(re.compile(rf"^up +\| restarted {victim} \(pid \d+\)$"), timeout=60)
        assert any(
            line.startswith(f"up        | {victim} exited unexpectedly with signal SIGKILL; ")
            for line in up.output.lines
        )
        assert up.ctrl_c() == 0


def test_the_only_trainer_is_restarted_and_the_run_resumes_on_it(
    env: dict[str, str], gate: Gate
) -> None:
    with forge_up(env, trainers=1) as up:
        client = Client(up.address)
        experiment_id = client.submit(held_run(gate))
        client.follow(experiment_id, epoch(2))

        up.kill("trainer-1")
        gate.open()
        final = client.finished(experiment_id)

        resumed = assert_resumed_once_from_a_checkpoint(final, client.events)
        assert resumed.trainer_id == resumed.previous_trainer_id == "trainer-1"
        assert [a.trainer_id for a in final.attempts] == ["trainer-1", "trainer-1"]
        assert up.ctrl_c() == 0


def test_a_killed_scheduler_is_restarted_and_the_run_goes_on_untouched(
    env: dict[str, str], gate: Gate
) -> None:
    with forge_up(env, trainers=1) as up:
        client = Client(up.address)
        experiment_id = client.submit(held_run(gate))
        client.follow(experiment_id, epoch(2))

        up.kill("scheduler")
        gate.open()
        final = client.finished(experiment_id)

        assert_went_on_untouched(final, client.events)
        assert up.ctrl_c() == 0


def test_ctrl_c_mid_run_leaves_it_to_resume_at_the_next_start(
    env: dict[str, str], gate: Gate
) -> None:
    with forge_up(env, trainers=1) as up:
        client = Client(up.address)
        experiment_id = client.submit(held_run(gate))
        client.follow(experiment_id, epoch(2))

        assert up.ctrl_c() == 0
        stopped = up.output.lines
        assert "FAILED" not in "\n".join(stopped)
        assert any("resume from their last checkpoint" in line for line in stopped)

        # At once, on the same ports: ports a stop leaves in TIME_WAIT are free to servers.
        up.start()
        gate.open()
        final = client.finished(experiment_id)

        resumed = assert_resumed_once_from_a_checkpoint(final, client.events)
        assert "trainer-1" in resumed.reason
        assert up.ctrl_c() == 0


def test_a_service_that_keeps_dying_stops_everything(env: dict[str, str]) -> None:
    with forge_up(env, trainers=0) as up:
        for death in range(1, 5):
            up.kill("scheduler")
            # Killed again only once restarted, so that each kill reaches a new process.
            up.output.wait_for(RESTARTED_SCHEDULER, count=death)
        assert f"({4} of 5 deaths allowed within 60 s)" in "\n".join(up.output.lines)
        up.kill("scheduler")

        process, output = up.runs[-1]
        assert process.wait(timeout=120) == 1
        output.close()
        assert (
            "up        | scheduler exited unexpectedly with signal SIGKILL (it died 5 times within "
            "60 s); stopping everything" in output.lines
        )
        for name, pid in output.children().items():
            assert not group_exists(pid), f"a process of {name}'s group outlived forge up"
