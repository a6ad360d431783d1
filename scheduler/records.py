"""What the store hands out: frozen copies of rows, safe to pass between threads.

The gRPC servicers call the store through `asyncio.to_thread`, so what comes back must not be
tied to a database session that has already closed. Each record is a plain value; the protobuf
messages are made from them in `scheduler.convert`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from scheduler.db.models import ExperimentStatus, Role, SweepState


@dataclass(frozen=True)
class Caller:
    """Who is asking, as the verified access token says: scopes what they may see."""

    user_id: str
    role: Role

    @property
    def is_admin(self) -> bool:
        return self.role is Role.ADMIN


@dataclass(frozen=True)
class UserRecord:
    id: str
    username: str
    role: Role
    created_at: datetime


@dataclass(frozen=True)
class Credentials:
    """A user with their password hash, for `scheduler.auth` only; never sent anywhere."""

    user: UserRecord
    password_hash: str


@dataclass(frozen=True)
class ArtifactRecord:
    """A stored file's description; the content comes from `Store.get_artifact`."""

    experiment_id: str
    name: str
    content_type: str
    size: int
    sha256: str
    stored_at: datetime


@dataclass(frozen=True)
class AttemptRecord:
    """One run of an experiment on one trainer; the experiment keeps them in order.

    `lost_reason` says why a run was lost (its trainer or training process died, or the
    scheduler stopped) when it did not end the experiment; `counted` whether that loss spends
    one of the experiment's restarts (a scheduler that stopped does not).
    """

    number: int
    trainer_id: str
    from_epoch: int
    started_at: datetime
    ended_at: datetime | None = None
    lost_reason: str = ""
    counted: bool = True

    @property
    def is_open(self) -> bool:
        return self.ended_at is None

    def to_json(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "trainer_id": self.trainer_id,
            "from_epoch": self.from_epoch,
            "started_at": self.started_at.isoformat(),
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
            "lost_reason": self.lost_reason,
            "counted": self.counted,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> AttemptRecord:
        ended_at = data.get("ended_at")
        return cls(
            number=int(data["number"]),
            trainer_id=str(data["trainer_id"]),
            from_epoch=int(data["from_epoch"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            ended_at=None if ended_at is None else datetime.fromisoformat(ended_at),
            lost_reason=str(data.get("lost_reason", "")),
            counted=bool(data.get("counted", True)),
        )


@dataclass(frozen=True)
class ExperimentRecord:
    id: str
    owner_id: str
    # The owner's username, which is what the gRPC `Experiment.owner` shows.
    owner: str
    pipeline: str
    config: dict[str, Any]
    status: ExperimentStatus
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    trainer_id: str | None
    error_message: str
    epochs_done: int
    total_epochs: int
    metrics: dict[str, float]
    last_seq: int
    artifacts: tuple[ArtifactRecord, ...]
    max_restarts: int = 3
    attempts: tuple[AttemptRecord, ...] = ()
    # Epochs held by the latest stored checkpoint; 0 for none.
    checkpoint_epoch: int = 0
    # The current run's trainer stream is stored up to this position.
    stream_position: int = 0
    # The scheduler that follows the run while it is RUNNING, or while its files still come.
    scheduler_id: str | None = None
    # The run ended, and its files are still coming (`ExperimentFinished.files_follow`).
    files_pending: bool = False
    # Once finished: each baseline's and reference model's test metrics, by its name.
    baselines: dict[str, dict[str, float]] = field(default_factory=dict)
    references: dict[str, dict[str, float]] = field(default_factory=dict)
    # What its owner calls it; empty when unnamed.
    name: str = ""
    # The sweep it is a trial of and its number there; empty and 0 otherwise.
    sweep_id: str = ""
    sweep_trial: int = 0

    @property
    def restarts_used(self) -> int:
        """Lost runs that spent a restart: a scheduler that stopped spends none."""
        return sum(1 for attempt in self.attempts if attempt.lost_reason and attempt.counted)

    @property
    def current_attempt(self) -> AttemptRecord | None:
        return self.attempts[-1] if self.attempts else None


@dataclass(frozen=True)
class StatusChange:
    """An experiment just after its status changed, for `forge.experiments.status`."""

    experiment: ExperimentRecord
    # None when the experiment was just created.
    previous: ExperimentStatus | None


@dataclass(frozen=True)
class ExperimentPage:
    experiments: tuple[ExperimentRecord, ...]
    # Empty on the last page.
    next_page_token: str
    # How many experiments match the filters in all pages together.
    total_size: int


@dataclass(frozen=True)
class TrainerRecord:
    id: str
    address: str
    slots: int
    pipelines: tuple[str, ...]
    registered_at: datetime
    last_heartbeat: datetime
    # Experiments the database has RUNNING on this trainer.
    running: int
    # The runs it held at its last heartbeat.
    held: tuple[str, ...] = ()

    @property
    def free_slots(self) -> int:
        return max(0, self.slots - self.running)


@dataclass(frozen=True)
class PipelineRecord:
    """A pipeline as a trainer announced it: its name, summary and config JSON Schema.

    The schema is what `scheduler.submissions` checks a submission of the pipeline against.
    """

    name: str
    summary: str
    config_schema: dict[str, Any]


@dataclass(frozen=True)
class RungRecord:
    """What ASHA decided for one trial at one rung (`scheduler.sweeps.asha`)."""

    rung: int
    trial: int
    epoch: int
    objective: float
    promoted: bool


@dataclass(frozen=True)
class TrialRecord:
    """One trial of a sweep, with its experiment's status and epochs as they are now."""

    number: int
    experiment_id: str
    status: ExperimentStatus
    settings: dict[str, Any]
    epochs_done: int
    total_epochs: int
    objective: float | None
    stop_reason: str
    # The seq of the experiment's last event the sweep has read.
    read_seq: int
    rungs: tuple[RungRecord, ...] = ()


@dataclass(frozen=True)
class SweepRecord:
    """A sweep with its trials, the first drawn first."""

    id: str
    owner_id: str
    owner: str
    name: str
    pipeline: str
    spec: dict[str, Any]
    status: SweepState
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None
    error_message: str
    last_seq: int
    trials: tuple[TrialRecord, ...] = ()
