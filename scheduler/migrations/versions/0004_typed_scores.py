"""Typed scores: each finished experiment's baselines and reference models, by name.

They used to travel flattened into `metrics` as `baseline_<name>_<metric>`, which could not be
split back where a name held an underscore; experiments stored before keep them there.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(sa.Column("baselines", sa.JSON(), nullable=False, server_default="{}"))
        batch.add_column(sa.Column("references", sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("experiments") as batch:
        batch.alter_column("baselines", server_default=None)
        batch.alter_column("references", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("references")
        batch.drop_column("baselines")
