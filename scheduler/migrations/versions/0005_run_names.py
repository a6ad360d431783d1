"""Run names: what an experiment's owner calls it, empty for the experiments before.

Revision ID: 0005_run_names
Revises: 0004
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_run_names"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(
            sa.Column("name", sa.String(length=100), nullable=False, server_default="")
        )
    with op.batch_alter_table("experiments") as batch:
        batch.alter_column("name", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("name")
