"""Durable runs: restarts, attempts, checkpoints, stream positions, leases, schedulers.

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
        batch.add_column(
            sa.Column("stream_position", sa.BigInteger(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("scheduler_id", sa.String(length=200), nullable=True))
        batch.add_column(sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("experiments") as batch:
        batch.alter_column("max_restarts", server_default=None)
        batch.alter_column("attempts", server_default=None)
        batch.alter_column("stream_position", server_default=None)
    with op.batch_alter_table("trainers") as batch:
        batch.add_column(
            sa.Column("held_experiments", sa.JSON(), nullable=False, server_default="[]")
        )
    with op.batch_alter_table("trainers") as batch:
        batch.alter_column("held_experiments", server_default=None)
    op.create_table(
        "schedulers",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=255), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_heartbeat", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_schedulers")),
    )
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
    op.drop_table("schedulers")
    with op.batch_alter_table("trainers") as batch:
        batch.drop_column("held_experiments")
    op.drop_table("checkpoints")
    with op.batch_alter_table("experiments") as batch:
        batch.drop_column("lease_expires_at")
        batch.drop_column("scheduler_id")
        batch.drop_column("stream_position")
        batch.drop_column("attempts")
        batch.drop_column("max_restarts")
