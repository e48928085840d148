"""Retention sweeps: a report per run and per collection (counts only).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sweep_runs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("cutoff", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("failure", sa.String(500), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_sweep_runs"),
    )
    op.create_index("ix_sweep_runs_rule_started_at", "sweep_runs", ["rule", "started_at"])
    op.create_table(
        "sweep_run_collections",
        sa.Column("run_id", sa.String(36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("matched", sa.BigInteger(), nullable=False),
        sa.Column("deleted", sa.BigInteger(), nullable=False),
        sa.Column("masked", sa.BigInteger(), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("cursor", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("run_id", "address", name="pk_sweep_run_collections"),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["sweep_runs.id"],
            name="fk_sweep_run_collections_run_id_sweep_runs",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("sweep_run_collections")
    op.drop_index("ix_sweep_runs_rule_started_at", table_name="sweep_runs")
    op.drop_table("sweep_runs")
