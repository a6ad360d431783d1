"""A run: one experiment's stream on one trainer, and how the scheduler may end it."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import grpc.aio

from azuraforge.v1 import events_pb2, trainer_pb2
from scheduler.db.models import ExperimentStatus
from scheduler.records import ExperimentRecord, TrainerRecord


@dataclass(frozen=True)
class Ending:
    """How the scheduler itself ends a run it hung up on.

    A `lost` run is placed again while the experiment has restarts left; `status` is what the
    experiment becomes when it has none.
    """

    status: ExperimentStatus
    message: str
    lost: bool = False


@dataclass
class Run:
    """One experiment's Train stream on one trainer, followed by one task."""

    experiment: ExperimentRecord
    trainer: TrainerRecord
    done: asyncio.Event = field(default_factory=asyncio.Event)
    task: asyncio.Task[None] | None = None
    call: grpc.aio.UnaryStreamCall[trainer_pb2.TrainRequest, trainer_pb2.TrainResponse] | None = (
        None
    )
    # Whether the trainer has sent anything: a refusal before that is no failed run.
    answered: bool = False
    # Set when the scheduler hangs up; the task then records the experiment ended this way.
    ending: Ending | None = None
    # Attached to a run a trainer already has (after a scheduler restart), not started anew.
    attach: bool = False
    # The position of the last item of the trainer's stream stored; replays up to it are moot.
    position: int = 0
    # The run ended with `files_follow`: its files are being stored, then `FilesStored`.
    files_pending: bool = False
    # Files stored since the run's end, and files the scheduler refused (torn, misnamed).
    files_after_end: int = 0
    files_refused: int = 0
    # The trainer's ending of a run cancelled meanwhile (`mark_cancelled`), whose files it
    # said follow: stored as the log's last event once they have (the cancel path's order).
    cancelled_ending: events_pb2.ExperimentEvent | None = None

    @property
    def experiment_id(self) -> str:
        return self.experiment.id

    def hang_up(self, ending: Ending) -> None:
        """Stop following the trainer's stream and end the experiment as `ending` says."""
        if self.ending is not None or self.done.is_set():
            return
        self.ending = ending
        if self.call is not None:
            self.call.cancel()
