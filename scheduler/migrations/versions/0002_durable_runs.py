"""Durable runs: each experiment's restart budget and attempts, and its latest checkpoint.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("experiments") as batch:
        batch.add_column(
            sa.Column("max_restarts", sa.Integer(), nullable=False, server_default="3")
        )
        batch.add_column(sa.Column("attempts", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("experiments") as batch:
        batch.alter_column("max_restarts", server_default=None)
        batch.alter_column("attempts", server_default=None)
    op.create_table(
        "checkpoints",
        sa.Column("experiment_id", sa.String(length=36), nullable=False),
        sa.Column("epoch", sa.Integer(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("stored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_checkpoints_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("experiment_id", name=op.f("pk_checkpoints")),
    )


def downgrade() -> None:
    op.drop_table("checkpoints")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("attempts")
        batch.drop_column("max_restarts")
