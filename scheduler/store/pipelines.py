"""The pipeline catalogue: what trainers announced they run, and the schema each announced.

A trainer announces its pipelines, with their config schemas, every time it registers; the
latest announcement of a name wins, whichever trainer and whichever scheduler received it. The
rows stay when the trainers go, so that a submission of a pipeline whose trainers are all down
is still checked (and then waits); which pipelines can run now is the live trainers' lists.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from scheduler.db.models import PipelineRow
from scheduler.records import PipelineRecord
from scheduler.store.session import Repository


class Pipelines(Repository):
    """The pipeline catalogue, part of `Store`."""

    def announce_pipelines(self, pipelines: Sequence[PipelineRecord], *, by: str) -> None:
        """Keep `pipelines` as trainer `by` announced them, replacing earlier announcements.

        `register_trainer` does this in the same transaction as the registration; alone, it
        announces pipelines with no trainer to run them yet.
        """
        with self._writing() as session:
            record_announcement(session, pipelines, by, self.now())

    def announced_pipeline(self, name: str) -> PipelineRecord | None:
        """The pipeline called `name` as last announced, or None if no trainer ever did."""
        with self._reading() as session:
            row = session.get(PipelineRow, name)
            return None if row is None else _record(row)

    def announced_pipelines(self, names: Collection[str] | None = None) -> list[PipelineRecord]:
        """Every announced pipeline (only those in `names`, if given), by name."""
        query = select(PipelineRow).order_by(PipelineRow.name)
        if names is not None:
            query = query.where(PipelineRow.name.in_(sorted(set(names))))
        with self._reading() as session:
            return [_record(row) for row in session.scalars(query)]


def record_announcement(
    session: Session, pipelines: Sequence[PipelineRecord], by: str, now: datetime
) -> None:
    """Insert or replace each pipeline's row, in one statement per pipeline.

    An upsert, not a read then a write: two schedulers on one Postgres may store the same
    pipeline at once, and a plain insert would fail for one of them. In name order, so that
    two transactions announcing the same pipelines lock their rows in the same order.
    """
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for pipeline in sorted(pipelines, key=lambda pipeline: pipeline.name):
        values = {
            "summary": pipeline.summary,
            "config_schema": pipeline.config_schema,
            "announced_at": now,
            "announced_by": by,
        }
        statement = insert(PipelineRow).values(name=pipeline.name, **values)
        session.execute(
            statement.on_conflict_do_update(index_elements=[PipelineRow.name], set_=values)
        )


def _record(row: PipelineRow) -> PipelineRecord:
    return PipelineRecord(row.name, row.summary, dict(row.config_schema))
