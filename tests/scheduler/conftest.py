"""Databases for the scheduler's tests: every test that takes one runs on SQLite and on Postgres.

Postgres gets one fresh database per test session (`tests/postgres.py`). Inside it a test of
migrations (`database_url`) gets a fresh empty schema; a test of the store (`engine`, `store`)
gets the tables of a schema migrated once per session, emptied. On SQLite the same: a fresh
file, or a copy of one migrated once.

Without a reachable Postgres server its runs are skipped, unless `CI` is set: CI must not pass
by testing SQLite alone.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
from sqlalchemy import Engine, make_url

from scheduler.db.engine import create_engine_for, create_session_factory
from scheduler.db.models import Base
from scheduler.migrations import upgrade_database
from scheduler.store import Store
from tests.postgres import PostgresUnavailable, fresh_schema, in_ci, throwaway_database
from tests.scheduler.fakes import FakeClock

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Engine]:
    """An engine on a new, empty database, dropped after the session."""
    with ExitStack() as stack:
        try:
            database = stack.enter_context(throwaway_database())
        except PostgresUnavailable as error:
            if in_ci():
                pytest.fail(f"{error}; CI runs the store's tests on Postgres too", pytrace=False)
            pytest.skip(str(error))
        yield database


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of an empty database: a SQLite file, or a fresh schema on Postgres."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('db') / 'forge.db'}"
    return fresh_schema(request.getfixturevalue("postgres_database"))


@pytest.fixture(scope="session", params=BACKENDS)
def migrated_database(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> str:
    """A database upgraded once per session, for the tests that need tables, not migrations."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'forge.db'}"
    else:
        url = fresh_schema(request.getfixturevalue("postgres_database"))
    upgrade_database(url)
    return url


@pytest.fixture
def engine(migrated_database: str, tmp_path: Path) -> Iterator[Engine]:
    """An engine on an up-to-date database with empty tables.

    SQLite gets a copy of the upgraded file; Postgres the upgraded schema, emptied. Both are
    much faster than running the migrations for every test.
    """
    url = make_url(migrated_database)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        copy = tmp_path / "forge.db"
        shutil.copyfile(url.database, copy)
        url = url.set(database=str(copy))
    engine = create_engine_for(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            tables = ", ".join(Base.metadata.tables)
            connection.exec_driver_sql(f"TRUNCATE {tables} CASCADE")
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(engine: Engine, clock: FakeClock) -> Store:
    return Store(create_session_factory(engine), clock=clock)
