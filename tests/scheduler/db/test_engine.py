"""The SQLite engine: write-ahead logging survives many processes opening a new file at once,
and the writers of one process take turns."""

import threading
from pathlib import Path

from sqlalchemy import event, text

from scheduler.db.engine import WRITE, create_engine_for

OPENERS = 8


def open_together(url: str) -> tuple[list[str], list[BaseException]]:
    """Open `url` from OPENERS threads at the same moment; their journal modes and errors."""
    barrier = threading.Barrier(OPENERS)
    modes: list[str] = []
    errors: list[BaseException] = []

    def connect() -> None:
        engine = create_engine_for(url)
        try:
            barrier.wait()
            with engine.connect() as connection:
                modes.append(connection.execute(text("PRAGMA journal_mode")).scalar_one())
        except BaseException as error:
            errors.append(error)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=connect) for _ in range(OPENERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return modes, errors


def test_connections_opening_a_new_file_together_all_get_write_ahead_logging(tmp_path: Path):
    for round_ in range(15):
        modes, errors = open_together(f"sqlite:///{tmp_path / f'forge-{round_}.db'}")

        assert errors == [], f"round {round_}"
        assert modes == ["wal"] * OPENERS


def test_writers_of_one_process_take_turns_without_polling_sqlite(tmp_path: Path):
    """A second writer waits for the first on the engine's lock, not SQLite's busy handler.

    With SQLite's busy timeout at 0, a writer that reached `BEGIN IMMEDIATE` while another
    held the write lock would fail at once with "database is locked".
    """
    engine = create_engine_for(f"sqlite:///{tmp_path / 'forge.db'}")
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA busy_timeout=0"))
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE log (writer TEXT)"))
    first_holds, second_started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def write(name: str, hold: threading.Event | None = None) -> None:
        try:
            connection = engine.connect().execution_options(**{WRITE: True})
            with connection, connection.begin():
                connection.execute(text("INSERT INTO log VALUES (:w)"), {"w": name})
                if hold is not None:
                    first_holds.set()
                    hold.wait()
        except BaseException as error:
            errors.append(error)

    first = threading.Thread(target=write, args=("first", second_started))
    first.start()
    first_holds.wait()

    def second_writer() -> None:
        second_started.set()
        write("second")

    second = threading.Thread(target=second_writer)
    second.start()
    first.join()
    second.join()
    with engine.connect() as connection:
        written = connection.execute(text("SELECT writer FROM log")).scalars().all()
    engine.dispose()

    assert errors == []
    assert written == ["first", "second"]
