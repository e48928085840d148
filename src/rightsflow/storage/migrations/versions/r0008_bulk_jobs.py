"""Bulk jobs: the job, its chunks of sealed identities, and one outcome row per subject.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _when(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _count(name: str, big: bool = False) -> sa.Column[int]:
    return sa.Column(name, sa.BigInteger() if big else sa.Integer(), nullable=False)


def _job_ref(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["job_id"], ["bulk_jobs.id"], name=f"fk_{table}_job_id_bulk_jobs", ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "bulk_jobs",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("policy_key", sa.String(128), nullable=False),
        sa.Column("regime", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_by", sa.String(160), nullable=False),
        _when("created_at"),
        _when("accepted_at", nullable=True),
        _when("started_at", nullable=True),
        _when("finished_at", nullable=True),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("identity_types", sa.JSON(), nullable=False),
        sa.Column("plan", sa.JSON(), nullable=True),
        _count("chunk_size"),
        _count("subjects_total"),
        _count("duplicates"),
        _count("subjects_done"),
        _count("subjects_failed"),
        _count("rows_found", big=True),
        _count("rows_written", big=True),
        _count("chunks_total"),
        _count("chunks_done"),
        _when("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_bulk_jobs"),
    )
    op.create_index("ix_bulk_jobs_created_at_id", "bulk_jobs", ["created_at", "id"])
    op.create_index("ix_bulk_jobs_status", "bulk_jobs", ["status"])
    op.create_table(
        "bulk_chunks",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("chunk_no", sa.Integer(), autoincrement=False, nullable=False),
        _count("subjects"),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _when("done_at", nullable=True),
        _count("subjects_failed"),
        _count("rows_found", big=True),
        _count("rows_written", big=True),
        sa.PrimaryKeyConstraint("job_id", "chunk_no", name="pk_bulk_chunks"),
        _job_ref("bulk_chunks"),
    )
    op.create_table(
        "bulk_subjects",
        sa.Column("job_id", sa.String(36), nullable=False),
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("chunk_no", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("problem", sa.Text(), nullable=True),
        sa.Column("sealed_rows", sa.LargeBinary(), nullable=True),
        _when("done_at"),
        sa.PrimaryKeyConstraint("job_id", "seq", name="pk_bulk_subjects"),
        _job_ref("bulk_subjects"),
    )
    op.create_index(
        "ix_bulk_subjects_job_id_status_seq", "bulk_subjects", ["job_id", "status", "seq"]
    )


def downgrade() -> None:
    op.drop_index("ix_bulk_subjects_job_id_status_seq", table_name="bulk_subjects")
    op.drop_table("bulk_subjects")
    op.drop_table("bulk_chunks")
    op.drop_index("ix_bulk_jobs_status", table_name="bulk_jobs")
    op.drop_index("ix_bulk_jobs_created_at_id", table_name="bulk_jobs")
    op.drop_table("bulk_jobs")
