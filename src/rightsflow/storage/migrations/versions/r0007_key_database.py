"""Data keys leave the app database (for the key database); identities get lookup hashes.

`request_keys` is dropped only once it is empty: the composition root moves its rows into the
key database first (storage/key_upgrade.py: copy, commit there, then delete here). A revision
run on its own against a database that still holds keys stops instead of losing them (losing
them would crypto-shred every request at once). Downgrading recreates an empty `request_keys`:
the keys stay in the key database.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    left = op.get_bind().execute(sa.text("SELECT COUNT(*) FROM request_keys")).scalar_one()
    if left:
        raise RuntimeError(
            f"request_keys still holds {left} data keys: start Rightsflow (it moves them to "
            "the key database) instead of running this revision on its own"
        )
    op.drop_table("request_keys")
    op.create_table(
        "identity_hashes",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("request_id", "kind", name="pk_identity_hashes"),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["privacy_requests.id"],
            name="fk_identity_hashes_request_id_privacy_requests",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_identity_hashes_kind_hash", "identity_hashes", ["kind", "hash"])


def downgrade() -> None:
    op.drop_index("ix_identity_hashes_kind_hash", table_name="identity_hashes")
    op.drop_table("identity_hashes")
    op.create_table(
        "request_keys",
        sa.Column("request_id", sa.String(36), nullable=False),
        sa.Column("wrapped_key", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("request_id", name="pk_request_keys"),
    )
