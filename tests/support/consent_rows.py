"""Consent rows written straight into the tables (the read side's contract), for read tests
that must not depend on the ledger's write path."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from rightsflow.storage.consent_tables import (
    consent_deliveries,
    consent_purposes,
    consent_records,
    consent_state,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def put_state(
    engine: sa.Engine,
    subject_hash: str,
    purpose: str,
    granted: bool,
    when: datetime,
    *,
    source: str = "banner",
    notice: tuple[str, int] | None = None,
    resolution: str | None = None,
) -> None:
    """Insert or replace one purpose's state (as the ledger's materialisation would)."""
    row = {
        "subject_hash": subject_hash,
        "purpose": purpose,
        "granted": granted,
        "source": source,
        "notice_key": notice[0] if notice else None,
        "notice_version": notice[1] if notice else None,
        "entry_id": int(when.timestamp()),
        "resolution": resolution,
        "updated_at": when,
    }
    s = consent_state.c
    with engine.begin() as conn:
        conn.execute(
            consent_state.delete().where(s.subject_hash == subject_hash, s.purpose == purpose)
        )
        conn.execute(consent_state.insert(), row)


def put_record(engine: sa.Engine, subject_hash: str, when: datetime, *, gpc: bool) -> str:
    record_id = str(uuid.uuid4())
    with engine.begin() as conn:
        conn.execute(
            consent_records.insert(),
            {
                "id": record_id,
                "subject_hash": subject_hash,
                "subject_kind": "user_id",
                "source": "banner",
                "regime": "ccpa",
                "gpc": gpc,
                "actor": "test",
                "recorded_at": when,
            },
        )
    return record_id


def put_delivery(
    engine: sa.Engine,
    subject_hash: str,
    record_id: str,
    *,
    system: str,
    status: str,
    when: datetime,
) -> None:
    d = consent_deliveries.c
    with engine.begin() as conn:
        conn.execute(
            consent_deliveries.delete().where(d.record_id == record_id, d.system == system)
        )
        conn.execute(
            consent_deliveries.insert(),
            {
                "record_id": record_id,
                "system": system,
                "subject_hash": subject_hash,
                "status": status,
                "attempts": 1,
                "updated_at": when,
            },
        )


def put_purpose(
    engine: sa.Engine, key: str, *, essential: bool = False, retired: bool = False
) -> None:
    p = consent_purposes.c
    with engine.begin() as conn:
        conn.execute(consent_purposes.delete().where(p.key == key))
        conn.execute(
            consent_purposes.insert(),
            {
                "key": key,
                "name": key.title(),
                "description": "",
                "legal_bases": {},
                "default_basis": "",
                "gpc": False,
                "essential": essential,
                "retired": retired,
                "created_at": T0,
                "updated_at": T0,
            },
        )
