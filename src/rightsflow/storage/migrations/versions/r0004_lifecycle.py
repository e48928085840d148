"""Request lifecycle: deadlines, verification, decisions; data keys per request; audit chain.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = (
    "clock_started_at",
    "paused_since",
    "acknowledge_by",
    "acknowledged_at",
    "verify_by",
    "verified_at",
    "decided_at",
    "extended_at",
    "closed_at",
)


def _when(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def upgrade() -> None:
    with op.batch_alter_table("privacy_requests") as batch:
        batch.add_column(sa.Column("source", sa.String(160), nullable=False, server_default="api"))
        for name in _WHEN:
            batch.add_column(_when(name))
        batch.add_column(sa.Column("decided_by", sa.String(160), nullable=True))
        batch.add_column(sa.Column("denial_reason", sa.String(64), nullable=True))
        batch.add_column(sa.Column("extension_reason", sa.Text(), nullable=True))
        batch.add_column(sa.Column("deadline_notices", sa.JSON(none_as_null=True), nullable=True))
        batch.create_index("ix_privacy_requests_due_at", ["due_at"])
    op.create_table(
        "verifications",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("next_send_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("request_id", name="pk_verifications"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name="fk_verifications_request_id_privacy_requests",
            ondelete="CASCADE",
        ),
    )
    op.create_table(
        "request_keys",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_request_keys"),
    )
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("prev_hash", sa.String(64), nullable=True))
        batch.add_column(sa.Column("hash", sa.String(64), nullable=True))
        batch.create_index("ix_audit_events_actor", ["actor"])
        batch.create_index("ix_audit_events_at", ["at"])


def downgrade() -> None:
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_index("ix_audit_events_at")
        batch.drop_index("ix_audit_events_actor")
        batch.drop_column("hash")
        batch.drop_column("prev_hash")
    op.drop_table("request_keys")
    op.drop_table("verifications")
    # Never recreate privacy_requests: on SQLite, dropping the old copy would cascade to every
    # table that references it. Plain ALTER TABLE DROP COLUMN (SQLite 3.35+) keeps the rows.
    with op.batch_alter_table("privacy_requests", recreate="never") as batch:
        batch.drop_index("ix_privacy_requests_due_at")
        for name in ("deadline_notices", "extension_reason", "denial_reason", "decided_by"):
            batch.drop_column(name)
        for name in reversed(_WHEN):
            batch.drop_column(name)
        batch.drop_column("source")
