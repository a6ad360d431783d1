"""Alembic migrations of the scheduler's database, run from code: no `alembic.ini` needed.

The scheduler calls `upgrade_database(url)` at start, so a new install gets its tables and an
old one its changes, on SQLite and on Postgres alike. Several schedulers starting at once on one
Postgres take turns: the upgrade runs under a transaction-scoped advisory lock, and on SQLite
under the write lock that `BEGIN IMMEDIATE` takes.

To write the next migration, change `scheduler/db/models.py` and let Alembic compare it with an
up-to-date database:

    from alembic import command
    from scheduler.migrations import alembic_config
    config = alembic_config("sqlite:///var/forge.db")
    command.revision(config, "what changed", autogenerate=True, rev_id="0002")

then read and edit the new file in `scheduler/migrations/versions/` and run `make format`.
A DBA who wants the SQL instead of an upgrade gets it from
`command.upgrade(alembic_config(url), "head", sql=True)`.
`tests/scheduler/test_migrations.py` fails while the models and the migrations disagree.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL

from scheduler.db.engine import WRITE, create_engine_for

MIGRATIONS_DIR = Path(__file__).resolve().parent
# Any constant shared by every scheduler works; this one spells "forgemig" in ASCII.
ADVISORY_LOCK_ID = 0x666F7267656D6967


def alembic_config(url: str | URL | None = None) -> Config:
    """Alembic's configuration for these migrations, with `url` as the database to work on."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # Not a main option: ConfigParser would read a '%' in the URL as interpolation.
    config.attributes["url"] = url
    return config


def upgrade_database(database: str | URL | Engine) -> None:
    """Bring the database at `database` (a URL or an engine) to the newest schema."""
    engine = database if isinstance(database, Engine) else create_engine_for(database)
    try:
        with engine.connect() as connection:
            connection = connection.execution_options(**{WRITE: True})
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:id)"), {"id": ADVISORY_LOCK_ID}
                    )
                config = alembic_config(engine.url)
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
    finally:
        if engine is not database:
            engine.dispose()
