"""Data Rights Protocol: pair-wise agent tokens, seen messages (replays), agent requests.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "drp_agents",
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("drp_version", sa.String(16), nullable=False),
        _when("paired_at"),
        sa.PrimaryKeyConstraint("agent_id", name="pk_drp_agents"),
        sa.UniqueConstraint("token_hash", name="uq_drp_agents_token_hash"),
    )
    op.create_table(
        "drp_messages",
        sa.Column("digest", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=False),
        _when("expires_at"),
        sa.PrimaryKeyConstraint("digest", name="pk_drp_messages"),
    )
    op.create_index("ix_drp_messages_expires_at", "drp_messages", ["expires_at"])
    op.create_table(
        "drp_requests",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("agent_id", sa.String(128), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("regime_given", sa.String(32), nullable=True),
        sa.Column("agent_request_id", sa.String(255), nullable=True),
        sa.Column("status_callback", sa.Text(), nullable=True),
        _when("created_at"),
        sa.Column("notified", sa.String(64), nullable=True),
        _when("notified_at", nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_drp_requests"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name="fk_drp_requests_request_id_privacy_requests",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_drp_requests_agent_id", "drp_requests", ["agent_id"])


def downgrade() -> None:
    op.drop_index("ix_drp_requests_agent_id", table_name="drp_requests")
    op.drop_table("drp_requests")
    op.drop_index("ix_drp_messages_expires_at", table_name="drp_messages")
    op.drop_table("drp_messages")
    op.drop_table("drp_agents")
