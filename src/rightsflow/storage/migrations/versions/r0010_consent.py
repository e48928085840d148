"""Consent: purposes, notice versions, the ledger and its state, links, deliveries, experiments.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-25 00:50:51.900925
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "consent_deliveries",
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("system", sa.String(length=128), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("failure", sa.String(length=500), nullable=True),
        sa.Column("reference", sa.String(length=200), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("record_id", "system", name=op.f("pk_consent_deliveries")),
    )
    with op.batch_alter_table("consent_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_deliveries_subject_hash_updated_at"),
            ["subject_hash", "updated_at"],
            unique=False,
        )

    op.create_table(
        "consent_links",
        sa.Column("from_hash", sa.String(length=64), nullable=False),
        sa.Column("to_hash", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=True),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("from_hash", "to_hash", name=op.f("pk_consent_links")),
    )
    with op.batch_alter_table("consent_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_consent_links_to_hash"), ["to_hash"], unique=False)

    op.create_table(
        "consent_notices",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("language", sa.String(length=16), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("text_sha256", sa.String(length=64), nullable=False),
        sa.Column("purposes", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("published_by", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("key", "version", name=op.f("pk_consent_notices")),
    )
    op.create_table(
        "consent_purposes",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("legal_bases", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("default_basis", sa.String(length=300), nullable=False),
        sa.Column("gpc", sa.Boolean(), nullable=False),
        sa.Column("essential", sa.Boolean(), nullable=False),
        sa.Column("retired", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_consent_purposes")),
    )
    op.create_table(
        "consent_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("subject_kind", sa.String(length=16), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("regime", sa.String(length=16), nullable=False),
        sa.Column("notice_key", sa.String(length=64), nullable=True),
        sa.Column("notice_version", sa.Integer(), nullable=True),
        sa.Column("gpc", sa.Boolean(), nullable=False),
        sa.Column("tcf", sa.Text(), nullable=True),
        sa.Column("tcf_decoded", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("tcf_valid", sa.Boolean(), nullable=True),
        sa.Column("gpp", sa.Text(), nullable=True),
        sa.Column("gpp_decoded", sa.JSON(none_as_null=True), nullable=True),
        sa.Column("gpp_valid", sa.Boolean(), nullable=True),
        sa.Column("request_id", sa.String(length=36), nullable=True),
        sa.Column("linked_from", sa.String(length=64), nullable=True),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sealed_subject", sa.LargeBinary(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_records")),
    )
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_records_subject_hash_recorded_at"),
            ["subject_hash", "recorded_at"],
            unique=False,
        )

    op.create_table(
        "consent_state",
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("notice_key", sa.String(length=64), nullable=True),
        sa.Column("notice_version", sa.Integer(), nullable=True),
        sa.Column("entry_id", sa.BigInteger(), nullable=False),
        sa.Column("resolution", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("subject_hash", "purpose", name=op.f("pk_consent_state")),
    )
    op.create_table(
        "experiments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("notice_key", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("variants", sa.JSON(none_as_null=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("salt", sa.String(length=64), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("stopped_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiments")),
        sa.UniqueConstraint("key", name=op.f("uq_experiments_key")),
    )
    op.create_table(
        "consent_entries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=64), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=False),
        sa.Column("effective", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("resolution", sa.String(length=64), nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["consent_records.id"],
            name=op.f("fk_consent_entries_record_id_consent_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consent_entries")),
    )
    with op.batch_alter_table("consent_entries", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_consent_entries_record_id"), ["record_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_consent_entries_subject_hash_id"), ["subject_hash", "id"], unique=False
        )

    op.create_table(
        "experiment_assignments",
        sa.Column("experiment_id", sa.String(length=36), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_assignments_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "experiment_id", "subject_hash", name=op.f("pk_experiment_assignments")
        ),
    )
    with op.batch_alter_table("experiment_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_experiment_assignments_subject_hash"), ["subject_hash"], unique=False
        )

    op.create_table(
        "experiment_events",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("experiment_id", sa.String(length=36), nullable=False),
        sa.Column("subject_hash", sa.String(length=64), nullable=False),
        sa.Column("variant", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("granted", sa.Boolean(), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["experiment_id"],
            ["experiments.id"],
            name=op.f("fk_experiment_events_experiment_id_experiments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_experiment_events")),
    )
    with op.batch_alter_table("experiment_events", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_experiment_events_experiment_id_kind_variant"),
            ["experiment_id", "kind", "variant"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_experiment_events_subject_hash"), ["subject_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("experiment_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experiment_events_subject_hash"))
        batch_op.drop_index(batch_op.f("ix_experiment_events_experiment_id_kind_variant"))

    op.drop_table("experiment_events")
    with op.batch_alter_table("experiment_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_experiment_assignments_subject_hash"))

    op.drop_table("experiment_assignments")
    with op.batch_alter_table("consent_entries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_entries_subject_hash_id"))
        batch_op.drop_index(batch_op.f("ix_consent_entries_record_id"))

    op.drop_table("consent_entries")
    op.drop_table("experiments")
    op.drop_table("consent_state")
    with op.batch_alter_table("consent_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_records_subject_hash_recorded_at"))

    op.drop_table("consent_records")
    op.drop_table("consent_purposes")
    op.drop_table("consent_notices")
    with op.batch_alter_table("consent_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_links_to_hash"))

    op.drop_table("consent_links")
    with op.batch_alter_table("consent_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_consent_deliveries_subject_hash_updated_at"))

    op.drop_table("consent_deliveries")
