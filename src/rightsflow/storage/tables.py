"""The app database schema (SQLAlchemy Core). Migrations must match it; a test checks that.

Kinds, statuses and regimes are plain strings validated by the domain, never database enums, so
adding a value never needs a migration. Personal data is only ever stored sealed (encrypted).
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION: dict[str, str] = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC; always read back as an aware UTC datetime.

    SQLite has no timezone support: values are stored as naive UTC text (which sorts correctly)
    and get their tzinfo back on read. Naive values are refused rather than guessed at.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("naive datetime: storage needs timezone-aware datetimes")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, _dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def json_column() -> sa.JSON:
    return sa.JSON(none_as_null=True)


def request_ref(*, primary_key: bool = False) -> sa.Column[str]:
    """The `request_id` of a row that belongs to a request and goes when the request goes
    (the retention purge finds such tables by this foreign key)."""
    return sa.Column(
        "request_id",
        sa.String(36),
        sa.ForeignKey("privacy_requests.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


privacy_requests = sa.Table(
    "privacy_requests",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("type", sa.String(32), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("regime", sa.String(64), nullable=False),
    sa.Column("policy_key", sa.String(128), nullable=False),
    sa.Column("received_at", UtcDateTime(), nullable=False),
    sa.Column("due_at", UtcDateTime(), nullable=False),
    sa.Column("completed_at", UtcDateTime(), nullable=True),
    sa.Column("failure_reason", sa.Text(), nullable=True),  # no personal data, ever
    sa.Column("attempt", sa.Integer(), nullable=False),
    # sha256 hex of the client's key; the raw key is never stored
    sa.Column("idempotency_key", sa.String(64), nullable=True, unique=True),
    sa.Column("identity_types", json_column(), nullable=False),
    sa.Column("sealed_identities", sa.LargeBinary(), nullable=False),
    sa.Column("plan", json_column(), nullable=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    # Lifecycle (revision 0004): times, actors and reason codes, never personal data.
    sa.Column("source", sa.String(160), nullable=False, server_default="api"),
    sa.Column("clock_started_at", UtcDateTime(), nullable=True),
    sa.Column("paused_since", UtcDateTime(), nullable=True),
    sa.Column("acknowledge_by", UtcDateTime(), nullable=True),
    sa.Column("acknowledged_at", UtcDateTime(), nullable=True),
    sa.Column("verify_by", UtcDateTime(), nullable=True),
    sa.Column("verified_at", UtcDateTime(), nullable=True),
    sa.Column("decided_at", UtcDateTime(), nullable=True),
    sa.Column("decided_by", sa.String(160), nullable=True),
    sa.Column("denial_reason", sa.String(64), nullable=True),
    sa.Column("extended_at", UtcDateTime(), nullable=True),
    sa.Column("extension_reason", sa.Text(), nullable=True),
    sa.Column("closed_at", UtcDateTime(), nullable=True),
    sa.Column("deadline_notices", json_column(), nullable=True),
    sa.Index(None, "received_at", "id"),
    sa.Index(None, "status"),
    sa.Index(None, "due_at"),
)

node_results = sa.Table(
    "node_results",
    metadata,
    request_ref(primary_key=True),
    sa.Column("address", sa.String(255), primary_key=True),
    sa.Column("phase", sa.String(16), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("rows_found", sa.Integer(), nullable=False),
    sa.Column("rows_masked", sa.Integer(), nullable=False),
    sa.Column("rows_deleted", sa.Integer(), nullable=False),
    sa.Column("rows_changed", sa.Integer(), nullable=False),
    sa.Column("remaining", sa.Integer(), nullable=False),
    sa.Column("detail", sa.Text(), nullable=True),
    # Legacy: the whole retrieve result in one sealed blob (revision 0001). Kept while the
    # execution still writes it; new code writes result_pages and reads this only as a fallback.
    sa.Column("sealed_rows", sa.LargeBinary(), nullable=True),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Column("evidence", json_column(), nullable=True),  # file names, snapshot ids; never values
)

# A retrieve result in pages of sealed rows, so no step ever holds a whole collection in memory.
result_pages = sa.Table(
    "result_pages",
    metadata,
    request_ref(primary_key=True),
    sa.Column("address", sa.String(255), primary_key=True),
    sa.Column("page", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("row_count", sa.Integer(), nullable=False),
    sa.Column("sealed", sa.LargeBinary(), nullable=False),
)

# Questions put to systems that answer for themselves (services, people), one per request,
# system and operation; the callback or attestation token is kept as a sha256 hash.
system_calls = sa.Table(
    "system_calls",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    request_ref(),
    sa.Column("system", sa.String(255), nullable=False),
    sa.Column("operation", sa.String(16), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("issued_at", UtcDateTime(), nullable=False),
    sa.Column("due_at", UtcDateTime(), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=True, unique=True),
    sa.Column("assignee", sa.String(255), nullable=True),
    sa.Column("answered_at", UtcDateTime(), nullable=True),
    sa.Column("actor", sa.String(255), nullable=True),
    sa.Column("outcome", sa.String(32), nullable=True),
    sa.Column("detail", sa.Text(), nullable=True),
    sa.Column("counts", json_column(), nullable=False),
    sa.Column("reminders", sa.Integer(), nullable=False),
    sa.UniqueConstraint("request_id", "system", "operation"),
    sa.Index(None, "status", "assignee"),
)

# Identity verification challenges (one per request): the code is kept only as a keyed hash.
verifications = sa.Table(
    "verifications",
    metadata,
    request_ref(primary_key=True),
    sa.Column("method", sa.String(32), nullable=False),
    sa.Column("code_hash", sa.String(64), nullable=True),
    sa.Column("issued_at", UtcDateTime(), nullable=True),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("sends", sa.Integer(), nullable=False),
    sa.Column("next_send_at", UtcDateTime(), nullable=True),
    sa.Column("locked_at", UtcDateTime(), nullable=True),
    sa.Column("verified_at", UtcDateTime(), nullable=True),
)

# The per-request data keys live in the key database (storage/key_store.py), not here.
# Identities are found by a keyed hash (vault.lookup_hash of "identity:<kind>:<value>"), never
# stored in plain text: "the requests of alice@x" without anyone reading the sealed identities.
identity_hashes = sa.Table(
    "identity_hashes",
    metadata,
    request_ref(primary_key=True),
    sa.Column("kind", sa.String(64), primary_key=True),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.Index(None, "kind", "hash"),
)

# No foreign key on purpose: the audit trail outlives the request rows it describes.
audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("request_id", sa.String(36), nullable=False, index=True),
    sa.Column("action", sa.String(64), nullable=False),
    sa.Column("at", UtcDateTime(), nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("from_status", sa.String(32), nullable=True),
    sa.Column("to_status", sa.String(32), nullable=True),
    sa.Column("detail", json_column(), nullable=False),
    # Hash chain (revision 0004): each event carries the previous event's hash and its own.
    # Events written before 0004 have neither; they can only form a prefix of the trail.
    sa.Column("prev_hash", sa.String(64), nullable=True),
    sa.Column("hash", sa.String(64), nullable=True),
    sa.Index(None, "actor"),
    sa.Index(None, "at"),
)

api_tokens = sa.Table(
    "api_tokens",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),  # sha256 hex
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)


# Who may use the API: OAuth2 clients with hashed secrets, people with their role and argon2
# password hash, console sessions (a hash of the cookie only). Nothing here can log anyone in.
oauth_clients = sa.Table(
    "oauth_clients",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),  # the client_id
    sa.Column("name", sa.String(128), nullable=False),
    sa.Column("scopes", sa.JSON(), nullable=False),  # list of scope names
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),  # the actor
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)

# A client has one or two live secrets: rotation adds a new one and gives the old one a grace
# period (expires_at), so services switch over without downtime.
client_secrets = sa.Table(
    "client_secrets",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column(
        "client_id",
        sa.String(64),
        sa.ForeignKey("oauth_clients.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("secret_hash", sa.String(255), nullable=False, unique=True),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=True),
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("login", sa.String(254), nullable=False, unique=True),  # a staff email, lowercased
    sa.Column("role", sa.String(32), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),  # argon2id, with its parameters
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("created_by", sa.String(128), nullable=False),
    sa.Column("password_changed_at", UtcDateTime(), nullable=False),
    sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("locked_until", UtcDateTime(), nullable=True),
    sa.Column("disabled_at", UtcDateTime(), nullable=True),
)

console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id_hash", sa.String(64), primary_key=True),  # sha256 hex of the cookie value
    sa.Column(
        "user_id",
        sa.String(36),
        sa.ForeignKey("users.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    sa.Column("csrf_hash", sa.String(64), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("last_seen_at", UtcDateTime(), nullable=False),
    sa.Column("expires_at", UtcDateTime(), nullable=False),  # absolute limit; idle is separate
    sa.Column("revoked_at", UtcDateTime(), nullable=True),
)


# Bulk jobs (revision 0008): one file of identities run as chunks. The identities are sealed
# under the job's own data key (its id stands for a request id in the key database), so
# destroying that key shreds the job; everything in the clear is counts, statuses and actors.
bulk_jobs = sa.Table(
    "bulk_jobs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("kind", sa.String(16), nullable=False),
    sa.Column("policy_key", sa.String(128), nullable=False),
    sa.Column("regime", sa.String(64), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("created_by", sa.String(160), nullable=False),
    sa.Column("created_at", UtcDateTime(), nullable=False),
    sa.Column("accepted_at", UtcDateTime(), nullable=True),  # None: the intake is not done
    sa.Column("started_at", UtcDateTime(), nullable=True),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("failure_reason", sa.Text(), nullable=True),  # no personal data, ever
    sa.Column("identity_types", json_column(), nullable=False),
    sa.Column("plan", json_column(), nullable=True),
    sa.Column("chunk_size", sa.Integer(), nullable=False),
    sa.Column("subjects_total", sa.Integer(), nullable=False),
    sa.Column("duplicates", sa.Integer(), nullable=False),
    sa.Column("subjects_done", sa.Integer(), nullable=False),
    sa.Column("subjects_failed", sa.Integer(), nullable=False),
    sa.Column("rows_found", sa.BigInteger(), nullable=False),
    sa.Column("rows_written", sa.BigInteger(), nullable=False),
    sa.Column("chunks_total", sa.Integer(), nullable=False),
    sa.Column("chunks_done", sa.Integer(), nullable=False),
    sa.Column("updated_at", UtcDateTime(), nullable=False),
    sa.Index(None, "created_at", "id"),
    sa.Index(None, "status"),
)


def bulk_job_ref(*, primary_key: bool = False) -> sa.Column[str]:
    return sa.Column(
        "job_id",
        sa.String(36),
        sa.ForeignKey("bulk_jobs.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


bulk_chunks = sa.Table(
    "bulk_chunks",
    metadata,
    bulk_job_ref(primary_key=True),
    sa.Column("chunk_no", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("subjects", sa.Integer(), nullable=False),
    sa.Column("sealed", sa.LargeBinary(), nullable=False),  # [[seq, identities], ...]
    sa.Column("status", sa.String(16), nullable=False),  # pending | done
    sa.Column("done_at", UtcDateTime(), nullable=True),
    sa.Column("subjects_failed", sa.Integer(), nullable=False),
    sa.Column("rows_found", sa.BigInteger(), nullable=False),
    sa.Column("rows_written", sa.BigInteger(), nullable=False),
)

# One row per subject once its chunk ran: counts per collection and a problem (a collection
# and a reason), never identities; an access job's rows for the subject are kept sealed.
bulk_subjects = sa.Table(
    "bulk_subjects",
    metadata,
    bulk_job_ref(primary_key=True),
    sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
    sa.Column("chunk_no", sa.Integer(), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # done | failed
    sa.Column("counts", json_column(), nullable=False),
    sa.Column("problem", sa.Text(), nullable=True),
    sa.Column("sealed_rows", sa.LargeBinary(), nullable=True),
    sa.Column("done_at", UtcDateTime(), nullable=False),
    sa.Index(None, "job_id", "status", "seq"),
)


def utcnow() -> datetime:
    """Wall clock for bookkeeping columns (created_at/updated_at) only."""
    return datetime.now(UTC)


# Reports of retention sweep runs (migration 0009): counts only, see sweep_repository.py.
sweep_runs = sa.Table(
    "sweep_runs",
    metadata,
    sa.Column("id", sa.String(36), primary_key=True),
    sa.Column("rule", sa.String(64), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("dry_run", sa.Boolean(), nullable=False),
    sa.Column("cutoff", UtcDateTime(), nullable=False),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("started_at", UtcDateTime(), nullable=False),
    sa.Column("finished_at", UtcDateTime(), nullable=True),
    sa.Column("failure", sa.String(500), nullable=True),
    sa.Index(None, "rule", "started_at"),
)

sweep_run_collections = sa.Table(
    "sweep_run_collections",
    metadata,
    sa.Column(
        "run_id", sa.String(36), sa.ForeignKey("sweep_runs.id", ondelete="CASCADE"), nullable=False
    ),
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("address", sa.String(300), nullable=False),
    sa.Column("matched", sa.BigInteger(), nullable=False),
    sa.Column("deleted", sa.BigInteger(), nullable=False),
    sa.Column("masked", sa.BigInteger(), nullable=False),
    sa.Column("done", sa.Boolean(), nullable=False),
    sa.Column("reason", sa.String(500), nullable=True),
    sa.Column("cursor", sa.LargeBinary(), nullable=True),
    sa.PrimaryKeyConstraint("run_id", "address"),
)


# The consent tables (migration 0010) live in their own module on the same `metadata`; importing
# it here registers them, so Alembic and the schema test see one complete schema.
from rightsflow.storage import consent_tables  # noqa: E402, F401
