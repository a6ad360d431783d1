"""Alembic's entry point: runs the migrations on the connection `upgrade_database` hands over.

Called with only a URL (as by `command.revision(..., autogenerate=True)`), it opens its own
connection through `create_engine_for`, so SQLite gets the same settings as in the scheduler.
"""

from __future__ import annotations

from typing import Any, Literal

from alembic import context
from alembic.autogenerate.api import AutogenContext
from sqlalchemy import Connection

from scheduler.db.engine import WRITE, create_engine_for
from scheduler.db.models import Base, UTCDateTime


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Write the models' UTC type as the plain type it stores, so migrations import no models."""
    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_on(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_item=render_item,
        # SQLite changes tables by copying them; this makes autogenerate write it that way.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    config = context.config
    connection: Connection | None = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
        return
    url = config.attributes.get("url")
    if url is None:
        raise RuntimeError("Call scheduler.migrations.alembic_config(url) to say which database.")
    if context.is_offline_mode():
        context.configure(url=url, target_metadata=Base.metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine_for(url)
    try:
        with engine.connect() as own_connection:
            run_on(own_connection.execution_options(**{WRITE: True}))
            own_connection.commit()
    finally:
        engine.dispose()


main()
