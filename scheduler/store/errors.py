"""What the store raises when a caller asks for something that cannot be done.

The servicers turn each into its gRPC status (`scheduler.errors`), so they live apart from the
repositories that raise them.
"""

from __future__ import annotations

from scheduler.db.models import ExperimentStatus
from scheduler.quoting import quote
from scheduler.store.transitions import ALLOWED_TRANSITIONS


class StoreError(Exception):
    """Something the caller asked for cannot be done; the message says why."""


class NotFound(StoreError):
    """No such thing, or none the caller may see."""

    def __init__(self, kind: str, key: str) -> None:
        super().__init__(f"{kind} {quote(key)} not found")
        self.kind = kind
        self.key = key


class AlreadyExists(StoreError):
    """A user with that name exists already."""


class IllegalTransition(StoreError):
    """The experiment's status may not change to the one asked for."""

    def __init__(self, experiment_id: str, current: ExperimentStatus, target: ExperimentStatus):
        allowed = ", ".join(sorted(ALLOWED_TRANSITIONS[current]))
        why = f"from {current} it may become {allowed}" if allowed else "it is over for good"
        super().__init__(
            f"experiment {experiment_id!r} is {current} and cannot become {target} ({why})"
        )
        self.experiment_id = experiment_id
        self.current = current
        self.target = target


class SchedulerConflict(StoreError):
    """A second scheduler on a SQLite database, which serves one at a time."""


class InvalidPageToken(StoreError, ValueError):
    """The page token was not one this store handed out."""
