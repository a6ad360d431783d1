"""Test doubles shared by the scheduler's tests."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher

# argon2id still, with the smallest cost argon2 allows: a hash takes microseconds, not 0.3 s.
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)


class FakeClock:
    """A clock that moves only when told to; starts at the real time, so tokens stay valid."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC).replace(microsecond=0)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float) -> None:
        with self._lock:
            self._now += timedelta(seconds=seconds)
