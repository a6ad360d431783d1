"""One point per epoch across resumes, and the table the commands print of them."""

from __future__ import annotations

from azuraforge.v1 import events_pb2
from forge_cli.epochs import epoch_table, one_per_epoch

Event = events_pb2.ExperimentEvent


def ended(epoch: int, loss: float, **metrics: float) -> Event:
    return Event(
        epoch_ended=events_pb2.EpochEnded(
            epoch=epoch, total_epochs=5, metrics={"loss": loss, **metrics}
        )
    )


def resumed(from_epoch: int, attempt: int = 2) -> Event:
    return Event(
        experiment_resumed=events_pb2.ExperimentResumed(
            trainer_id="trainer-2", from_epoch=from_epoch, attempt=attempt
        )
    )


def losses(events: list[Event]) -> list[tuple[int, float]]:
    return [(point.epoch, point.metrics["loss"]) for point in one_per_epoch(events)]


def test_an_epoch_trained_again_keeps_its_latest_metrics_once():
    events = [
        ended(1, 0.9),
        ended(2, 0.8),
        ended(3, 0.7),
        resumed(2),
        ended(3, 0.65),
        ended(4, 0.6),
    ]

    assert losses(events) == [(1, 0.9), (2, 0.8), (3, 0.65), (4, 0.6)]


def test_a_point_past_the_checkpoint_never_trained_again_is_void():
    # Epochs 3 and 4 were seen, the checkpoint held 2, and the new run failed after epoch 3.
    events = [ended(1, 0.9), ended(2, 0.8), ended(3, 0.7), ended(4, 0.6), resumed(2), ended(3, 0.5)]

    assert losses(events) == [(1, 0.9), (2, 0.8), (3, 0.5)]


def test_a_restart_with_no_checkpoint_voids_every_point_before_it():
    events = [ended(1, 0.9), ended(2, 0.8), resumed(0), ended(1, 0.95)]

    assert losses(events) == [(1, 0.95)]


def test_each_resume_voids_what_came_after_its_checkpoint():
    events = [
        ended(1, 0.9),
        ended(2, 0.8),
        ended(3, 0.7),
        resumed(1),
        ended(2, 0.75),
        ended(3, 0.72),
        resumed(2, attempt=3),
        ended(3, 0.71),
    ]

    assert losses(events) == [(1, 0.9), (2, 0.75), (3, 0.71)]


def test_other_events_change_nothing():
    events = [
        Event(log_line=events_pb2.LogLine(level="INFO", message="hello")),
        ended(1, 0.9),
        Event(batch_progress=events_pb2.BatchProgress(epoch=2, batch=1, total_batches=4)),
        Event(experiment_finished=events_pb2.ExperimentFinished()),
    ]

    assert losses(events) == [(1, 0.9)]
    assert one_per_epoch([]) == []


def test_the_table_has_one_row_per_epoch_and_a_column_per_metric():
    events = [ended(1, 0.9), ended(2, 0.8, val_loss=0.85), resumed(1), ended(2, 0.75, val_loss=0.8)]

    assert epoch_table(one_per_epoch(events)) == [
        "epoch  loss  val_loss",
        "1      0.9   -",
        "2      0.75  0.8",
    ]
    assert epoch_table([]) == []
