"""The child's messages as the contract's ``ExperimentEvent``\\ s.

| child message | event | fields |
|---|---|---|
| ``TrainingStarted`` (``on_train_begin``) | ``ExperimentStarted`` | pipeline, total_epochs, trainer_id, steps_per_epoch, initial_epoch |
| ``EpochDone`` (``on_epoch_end``) | ``EpochEnded`` | epoch (from 1), total_epochs, metrics (Keras's names), elapsed_seconds since the fit began |
| ``BatchDone`` (``on_batch_end``, at most 4/s) | ``BatchProgress`` | epoch and batch (from 1), total_batches, running loss |
| ``LogRecord`` (a logging record) | ``LogLine`` | level, logger, message |
| the run's ``Outcome`` | ``ExperimentFinished`` | status, error_message, metrics (test), baselines and references (each model's metrics by its name), retryable, files_follow |
| the files sent after a verdict (``RunEvaluated``) | ``FilesStored`` | count, error_message |

``emitted_at`` is when the child saw the event happen, not when it reached the stream. ``seq``
counts the events of one Train stream from 1; the scheduler renumbers them in its log.
"""  # noqa: E501

from __future__ import annotations

import time
from dataclasses import dataclass, field

from azuraforge.v1 import events_pb2, experiment_pb2
from trainer.job import BatchDone, EpochDone, LogRecord, Progress, TrainingStarted


@dataclass(frozen=True)
class RunInfo:
    """What the events of one run share that the child does not know."""

    experiment_id: str
    pipeline: str
    trainer_id: str


@dataclass(frozen=True)
class Outcome:
    """How a run ended, as ``ExperimentFinished`` reports it."""

    status: experiment_pb2.ExperimentStatus
    error_message: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    at: float = field(default_factory=time.time)
    # The run was lost through no fault of the pipeline (its process died): worth a retry.
    retryable: bool = False


def to_event(message: Progress, run: RunInfo, seq: int) -> events_pb2.ExperimentEvent:
    """The event for one message from the child."""
    event = _event(run, seq, message.at)
    match message:
        case TrainingStarted():
            event.experiment_started.CopyFrom(
                events_pb2.ExperimentStarted(
                    pipeline=run.pipeline,
                    total_epochs=message.epochs,
                    trainer_id=run.trainer_id,
                    steps_per_epoch=message.steps,
                    initial_epoch=message.initial_epoch,
                )
            )
        case EpochDone():
            event.epoch_ended.CopyFrom(
                events_pb2.EpochEnded(
                    epoch=message.epoch,
                    total_epochs=message.epochs,
                    metrics=message.metrics,
                    elapsed_seconds=message.elapsed_s,
                )
            )
        case BatchDone():
            event.batch_progress.CopyFrom(
                events_pb2.BatchProgress(
                    epoch=message.epoch,
                    batch=message.batch,
                    total_batches=message.batches,
                    loss=message.loss,
                )
            )
        case LogRecord():
            event.log_line.CopyFrom(
                events_pb2.LogLine(
                    level=message.level, logger=message.logger, message=message.message
                )
            )
    return event


def finished_event(
    outcome: Outcome, run: RunInfo, seq: int, *, files_follow: bool = False
) -> events_pb2.ExperimentEvent:
    """The run's end; its last event unless `files_follow` (then `files_stored_event` is)."""
    event = _event(run, seq, outcome.at)
    event.experiment_finished.CopyFrom(
        events_pb2.ExperimentFinished(
            status=outcome.status,
            error_message=outcome.error_message,
            metrics=outcome.metrics,
            retryable=outcome.retryable,
            baselines=scores(outcome.baselines),
            references=scores(outcome.references),
            files_follow=files_follow,
        )
    )
    return event


def files_stored_event(
    count: int, error_message: str, run: RunInfo, seq: int
) -> events_pb2.ExperimentEvent:
    """The last event of a run whose files followed its end: how many, and what went wrong."""
    event = _event(run, seq, time.time())
    event.files_stored.CopyFrom(events_pb2.FilesStored(count=count, error_message=error_message))
    return event


def scores(by_name: dict[str, dict[str, float]]) -> dict[str, experiment_pb2.Scores]:
    """Each model's metrics, by the model's name, as the typed map ``ExperimentFinished`` has."""
    return {name: experiment_pb2.Scores(values=values) for name, values in by_name.items()}


def _event(run: RunInfo, seq: int, at: float) -> events_pb2.ExperimentEvent:
    event = events_pb2.ExperimentEvent(experiment_id=run.experiment_id, seq=seq)
    # From the float directly: a datetime in between costs more than the rest of the event.
    event.emitted_at.FromNanoseconds(round(at * 1e9))
    return event
