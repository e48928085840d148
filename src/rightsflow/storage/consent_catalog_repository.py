"""The consent catalogue in SQL: purposes (`consent_purposes`) and published notice versions
(`consent_notices`).

A purpose row is updated in place (its key never changes; retiring sets a flag and keeps the
row, since ledger entries name it). A notice version is inserted once and never updated: the
ledger records which version a person saw, so its text must stay what it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from rightsflow.domain.consent import Notice, Purpose
from rightsflow.domain.consent_catalog import text_sha256
from rightsflow.domain.errors import Conflict
from rightsflow.storage.consent_tables import consent_notices, consent_purposes
from rightsflow.storage.migrate import take_write_lock
from rightsflow.storage.tables import utcnow

_p = consent_purposes.c
_n = consent_notices.c
CATALOG_LOCK = "rightsflow.consent_catalog"


class SqlConsentCatalogRepository:
    """Satisfies services.consent_ports.ConsentCatalogRepository over the unit of work's
    connection."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def lock(self) -> None:
        """Serialise catalogue changes until the transaction ends (two processes seeding the
        standard purposes, two publishers numbering the next version). First statement of the
        transaction on SQLite (BEGIN IMMEDIATE)."""
        take_write_lock(self._conn, CATALOG_LOCK)

    def purposes(self, include_retired: bool = False) -> Sequence[Purpose]:
        query = sa.select(consent_purposes).order_by(_p.key)
        if not include_retired:
            query = query.where(_p.retired.is_(False))
        return [purpose_of(row) for row in self._conn.execute(query).mappings()]

    def purpose(self, key: str) -> Purpose | None:
        query = sa.select(consent_purposes).where(_p.key == key)
        row = self._conn.execute(query).mappings().first()
        return None if row is None else purpose_of(row)

    def put_purpose(self, purpose: Purpose) -> None:
        now = utcnow()
        values = _purpose_values(purpose)
        updated = self._conn.execute(
            consent_purposes.update().where(_p.key == purpose.key).values(updated_at=now, **values)
        )
        if updated.rowcount:
            return
        try:
            self._conn.execute(
                consent_purposes.insert().values(
                    key=purpose.key, created_at=now, updated_at=now, **values
                )
            )
        except IntegrityError:  # a concurrent create won; the unit of work rolls back
            raise Conflict(f"purpose '{purpose.key}' was created at the same time") from None

    def notice(self, key: str, version: int) -> Notice | None:
        query = sa.select(consent_notices).where(_n.key == key, _n.version == version)
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _to_notice(row)

    def notice_versions(self, key: str) -> Sequence[Notice]:
        query = sa.select(consent_notices).where(_n.key == key).order_by(_n.version)
        return [_to_notice(row) for row in self._conn.execute(query).mappings()]

    def latest_notices(self) -> Sequence[Notice]:
        """The newest version of every notice, by key."""
        newest = (
            sa.select(_n.key, sa.func.max(_n.version).label("version")).group_by(_n.key).subquery()
        )
        query = (
            sa.select(consent_notices)
            .join(newest, sa.and_(_n.key == newest.c.key, _n.version == newest.c.version))
            .order_by(_n.key)
        )
        return [_to_notice(row) for row in self._conn.execute(query).mappings()]

    def last_version(self, key: str) -> int:
        """The highest published version of `key` (0: none yet)."""
        query = sa.select(sa.func.max(_n.version)).where(_n.key == key)
        return int(self._conn.execute(query).scalar_one() or 0)

    def add_notice(self, notice: Notice, published_by: str) -> None:
        try:
            self._conn.execute(
                consent_notices.insert().values(
                    key=notice.key,
                    version=notice.version,
                    language=notice.language,
                    text=notice.text,
                    text_sha256=text_sha256(notice.text),
                    purposes=list(notice.purposes),
                    published_at=notice.published_at or utcnow(),
                    published_by=published_by,
                )
            )
        except IntegrityError:
            raise Conflict(
                f"notice '{notice.key}' version {notice.version} is already published"
            ) from None


def _purpose_values(purpose: Purpose) -> dict[str, Any]:
    return {
        "name": purpose.name,
        "description": purpose.description,
        "legal_bases": dict(sorted(purpose.legal_bases.items())),
        "default_basis": purpose.default_basis,
        "gpc": purpose.gpc,
        "essential": purpose.essential,
        "retired": purpose.retired,
    }


def purpose_of(row: RowMapping) -> Purpose:
    return Purpose(
        key=row["key"],
        name=row["name"],
        description=row["description"],
        legal_bases=dict(row["legal_bases"] or {}),
        default_basis=row["default_basis"],
        gpc=bool(row["gpc"]),
        essential=bool(row["essential"]),
        retired=bool(row["retired"]),
    )


def _to_notice(row: RowMapping) -> Notice:
    return Notice(
        key=row["key"],
        version=int(row["version"]),
        text=row["text"],
        purposes=tuple(row["purposes"] or ()),
        language=row["language"],
        published_at=row["published_at"],
    )
