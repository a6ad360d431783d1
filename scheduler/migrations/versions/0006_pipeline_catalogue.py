"""The pipeline catalogue: each pipeline trainers announced, with its config's JSON Schema.

The scheduler stops importing pipelines: trainers send their schemas when they register, and
submissions are checked against the latest one announced. A trainer registered before the
upgrade announced names only, and its heartbeats would keep it registered without a schema, so
the upgrade forgets every trainer: at its next heartbeat each is told so and registers again,
with its schemas and the runs it holds, which the scheduler re-attaches to as after any
restart. Until then a submission of its pipelines is refused as unknown.

Revision ID: 0006_pipeline_catalogue
Revises: 0005_run_names
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_pipeline_catalogue"
down_revision = "0005_run_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipelines",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("config_schema", sa.JSON(), nullable=False),
        sa.Column("announced_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("announced_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_pipelines")),
    )
    op.execute(sa.text("DELETE FROM trainers"))


def downgrade() -> None:
    op.drop_table("pipelines")
