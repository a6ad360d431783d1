"""What every repository of the store shares: its sessions, its clock and new ids.

Each repository is a mix-in of `Store` on this base, so that one object, one session factory
and one clock serve them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from scheduler.db.engine import WRITE


def utc_now() -> datetime:
    return datetime.now(UTC)


class Repository:
    """Sessions and the clock, for the repositories that `Store` is made of."""

    def __init__(
        self, session_factory: sessionmaker[Session], *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._sessions = session_factory
        self._clock = clock

    def now(self) -> datetime:
        """The store's clock: every time it writes comes from here (tests set it)."""
        return self._clock()

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        with self._sessions() as session, session.begin():
            # Set before the transaction begins: on SQLite it begins as BEGIN IMMEDIATE.
            session.connection(execution_options={WRITE: True})
            yield session


def new_id() -> str:
    return str(uuid.uuid4())


def rowcount(result: Any) -> int:
    # update() and delete() return a CursorResult, which the ORM types as a plain Result.
    count: int = result.rowcount
    return count
