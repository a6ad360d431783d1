"""Durable runs under `forge up`, with real processes and real signals (DESIGN.md §6).

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
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import grpc
import pytest

from azuraforge.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    events_pb2,
    experiment_pb2,
    scheduler_pb2,
    scheduler_pb2_grpc,
)
from forge_cli.supervisor import group_exists
from forge_cli.up import free_port
from tests.forge_cli.processes import FORGE, READY_S, Output, kill_group
from tests.stack import PROBE, epoch_points, struct, write_probe_distribution

pytestmark = pytest.mark.timeout(900)

REPO = Path(__file__).resolve().parents[2]
PASSWORD = "faults-admin-password"
UP = re.compile(r"^up +\| AzuraForge is up: scheduler ")
RESTARTED_SCHEDULER = re.compile(r"^up +\| restarted scheduler \(pid \d+\)$")
SUCCEEDED = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
Event = events_pb2.ExperimentEvent
# Slow enough to kill mid-run, quick enough for the suite: about 0.6 s an epoch.
EPOCHS = 8
PACED_RUN = {"epochs": EPOCHS, "epoch_pause": 0.6}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A fresh data folder, a known admin password, the probe plugin, a checkpoint every epoch."""
    site = write_probe_distribution(tmp_path / "site")
    environ = {
        **os.environ,
        "FORGE_DATA_DIR": str(tmp_path / "var"),
        "FORGE_ADMIN_PASSWORD": PASSWORD,
        "FORGE_CHECKPOINT_INTERVAL_SECONDS": "0",
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
        "NO_COLOR": "1",
    }
    for variable in ("FORGE_NATS_URL", "FORGE_SCHEDULER_ADDR", "FORGE_DATABASE_URL"):
        environ.pop(variable, None)
    return environ


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


class Client:
    """The admin's gRPC client of a scheduler that may restart under it."""

    def __init__(self, address: str) -> None:
        self.channel = grpc.insecure_channel(address)
        self.stub = scheduler_pb2_grpc.SchedulerServiceStub(self.channel)
        login = auth_pb2_grpc.AuthServiceStub(self.channel).Login(
            auth_pb2.LoginRequest(username="admin", password=PASSWORD), timeout=60
        )
        self.metadata = (("authorization", f"Bearer {login.access_token}"),)
        self.events: list[Event] = []

    def submit(self, config: dict[str, float]) -> str:
        response = self.stub.SubmitExperiment(
            scheduler_pb2.SubmitExperimentRequest(pipeline=PROBE, config=struct(config)),
            metadata=self.metadata,
            timeout=60,
        )
        return response.experiment.experiment_id

    def get(self, experiment_id: str) -> experiment_pb2.Experiment:
        self.channel_ready()
        response = self.stub.GetExperiment(
            scheduler_pb2.GetExperimentRequest(experiment_id=experiment_id),
            metadata=self.metadata,
            timeout=60,
        )
        return response.experiment

    def channel_ready(self) -> None:
        grpc.channel_ready_future(self.channel).result(timeout=READY_S)

    def follow(self, experiment_id: str, until: Callable[[Event], bool]) -> Event:
        """Watch from the last event seen until one matches `until`; resumes after a restart.

        A watcher that loses its stream comes back with `after_seq`, as the web UI does.
        """
        while True:
            after = self.events[-1].seq if self.events else 0
            call = self.stub.WatchExperiment(
                scheduler_pb2.WatchExperimentRequest(experiment_id=experiment_id, after_seq=after),
                metadata=self.metadata,
                timeout=READY_S,
            )
            try:
                for response in call:
                    self.events.append(response.event)
                    if until(response.event):
                        call.cancel()
                        return response.event
            except grpc.RpcError as error:
                if error.code() != grpc.StatusCode.UNAVAILABLE:
                    raise
                self.channel_ready()
                continue
            raise AssertionError("the watch ended before the awaited event")

    def finished(self, experiment_id: str) -> experiment_pb2.Experiment:
        self.follow(experiment_id, lambda event: event.HasField("experiment_finished"))
        return self.get(experiment_id)


def epoch(number: int) -> Callable[[Event], bool]:
    """The end of epoch `number`; once it is stored, so is the checkpoint before it."""
    return lambda event: event.HasField("epoch_ended") and event.epoch_ended.epoch == number


def trainer_of(events: list[Event]) -> str:
    started = [e.experiment_started for e in events if e.HasField("experiment_started")]
    return started[-1].trainer_id


def assert_resumed_once_from_a_checkpoint(
    final: experiment_pb2.Experiment, events: list[Event]
) -> events_pb2.ExperimentResumed:
    """SUCCEEDED, resumed once after the checkpoint's epoch, one point per epoch."""
    assert final.status == SUCCEEDED, final.error_message
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    (resumed,) = [e.experiment_resumed for e in events if e.HasField("experiment_resumed")]
    assert resumed.attempt == 2 and resumed.from_epoch >= 1
    after = [e.WhichOneof("kind") for e in events].index("experiment_resumed")
    first = next(e.epoch_ended.epoch for e in events[after:] if e.HasField("epoch_ended"))
    assert first == resumed.from_epoch + 1
    assert sorted(epoch_points(events)) == list(range(1, EPOCHS + 1))
    return resumed


def test_killing_the_trainer_running_a_run_hands_it_to_another(env: dict[str, str]) -> None:
    with forge_up(env, trainers=2) as up:
        client = Client(up.address)
        experiment_id = client.submit(PACED_RUN)
        client.follow(experiment_id, epoch(2))
        victim = trainer_of(client.events)

        up.kill(victim)
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


def test_the_only_trainer_is_restarted_and_the_run_resumes_on_it(env: dict[str, str]) -> None:
    with forge_up(env, trainers=1) as up:
        client = Client(up.address)
        experiment_id = client.submit(PACED_RUN)
        client.follow(experiment_id, epoch(2))

        up.kill("trainer-1")
        final = client.finished(experiment_id)

        resumed = assert_resumed_once_from_a_checkpoint(final, client.events)
        assert resumed.trainer_id == resumed.previous_trainer_id == "trainer-1"
        assert [a.trainer_id for a in final.attempts] == ["trainer-1", "trainer-1"]
        assert up.ctrl_c() == 0


def test_a_killed_scheduler_is_restarted_and_the_run_goes_on(env: dict[str, str]) -> None:
    with forge_up(env, trainers=1) as up:
        client = Client(up.address)
        experiment_id = client.submit(PACED_RUN)
        client.follow(experiment_id, epoch(2))

        up.kill("scheduler")
        final = client.finished(experiment_id)

        resumed = assert_resumed_once_from_a_checkpoint(final, client.events)
        assert "scheduler stopped" in resumed.reason
        assert up.ctrl_c() == 0


def test_ctrl_c_mid_run_leaves_it_to_resume_at_the_next_start(env: dict[str, str]) -> None:
    with forge_up(env, trainers=1) as up:
        client = Client(up.address)
        experiment_id = client.submit(PACED_RUN)
        client.follow(experiment_id, epoch(2))

        assert up.ctrl_c() == 0
        stopped = up.output.lines
        assert "FAILED" not in "\n".join(stopped)
        assert any("resume from their last checkpoint" in line for line in stopped)

        # At once, on the same ports: ports a stop leaves in TIME_WAIT are free to servers.
        up.start()
        final = client.finished(experiment_id)

        resumed = assert_resumed_once_from_a_checkpoint(final, client.events)
        assert "scheduler stopped" in resumed.reason
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
