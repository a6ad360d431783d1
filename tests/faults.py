"""A client of a scheduler that faults may restart, and what a resumed run must look like.

The fault tests (`tests/forge_cli/test_up_faults.py`, `tests/scheduler/test_process_faults.py`)
kill real processes under a run of `trainer_probe` held at a gate after epoch 2 (see
`tests.trainer.probe.Gate`), let it go on, then check the run with these.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from pathlib import Path

import grpc

from azuraforge.v1 import (
    auth_pb2,
    auth_pb2_grpc,
    events_pb2,
    experiment_pb2,
    scheduler_pb2,
    scheduler_pb2_grpc,
)
from scheduler.watch import is_last
from tests.processes import READY_S
from tests.stack import PROBE, epoch_points, struct, write_probe_distribution
from tests.trainer.probe import Gate

PASSWORD = "faults-admin-password"
EPOCHS = 8
SUCCEEDED = experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED
Event = events_pb2.ExperimentEvent
REPO = Path(__file__).resolve().parents[1]


def fault_environment(tmp_path: Path, **settings: str) -> dict[str, str]:
    """The services' environment: a fresh data folder, the known admin password, the probe
    plugin on the Python path, a checkpoint every epoch; `settings` added, none inherited."""
    site = write_probe_distribution(tmp_path / "site")
    environ = {
        name: value
        for name, value in os.environ.items()
        if name not in ("FORGE_NATS_URL", "FORGE_SCHEDULER_ADDR", "FORGE_DATABASE_URL")
    }
    return {
        **environ,
        "FORGE_DATA_DIR": str(tmp_path / "var"),
        "FORGE_ADMIN_PASSWORD": PASSWORD,
        "FORGE_CHECKPOINT_INTERVAL_SECONDS": "0",
        "PYTHONPATH": os.pathsep.join([str(site), str(REPO)]),
        "PYTHONUNBUFFERED": "1",
        "NO_COLOR": "1",
        **settings,
    }


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

    def submit(self, config: Mapping[str, object], pipeline: str = PROBE) -> str:
        response = self.stub.SubmitExperiment(
            scheduler_pb2.SubmitExperimentRequest(pipeline=pipeline, config=struct(config)),
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
            mine = [e for e in self.events if e.experiment_id == experiment_id]
            after = mine[-1].seq if mine else 0
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
        """The experiment once its log is complete: it ended, and its files are stored."""
        self.follow(experiment_id, is_last)
        return self.get(experiment_id)


def held_run(gate: Gate) -> dict[str, object]:
    """A probe run of `EPOCHS` epochs that waits at `gate` (released up to epoch 2): a test
    follows it to epoch 2, does its harm while the run is there, then opens the gate."""
    gate.release(2)
    return gate.config(epochs=EPOCHS)


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


def assert_went_on_untouched(final: experiment_pb2.Experiment, events: list[Event]) -> None:
    """SUCCEEDED on its first trainer: followed again, never resumed, each epoch trained once."""
    assert final.status == SUCCEEDED, final.error_message
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    kinds = [e.WhichOneof("kind") for e in events]
    story = [
        e.log_line.message or e.WhichOneof("kind") for e in events if not e.batch_progress.batch
    ]
    assert "experiment_resumed" not in kinds and kinds.count("experiment_started") == 1, story
    assert sorted(epoch_points(events)) == list(range(1, EPOCHS + 1))
    again = [e.log_line.message for e in events if "again, from item" in e.log_line.message]
    assert len(again) == 1 and again[0].endswith("nothing was lost")
    assert len(final.attempts) == 1
