"""What `forge submit --watch` prints of a run that was lost and resumed on another trainer.

The events are built here, in the order the scheduler stores them for such a run; the printer
is fed them as `WatchExperiment` would (tests/forge_cli/test_client_commands.py watches real
runs end to end).
"""

from __future__ import annotations

import io

from azuraforge.v1 import events_pb2, experiment_pb2
from forge_cli.watch import EventPrinter, resumed_line

Event = events_pb2.ExperimentEvent
LOST = "trainer trainer-1 was lost (UNAVAILABLE: failed to connect)"


def started(trainer: str, initial_epoch: int = 0) -> Event:
    return Event(
        experiment_started=events_pb2.ExperimentStarted(
            pipeline="probe",
            total_epochs=4,
            trainer_id=trainer,
            steps_per_epoch=10,
            initial_epoch=initial_epoch,
        )
    )


def ended(epoch: int, loss: float, elapsed: float) -> Event:
    return Event(
        epoch_ended=events_pb2.EpochEnded(
            epoch=epoch, total_epochs=4, metrics={"loss": loss}, elapsed_seconds=elapsed
        )
    )


def resumed(from_epoch: int = 2, attempt: int = 2, reason: str = LOST) -> Event:
    return Event(
        experiment_resumed=events_pb2.ExperimentResumed(
            trainer_id="trainer-2",
            from_epoch=from_epoch,
            attempt=attempt,
            reason=reason,
            previous_trainer_id="trainer-1",
        )
    )


def finished() -> Event:
    return Event(
        experiment_finished=events_pb2.ExperimentFinished(
            status=experiment_pb2.EXPERIMENT_STATUS_SUCCEEDED, metrics={"loss": 0.5}
        )
    )


def printed(events: list[Event], max_restarts: int | None = 3) -> tuple[EventPrinter, list[str]]:
    out = io.StringIO()
    printer = EventPrinter(out, tty=False, max_restarts=max_restarts)
    for event in events:
        printer.show(event)
    return printer, out.getvalue().splitlines()


RESUMED_RUN = [
    started("trainer-1"),
    ended(1, 0.9, 1.0),
    ended(2, 0.8, 2.0),
    ended(3, 0.7, 3.0),
    resumed(from_epoch=2),
    started("trainer-2", initial_epoch=2),
    ended(3, 0.65, 1.5),
    ended(4, 0.6, 3.0),
    finished(),
]


def test_a_resume_is_one_line_saying_where_from_which_epoch_and_why():
    _, lines = printed(RESUMED_RUN)

    at = lines.index(
        f"Resumed on trainer-2 from the checkpoint of epoch 2 (attempt 2 of 4): {LOST}"
    )
    assert lines[at - 1].startswith("Epoch 3/4 - ")
    assert (
        lines[at + 1] == "Running probe on trainer-2: 4 epochs of 10 batches, resuming at epoch 3"
    )
    # The new run counts its time from its own start.
    assert lines[at + 2] == "Epoch 3/4 - 1.5 s - loss: 0.65"


def test_the_printer_keeps_one_point_per_epoch_and_prints_them_once_at_the_end():
    printer, lines = printed(RESUMED_RUN)

    assert [(e.epoch, e.metrics["loss"]) for e in printer.epochs] == [
        (1, 0.9),
        (2, 0.8),
        (3, 0.65),
        (4, 0.6),
    ]
    at = lines.index("Epochs, the latest run of each:")
    assert [line.split() for line in lines[at + 1 : at + 6]] == [
        ["epoch", "loss"],
        ["1", "0.9"],
        ["2", "0.8"],
        ["3", "0.65"],
        ["4", "0.6"],
    ]
    assert lines[at + 6] == "Experiment SUCCEEDED"


def test_a_run_never_resumed_prints_its_epochs_once():
    events = [started("trainer-1"), ended(1, 0.9, 1.0), ended(2, 0.8, 2.0), finished()]

    printer, lines = printed(events)

    assert [e.epoch for e in printer.epochs] == [1, 2]
    assert "Epochs, the latest run of each:" not in lines
    assert sum(line.startswith("Epoch ") for line in lines) == 2


def test_the_resume_line_without_a_checkpoint_a_bound_or_a_reason():
    line = resumed_line(resumed(from_epoch=0, attempt=3, reason="").experiment_resumed)

    assert line == (
        "Restarted on trainer-2 from scratch, with no checkpoint yet (attempt 3): "
        "the run on trainer-1 ended"
    )
    # An attempt past the bound given (the bound was lowered, say) is not "5 of 4".
    assert "(attempt 5)" in resumed_line(resumed(attempt=5).experiment_resumed, 3)


def test_the_status_prints_at_the_end_and_the_files_after_it_are_still_read():
    ending = finished()
    ending.experiment_finished.files_follow = True
    report = events_pb2.ArtifactStored(artifact=experiment_pb2.Artifact(name="report.md"))
    lost = "the run's files stopped coming: trainer trainer-1 was lost"
    events = [
        started("trainer-1"),
        ended(1, 0.9, 1.0),
        ending,
        Event(artifact_stored=report),
        Event(files_stored=events_pb2.FilesStored(count=1, error_message=lost)),
    ]

    printer, lines = printed(events)

    assert printer.succeeded and printer.artifacts == ["report.md"]
    assert lines[2] == "Experiment SUCCEEDED"
    assert lines[-1] == f"warning: {lost}"
