"""Throwaway Postgres databases for tests, on the server at `FORGE_TEST_POSTGRES_URL`.

The default is the development machines' 127.0.0.1:5432, user postgres (trust auth). A test
session creates `forge_test_<random>` there and drops it at the end; inside it a test may take a
fresh empty schema, selected through the connection's `search_path`, much faster than a
database per test. Without a reachable server, tests fall back or skip, unless `CI` is set: CI
must not pass by testing SQLite alone.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine, make_url
from sqlalchemy.exc import OperationalError

POSTGRES_ADMIN_URL = os.environ.get(
    "FORGE_TEST_POSTGRES_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


class PostgresUnavailable(RuntimeError):
    """No Postgres server answers at `POSTGRES_ADMIN_URL`; the message says where and why."""


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


@contextmanager
def throwaway_database() -> Iterator[Engine]:
    """An engine on a new, empty database, dropped after the block; `PostgresUnavailable` first."""
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
        raise PostgresUnavailable(f"no Postgres reachable at {where} ({error.orig})") from None
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
