"""Many rows at once: what goes in comes back, on SQLite and on Postgres (where it is COPY)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Float,
    LargeBinary,
    MetaData,
    Table,
    Text,
    select,
)
from sqlalchemy.exc import StatementError

from scheduler.db.models import UTCDateTime
from scheduler.store.bulk import insert_rows


@pytest.fixture
def table(engine: Engine) -> Iterator[Table]:
    metadata = MetaData()
    table = Table(
        "bulk probe",  # a name that needs quoting
        metadata,
        Column("n", BigInteger, primary_key=True),
        Column("text", Text, nullable=True),
        Column("data", LargeBinary, nullable=True),
        Column("at", UTCDateTime, nullable=True),
        Column("ratio", Float, nullable=True),
        Column("flag", Boolean, nullable=True),
    )
    metadata.create_all(engine)
    yield table
    metadata.drop_all(engine)


AWKWARD: list[dict[str, Any]] = [
    {
        "n": 1,
        "text": "tab\there, new\nline, return\r, back\\slash, \\N, quote ' and \" and é",
        "data": b"\x00\\x\t\n\xff" * 3,
        "at": datetime(2026, 12, 2, 10, 30, 0, 123456, tzinfo=UTC),
        "ratio": 0.1 + 0.2,
        "flag": True,
    },
    {"n": 2, "text": None, "data": None, "at": None, "ratio": None, "flag": None},
    {
        "n": 3,
        "text": "",
        "data": b"",
        "at": datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=-5))),
        "ratio": -1e-300,
        "flag": False,
    },
]


def test_awkward_rows_come_back_as_they_went_in(engine: Engine, table: Table):
    with engine.begin() as connection:
        insert_rows(connection, table, AWKWARD)
        insert_rows(connection, table, [])  # nothing to do

    with engine.connect() as connection:
        back = [row._asdict() for row in connection.execute(select(table).order_by(table.c.n))]

    assert back == AWKWARD


def test_rows_inserted_in_a_transaction_that_rolls_back_are_gone(engine: Engine, table: Table):
    with pytest.raises(RuntimeError), engine.begin() as connection:
        insert_rows(connection, table, AWKWARD[:1])
        raise RuntimeError("something after the insert failed")

    with engine.connect() as connection:
        assert connection.execute(select(table)).all() == []


def test_a_naive_datetime_is_refused(engine: Engine, table: Table):
    naive = {**AWKWARD[1], "n": 4, "at": datetime(2026, 1, 1)}

    # SQLAlchemy wraps the column type's ValueError on SQLite; COPY's comes as it is.
    refused = (ValueError, StatementError)
    with pytest.raises(refused, match="no time zone"), engine.begin() as connection:
        insert_rows(connection, table, [naive])
