"""System calls (services and manual tasks that answer for themselves) and write evidence.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("node_results") as batch:
        batch.add_column(sa.Column("evidence", sa.JSON(none_as_null=True), nullable=True))
    op.create_table(
        "system_calls",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("system", sa.String(255), nullable=False),
        sa.Column("operation", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=True),
        sa.Column("assignee", sa.String(255), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("actor", sa.String(255), nullable=True),
        sa.Column("outcome", sa.String(32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("counts", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_system_calls"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name="fk_system_calls_request_id_privacy_requests",
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "request_id", "system", "operation", name="uq_system_calls_request_id_system_operation"
        ),
        sa.UniqueConstraint("token_hash", name="uq_system_calls_token_hash"),
    )
    op.create_index("ix_system_calls_status_assignee", "system_calls", ["status", "assignee"])


def downgrade() -> None:
    op.drop_index("ix_system_calls_status_assignee", table_name="system_calls")
    op.drop_table("system_calls")
    with op.batch_alter_table("node_results") as batch:
        batch.drop_column("evidence")
