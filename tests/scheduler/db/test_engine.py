"""The SQLite engine: write-ahead logging survives many processes opening a new file at once."""

import threading
from pathlib import Path

from sqlalchemy import text

from scheduler.db.engine import create_engine_for

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
