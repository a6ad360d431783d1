"""The migrations build exactly the schema the models describe, on SQLite and on Postgres."""

from __future__ import annotations

import io
import threading
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Engine, Integer, MetaData, inspect, text

from scheduler.db.engine import create_engine_for, create_session_factory
from scheduler.db.models import Base
from scheduler.migrations import alembic_config, upgrade_database
from scheduler.store import Store


def differences(engine: Engine, metadata: MetaData) -> list[Any]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


@pytest.fixture
def empty_engine(database_url: str):
    engine = create_engine_for(database_url)
    yield engine
    engine.dispose()


def test_upgrade_from_empty_creates_every_table(empty_engine: Engine):
    assert inspect(empty_engine).get_table_names() == []

    upgrade_database(empty_engine)

    tables = set(inspect(empty_engine).get_table_names())
    assert tables == {*Base.metadata.tables, "alembic_version"}
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert current_revision(empty_engine) == head


def test_the_models_match_the_migrations(empty_engine: Engine):
    upgrade_database(empty_engine)

    assert differences(empty_engine, Base.metadata) == []


def test_the_comparison_sees_a_model_change(empty_engine: Engine):
    upgrade_database(empty_engine)
    changed = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.tables.values():
        table.to_metadata(changed)
    changed.tables["trainers"].append_column(Column("gpus", Integer, nullable=False))

    found = differences(empty_engine, changed)

    assert [(kind, column.name) for kind, _, table, column in found] == [("add_column", "gpus")]


def test_upgrading_again_changes_nothing(database_url: str):
    upgrade_database(database_url)
    upgrade_database(database_url)

    engine = create_engine_for(database_url)
    try:
        assert differences(engine, Base.metadata) == []
    finally:
        engine.dispose()


def test_schedulers_starting_together_upgrade_once(empty_engine: Engine):
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def upgrade() -> None:
        barrier.wait()
        try:
            upgrade_database(empty_engine.url)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=upgrade) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert differences(empty_engine, Base.metadata) == []


def test_downgrade_to_nothing_removes_every_table(empty_engine: Engine):
    upgrade_database(empty_engine)
    config = alembic_config(empty_engine.url)

    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "base")

    assert inspect(empty_engine).get_table_names() == ["alembic_version"]
    assert current_revision(empty_engine) is None


def test_there_is_one_line_of_migrations():
    script = ScriptDirectory.from_config(alembic_config())

    assert len(script.get_heads()) == 1
    revisions = list(script.walk_revisions())
    assert revisions[-1].down_revision is None


def test_the_upgrade_can_be_written_out_as_sql_for_a_dba():
    buffer = io.StringIO()
    config = alembic_config("postgresql+psycopg2://forge@db.invalid/forge")
    config.output_buffer = buffer

    command.upgrade(config, "head", sql=True)

    sql = buffer.getvalue()
    for table in Base.metadata.tables:
        assert f"CREATE TABLE {table} (" in sql
    assert "TIMESTAMP WITH TIME ZONE" in sql


def test_the_pipeline_catalogue_arrives_and_the_trainers_are_asked_to_register_again(
    empty_engine: Engine,
):
    config = alembic_config(empty_engine.url)
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0005_run_names")
    with empty_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO trainers (id, address, slots, pipelines, registered_at, "
                "last_heartbeat, held_experiments) VALUES ('t1', 'a:1', 1, '[\"digits\"]', "
                ":now, :now, '[]')"
            ),
            {"now": datetime.now(UTC)},
        )

    upgrade_database(empty_engine)

    assert "pipelines" in inspect(empty_engine).get_table_names()
    store = Store(create_session_factory(empty_engine))
    # Its next heartbeat is answered "not registered": it registers again, with its schemas.
    assert store.list_trainers() == []
    assert store.heartbeat("t1").registered is False
    with empty_engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0005_run_names")
    assert "pipelines" not in inspect(empty_engine).get_table_names()
