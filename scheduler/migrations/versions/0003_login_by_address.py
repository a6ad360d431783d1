"""Login throttling by client address: failures per username and address, and per address.

The failure counts are kept for an hour at most, so the old table is replaced rather than
converted: upgrading forgets the failures of the last hour, as a restart of the counts would.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-08
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_table("login_failures")
    op.create_table(
        "login_failures",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", "address", name=op.f("pk_login_failures")),
    )
    op.create_index(
        op.f("ix_login_failures_last_failure_at"), "login_failures", ["last_failure_at"]
    )
    op.create_table(
        "address_login_failures",
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_address_login_failures")),
    )
    op.create_index(
        op.f("ix_address_login_failures_last_failure_at"),
        "address_login_failures",
        ["last_failure_at"],
    )


def downgrade() -> None:
    op.drop_table("address_login_failures")
    op.drop_table("login_failures")
    op.create_table(
        "login_failures",
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("username", name=op.f("pk_login_failures")),
    )
    op.create_index(
        op.f("ix_login_failures_last_failure_at"), "login_failures", ["last_failure_at"]
    )
