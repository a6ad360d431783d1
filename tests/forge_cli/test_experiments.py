"""What `forge experiments show` prints of a run that was lost and placed again.

`describe` is fed an experiment built here as the scheduler answers for such a run, and its
epochs as `show` reads them from the stored events; tests/forge_cli/test_client_commands.py
runs `show` against the real stack.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

from google.protobuf.timestamp_pb2 import Timestamp

from azuraforge.v1 import events_pb2, experiment_pb2
from forge_cli.epochs import one_per_epoch
from forge_cli.experiments import describe

LOST = "trainer trainer-1 was lost (UNAVAILABLE: failed to connect)"


def at(minute: int) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime(2026, 5, 1, 12, minute, tzinfo=UTC))
    return stamp


def resumed_experiment() -> experiment_pb2.Experiment:
    return experiment_pb2.Experiment(
        experiment_id="e-1",
        pipeline="probe",
        status=experiment_pb2.EXPERIMENT_STATUS_RUNNING,
        trainer_id="trainer-2",
        epochs_done=3,
        total_epochs=4,
        max_restarts=3,
        checkpoint_epoch=3,
        attempts=[
            experiment_pb2.Attempt(
                number=1,
                trainer_id="trainer-1",
                started_at=at(0),
                ended_at=at(5),
                lost_reason=LOST,
            ),
            experiment_pb2.Attempt(
                number=2, trainer_id="trainer-2", from_epoch=2, started_at=at(6)
            ),
        ],
    )


def epoch(number: int, loss: float) -> events_pb2.ExperimentEvent:
    return events_pb2.ExperimentEvent(
        epoch_ended=events_pb2.EpochEnded(epoch=number, metrics={"loss": loss})
    )


def test_show_names_the_restarts_the_checkpoint_and_each_attempt():
    lines = describe(resumed_experiment())

    assert re.search(r"^restarts +1 of at most 3$", "\n".join(lines), re.M)
    assert re.search(r"^checkpoint +epoch 3$", "\n".join(lines), re.M)
    at = lines.index("attempts:")
    header, first, second = (line.split(maxsplit=5) for line in lines[at + 1 : at + 4])
    assert header[:3] == ["#", "TRAINER", "FROM"]
    assert lines[at + 1].rstrip().endswith("LOST BECAUSE")
    assert first[:3] == ["1", "trainer-1", "scratch"]
    assert lines[at + 2].endswith(LOST)
    assert second[:4] == ["2", "trainer-2", "epoch", "2"]
    assert lines[at + 3].rstrip().endswith("-")  # Still running: not ended.


def test_show_prints_the_name_or_a_dash():
    named = resumed_experiment()
    named.name = "two layers"

    assert re.search(r"^name +two layers$", "\n".join(describe(named)), re.M)
    assert re.search(r"^name +-$", "\n".join(describe(resumed_experiment())), re.M)


def test_one_attempt_needs_no_attempts_table():
    experiment = resumed_experiment()
    del experiment.attempts[1:]
    experiment.checkpoint_epoch = 0

    lines = describe(experiment)

    assert "attempts:" not in lines
    assert re.search(r"^restarts +0 of at most 3$", "\n".join(lines), re.M)
    assert re.search(r"^checkpoint +-$", "\n".join(lines), re.M)


def test_the_epochs_table_has_one_row_per_epoch():
    events = [epoch(1, 0.9), epoch(2, 0.8), epoch(3, 0.7)]
    events.append(
        events_pb2.ExperimentEvent(
            experiment_resumed=events_pb2.ExperimentResumed(from_epoch=2, attempt=2)
        )
    )
    events.append(epoch(3, 0.65))

    lines = describe(resumed_experiment(), one_per_epoch(events))

    at = lines.index("epochs:")
    assert [line.split() for line in lines[at + 1 : at + 5]] == [
        ["epoch", "loss"],
        ["1", "0.9"],
        ["2", "0.8"],
        ["3", "0.65"],
    ]
    assert at + 5 == len(lines) or lines[at + 5] == ""
