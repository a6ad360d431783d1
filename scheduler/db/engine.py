"""Engines and sessions for the two databases the scheduler runs on: SQLite and Postgres.

SQLite is the default that needs nothing installed, and it needs three things set to be a
good one for a threaded server:

- `check_same_thread=False`, because the gRPC servicers reach the store from a thread pool;
- write-ahead logging, so that readers (a watcher replaying events) never wait for the writer
  (a trainer's stream appending them), and foreign keys, which SQLite leaves off by default;
- transactions that take the write lock when they begin, if they are going to write. The
  sqlite3 driver begins transactions lazily and as readers; two of them that then both try to
  write fail at once with "database is locked" instead of waiting. So SQLAlchemy emits BEGIN
  here, and `BEGIN IMMEDIATE` for a connection opened with the `WRITE` execution option, which
  `scheduler.store` sets for every transaction that changes something. Writers then go one at
  a time, which is also what makes `claim_pending` and event numbering atomic there;
- the writers of one process take turns on a lock before `BEGIN IMMEDIATE`, and hand it on when
  their connection goes back to the pool. Without it they would queue on SQLite's busy
  handler, which polls by sleeping 1, 2, 5, 10 … 100 ms: four runs streaming events each
  waited up to a third of a second for a commit that takes a millisecond. Other processes on
  the same file (a second scheduler) still queue on the busy timeout.

Postgres needs none of this: the store takes row locks where it matters.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

# Execution option: this transaction will write (SQLite begins it with BEGIN IMMEDIATE).
WRITE = "forge_write"
# How long a SQLite writer waits for the one before it before giving up.
SQLITE_BUSY_TIMEOUT_SECONDS = 30


class UnsupportedDatabase(ValueError):
    """`FORGE_DATABASE_URL` names a database the scheduler does not run on."""


def create_engine_for(url: str | URL) -> Engine:
    """An engine for a `sqlite:///…` or `postgresql+psycopg2://…` URL, set up for the scheduler.

    A SQLite file's folder is created if it is missing; a bare `postgresql://` uses psycopg2.
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return _sqlite_engine(parsed)
    if backend == "postgresql":
        if parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg2")
        # A scheduler may sit idle for hours; a connection the server dropped meanwhile is
        # replaced on checkout rather than failing the next RPC.
        return create_engine(parsed, pool_pre_ping=True)
    raise UnsupportedDatabase(
        f"FORGE_DATABASE_URL {parsed.render_as_string(hide_password=True)!r} is neither SQLite "
        "nor Postgres: use sqlite:///path/to/forge.db or "
        "postgresql+psycopg2://user:password@host:5432/database."
    )


def create_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose loaded objects stay readable after commit (the store copies them out)."""
    return sessionmaker(engine, expire_on_commit=False)


def _sqlite_engine(url: URL) -> Engine:
    database = url.database
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_SECONDS},
    )
    turns = _WriterTurns()
    event.listen(engine, "connect", _on_sqlite_connect)
    event.listen(engine, "begin", turns.begin)
    event.listen(engine, "checkin", turns.end)
    return engine


def _on_sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Take BEGIN away from the driver; _on_sqlite_begin emits it.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        _use_write_ahead_log(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        # In WAL mode NORMAL loses at most the last commits on power loss, never consistency,
        # and saves an fsync per commit: one per stored event.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def _use_write_ahead_log(cursor: sqlite3.Cursor) -> None:
    """Switch the file to WAL, the first time any connection opens it.

    The switch needs the file to itself, and SQLite answers "database is locked" at once when
    another connection is opening it at the same moment (as schedulers starting together do):
    the busy timeout does not cover this pragma. So a file already in WAL is left alone, and
    the switch is retried for as long as the busy timeout would have waited.
    """
    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_SECONDS
    delay = 0.005
    while True:
        try:
            (mode,) = cursor.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() + delay > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)


class _WriterTurns:
    """One writing transaction at a time in this process (see the module docstring).

    A writer takes the lock when it begins and gives it back when its connection returns to
    the pool, after the commit or rollback. A writer that waits longer than the busy timeout
    (a thread that began a second write while holding one) goes on to SQLite's own wait.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def begin(self, connection: Connection) -> None:
        if not connection.get_execution_options().get(WRITE, False):
            connection.exec_driver_sql("BEGIN")
            return
        pooled = connection.connection
        if not pooled.is_detached and self._lock.acquire(timeout=SQLITE_BUSY_TIMEOUT_SECONDS):
            pooled.info[_HOLDS_TURN] = True  # the pool entry's, which `end` is given
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    def end(self, _dbapi_connection: Any, record: Any) -> None:
        if record.info.pop(_HOLDS_TURN, False):
            self._lock.release()


_HOLDS_TURN = "forge_holds_write_turn"
