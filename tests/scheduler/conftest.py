"""Databases for the scheduler's tests: every test that takes one runs on SQLite and on Postgres.

Postgres gets one fresh database per test session, `forge_test_<random>`, created on the server
at `FORGE_TEST_POSTGRES_URL` (default: the development machines' 127.0.0.1:5432, user
postgres) and dropped at the end. Inside it a test of migrations (`database_url`) gets a fresh
empty schema, selected through the connection's `search_path`, much faster than a database per
test; a test of the store (`engine`, `store`) gets the tables of a schema migrated once per
session, emptied. On SQLite the same: a fresh file, or a copy of one migrated once.

Without a reachable Postgres server its runs are skipped, unless `CI` is set: CI must not pass
by testing SQLite alone.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import OperationalError

from scheduler.db.engine import create_engine_for, create_session_factory
from scheduler.db.models import Base
from scheduler.migrations import upgrade_database
from scheduler.store import Store
from tests.scheduler.fakes import FakeClock

BACKENDS = ["sqlite", "postgresql"]
POSTGRES_ADMIN_URL = os.environ.get(
    "FORGE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[Engine]:
    """An engine on a new, empty database, dropped after the session."""
    admin_url = make_url(POSTGRES_ADMIN_URL)
    admin = create_engine(
        admin_url, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3}
    )
    try:
        with admin.connect():
            pass
    except OperationalError as error:
        admin.dispose()
        where = admin_url.render_as_string(hide_password=True)
        message = f"no Postgres reachable at {where} ({error.orig})"
        if in_ci():
            pytest.fail(f"{message}; CI runs the store's tests on Postgres too", pytrace=False)
        pytest.skip(message)
    name = f"forge_test_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    database = create_engine(admin_url.set(database=name), isolation_level="AUTOCOMMIT")
    try:
        yield database
    finally:
        database.dispose()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


def fresh_schema(database: Engine) -> str:
    """The URL of a new, empty schema in the test database (chosen by `search_path`)."""
    schema = f"test_{uuid.uuid4().hex[:12]}"
    with database.connect() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    url = database.url.update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


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
