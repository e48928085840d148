"""Initial schema: privacy requests, node results, audit events, API tokens.

Revision ID: 0001
Revises:
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _at(name: str, *, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _create_privacy_requests()
    _create_node_results()
    _create_audit_events()
    _create_api_tokens()


def _create_privacy_requests() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("regime", sa.String(64), nullable=False),
        sa.Column("policy_key", sa.String(128), nullable=False),
        _at("received_at"),
        _at("due_at"),
        _at("completed_at", nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=True),
        sa.Column("identity_types", sa.JSON(), nullable=False),
        sa.Column("sealed_identities", sa.LargeBinary(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        _at("created_at"),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_privacy_requests"),
        sa.UniqueConstraint("idempotency_key", name="uq_privacy_requests_idempotency_key"),
    )
    op.create_index("ix_privacy_requests_received_at_id", "privacy_requests", ["received_at", "id"])
    op.create_index("ix_privacy_requests_status", "privacy_requests", ["status"])


def _create_node_results() -> None:
    op.create_table(
        "node_results",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("rows_found", sa.Integer(), nullable=False),
        sa.Column("rows_masked", sa.Integer(), nullable=False),
        sa.Column("rows_deleted", sa.Integer(), nullable=False),
        sa.Column("rows_changed", sa.Integer(), nullable=False),
        sa.Column("remaining", sa.Integer(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("sealed_rows", sa.LargeBinary(), nullable=True),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("request_id", "address", "phase", name="pk_node_results"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name="fk_node_results_request_id_privacy_requests",
            ondelete="CASCADE",
        ),
    )


def _create_audit_events() -> None:
    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        _at("at"),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("from_status", sa.String(32), nullable=True),
        sa.Column("to_status", sa.String(32), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index("ix_audit_events_request_id", "audit_events", ["request_id"])


def _create_api_tokens() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        _at("created_at"),
        _at("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_api_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_api_tokens_token_hash"),
    )


def downgrade() -> None:
    op.drop_table("api_tokens")
    op.drop_index("ix_audit_events_request_id", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_table("node_results")
    op.drop_index("ix_privacy_requests_status", table_name="privacy_requests")
    op.drop_index("ix_privacy_requests_received_at_id", table_name="privacy_requests")
    op.drop_table("privacy_requests")
