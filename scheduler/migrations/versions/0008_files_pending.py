"""Files after the end: an experiment whose run ended before its files all arrived.

Revision ID: 0008_files_pending
Revises: 0007_sweeps
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_files_pending"
down_revision = "0007_sweeps"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(
            sa.Column("files_pending", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("experiments") as batch:
        batch.alter_column("files_pending", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("files_pending")
