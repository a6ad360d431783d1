"""What the store hands out: frozen copies of rows, safe to pass between threads.

The gRPC servicers call the store through `asyncio.to_thread`, so what comes back must not be
tied to a database session that has already closed. Each record is a plain value; the protobuf
messages are made from them in `scheduler.convert`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scheduler.db.models import ExperimentStatus, Role


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

    @property
    def free_slots(self) -> int:
        return max(0, self.slots - self.running)
