"""Result pages: a retrieve result as numbered pages of sealed rows.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24

`node_results.sealed_rows` stays (nullable) for results written before this revision and by
code that still writes one blob; it is read only as a fallback when a result has no pages.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "result_pages",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("address", sa.String(255), nullable=False),
        sa.Column("page", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "address", "page", name="pk_result_pages"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name="fk_result_pages_request_id_privacy_requests",
            ondelete="CASCADE",
        ),
    )


def downgrade() -> None:
    op.drop_table("result_pages")
