"""Consent tables (migration 0010), on the schema's one `metadata` (tables.py imports this module).

Subjects appear only as keyed hashes (`subject_hash`, services/identity_lookup.identity_hash).
The ledger (`consent_records` + `consent_entries`) is append-only; `consent_state` is derived
from it. TCF and GPP strings are kept as received (they hold no direct identifier).
"""

from __future__ import annotations

import sqlalchemy as sa

from rightsflow.storage.tables import UtcDateTime, json_column, metadata

_HASH = 64  # hex HMAC-SHA256

# -- Catalogue: purposes and notice versions ---------------------------------------------------
consent_purposes = sa.Table(
    "consent_purposes",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("description", sa.Text(), nullable=False),
    sa.Column("legal_bases", json_column(), nullable=False),  # regime -> basis
    sa.Column("default_basis", sa.String(300), nullable=False),
    sa.Column("gpc", sa.Boolean(), nullable=False),
    sa.Column("essential", sa.Boolean(), nullable=False),
    sa.Column("retired", sa.Boolean(), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

consent_notices = sa.Table(
    "consent_notices",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("version", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("language", sa.String(16), nullable=False),
    sa.Column("text", sa.Text(), nullable=False),
    sa.Column("text_sha256", sa.String(64), nullable=False),
    sa.Column("purposes", json_column(), nullable=False),  # [purpose key, ...]
    sa.Column("published_at", UtcDateTime(), nullable=False),
    sa.Column("published_by", sa.String(200), nullable=False),
)

# -- The ledger ---------------------------------------------------------------------------------
consent_records = sa.Table(
    "consent_records",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("subject_hash", sa.String(_HASH), nullable=False),
    sa.Column("subject_kind", sa.String(16), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("regime", sa.String(16), nullable=False),
    sa.Column("notice_key", sa.String(64), nullable=True),
    sa.Column("notice_version", sa.Integer(), nullable=True),
    sa.Column("gpc", sa.Boolean(), nullable=False),
    sa.Column("tcf", sa.Text(), nullable=True),
    sa.Column("tcf_decoded", json_column(), nullable=True),
    sa.Column("tcf_valid", sa.Boolean(), nullable=True),
    sa.Column("gpp", sa.Text(), nullable=True),
    sa.Column("gpp_decoded", json_column(), nullable=True),
    sa.Column("gpp_valid", sa.Boolean(), nullable=True),
    sa.Column("request_id", sa.String(36), nullable=True),
    sa.Column("linked_from", sa.String(_HASH), nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    # The subject's value, sealed under the record's own data key (vault.seal(record id, ...)),
    # kept only when systems must be told (propagation needs the id they know the person by);
    # destroying that key when the subject is erased leaves the hashes as the proof.
    sa.Column("sealed_subject", sa.LargeBinary(), nullable=True),
    sa.Index(None, "subject_hash", "recorded_at"),
)

consent_entries = sa.Table(
    "consent_entries",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column(
        "record_id",
        sa.String(36),
        sa.ForeignKey("consent_records.id"),
        nullable=False,
    ),
    sa.Column("subject_hash", sa.String(_HASH), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),
    sa.Column("granted", sa.Boolean(), nullable=False),  # what was asked
    sa.Column("effective", sa.Boolean(), nullable=False),  # what the state became
    # The record's source, or gpc for a purpose only the record's GPC signal changed.
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("resolution", sa.String(64), nullable=True),  # why they differ, if they do
    sa.Column("recorded_at", UtcDateTime(), nullable=False),
    sa.Index(None, "subject_hash", "id"),
    sa.Index(None, "record_id"),
)

consent_state = sa.Table(
    "consent_state",
    metadata,
    sa.Column("subject_hash", sa.String(_HASH), primary_key=True),
    sa.Column("purpose", sa.String(64), primary_key=True),
    sa.Column("granted", sa.Boolean(), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("notice_key", sa.String(64), nullable=True),
    sa.Column("notice_version", sa.Integer(), nullable=True),
    sa.Column("entry_id", sa.BigInteger(), nullable=False),
    sa.Column("resolution", sa.String(64), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
)

# A device's (or email's) choices carried to a user when they signed in.
consent_links = sa.Table(
    "consent_links",
    metadata,
    sa.Column("from_hash", sa.String(_HASH), primary_key=True),
    sa.Column("to_hash", sa.String(_HASH), primary_key=True),
    sa.Column("record_id", sa.String(36), nullable=True),
    sa.Column("linked_at", UtcDateTime(), nullable=False),
    sa.Index(None, "to_hash"),
)

# -- Propagation: which systems were told about a record, and what they answered ---------------
consent_deliveries = sa.Table(
    "consent_deliveries",
    metadata,
    sa.Column("record_id", sa.String(36), primary_key=True),
    sa.Column("system", sa.String(128), primary_key=True),
    sa.Column("subject_hash", sa.String(_HASH), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | confirmed | failed
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("receipt", json_column(), nullable=True),  # signed; counts and ids only
    sa.Column("failure", sa.String(500), nullable=True),
    sa.Column("reference", sa.String(200), nullable=True),  # the system's own id for it
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index(None, "subject_hash", "updated_at"),
)

# -- A/B experiments of notices ----------------------------------------------------------------
experiments = sa.Table(
    "experiments",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("key", sa.String(64), nullable=False, unique=True),
    sa.Column("notice_key", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(64), nullable=False),  # the outcome: was it granted?
    sa.Column("variants", json_column(), nullable=False),  # [{name, notice_version, weight}]
    sa.Column("status", sa.String(16), nullable=False),  # draft | running | stopped
    sa.Column("salt", sa.String(64), nullable=False),
    sa.Column("created_by", sa.String(200), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("stopped_at", UtcDateTime(), nullable=True),
)

experiment_assignments = sa.Table(
    "experiment_assignments",
    metadata,
    sa.Column(
        "experiment_id",
        sa.String(36),
        sa.ForeignKey("experiments.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    sa.Column("subject_hash", sa.String(_HASH), primary_key=True),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("assigned_at", UtcDateTime(), nullable=False),
    sa.Index(None, "subject_hash"),
)

experiment_events = sa.Table(
    "experiment_events",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column(
        "experiment_id",
        sa.String(36),
        sa.ForeignKey("experiments.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("subject_hash", sa.String(_HASH), nullable=False),
    sa.Column("variant", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # exposure | outcome
    sa.Column("granted", sa.Boolean(), nullable=True),  # outcomes only
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Index(None, "experiment_id", "kind", "variant"),
    sa.Index(None, "subject_hash"),
)
