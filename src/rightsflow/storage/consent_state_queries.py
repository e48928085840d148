"""The consent read API's state query: `consent_state`, `consent_deliveries`, the latest
`consent_records` row (its GPC flag) and `consent_purposes`, for one subject or many at once.

One subject or a thousand, it is one statement: a UNION ALL of the three row kinds, each
reading by the subject hash through an index. The statements are built once, at import; only
their parameters change per call. Satisfies services.consent_read_ports.ConsentStateQueries.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from rightsflow.domain.consent import NoticeRef, Purpose, PurposeState, Source
from rightsflow.domain.consent_state import DeliveryStatus, GpcSeen, StoredConsent
from rightsflow.domain.console_metrics import ChoiceCounts
from rightsflow.storage.consent_catalog_repository import purpose_of
from rightsflow.storage.consent_tables import (
    consent_deliveries,
    consent_purposes,
    consent_records,
    consent_state,
)

_s = consent_state.c
_d = consent_deliveries.c
_r = consent_records.c
_p = consent_purposes.c
_STATE, _DELIVERY, _GPC = "s", "d", "g"


def _union(match: Any) -> sa.CompoundSelect[Any]:
    """The three row kinds of the subjects `match(column)` selects, in one statement (rows:
    kind, subject_hash, key, flag, text, notice_key, notice_version, resolution, entry_id, at)."""
    latest = consent_records.alias("latest")
    newest = (
        sa.select(sa.func.max(latest.c.recorded_at))
        .where(latest.c.subject_hash == _r.subject_hash)
        .scalar_subquery()
    )
    states = sa.select(
        sa.literal_column("'s'").label("kind"),
        _s.subject_hash,
        _s.purpose.label("key"),
        _s.granted.label("flag"),
        _s.source.label("text"),
        _s.notice_key,
        _s.notice_version,
        _s.resolution,
        _s.entry_id,
        _s.updated_at.label("at"),
    ).where(match(_s.subject_hash))
    deliveries = sa.select(
        sa.literal_column("'d'"),
        _d.subject_hash,
        _d.system,
        sa.null(),
        _d.status,
        sa.null(),
        sa.null(),
        sa.null(),
        sa.null(),
        _d.updated_at,
    ).where(match(_d.subject_hash))
    gpc = sa.select(
        sa.literal_column("'g'"),
        _r.subject_hash,
        sa.null(),
        _r.gpc,
        sa.null(),
        sa.null(),
        sa.null(),
        sa.null(),
        sa.null(),
        _r.recorded_at,
    ).where(match(_r.subject_hash), _r.recorded_at == newest)
    return sa.union_all(states, deliveries, gpc)


def _one(column: ColumnElement[str]) -> ColumnElement[bool]:
    return column == sa.bindparam("subject_hash")


def _many(column: ColumnElement[str]) -> ColumnElement[bool]:
    return column.in_(sa.bindparam("subject_hashes", expanding=True))


_ONE = _union(_one)
_MANY = _union(_many)
_PURPOSES = sa.select(consent_purposes).order_by(_p.key)


_CHOICES = sa.select(
    _s.purpose, sa.func.sum(sa.case((_s.granted, 1), else_=0)), sa.func.count()
).group_by(_s.purpose)


class SqlConsentStateQueries:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def state(self, subject_hash: str) -> StoredConsent:
        rows = self._conn.execute(_ONE, {"subject_hash": subject_hash})
        return _assemble([subject_hash], rows)[subject_hash]

    def states(self, subject_hashes: Sequence[str]) -> Mapping[str, StoredConsent]:
        if not subject_hashes:
            return {}
        rows = self._conn.execute(_MANY, {"subject_hashes": list(set(subject_hashes))})
        return _assemble(subject_hashes, rows)

    def purposes(self) -> Sequence[Purpose]:
        return [purpose_of(row) for row in self._conn.execute(_PURPOSES).mappings()]

    def choice_counts(self) -> Mapping[str, ChoiceCounts]:
        """One grouped statement over every current state (the console's opt-out rates)."""
        return {
            purpose: ChoiceCounts(granted=int(yes or 0), refused=int(total) - int(yes or 0))
            for purpose, yes, total in self._conn.execute(_CHOICES)
        }


class _Parts:
    __slots__ = ("gpc", "purposes", "systems")

    def __init__(self) -> None:
        self.purposes: dict[str, PurposeState] = {}
        self.systems: dict[str, DeliveryStatus] = {}
        self.gpc: GpcSeen | None = None


def _assemble(hashes: Sequence[str], rows: Any) -> dict[str, StoredConsent]:
    parts = {h: _Parts() for h in hashes}
    for row in rows:
        part = parts[row.subject_hash]
        if row.kind == _STATE:
            part.purposes[row.key] = _purpose_state(row)
        elif row.kind == _DELIVERY:
            held = part.systems.get(row.key)
            if held is None or held.updated_at <= row.at:  # the latest answer per system
                part.systems[row.key] = DeliveryStatus(row.key, row.text, row.at)
        elif part.gpc is None or part.gpc.at <= row.at:
            part.gpc = GpcSeen(bool(row.flag), row.at)
    return {
        h: StoredConsent(
            subject_hash=h,
            purposes=p.purposes,
            gpc=p.gpc,
            systems=tuple(sorted(p.systems.values(), key=lambda d: d.system)),
        )
        for h, p in parts.items()
    }


def _purpose_state(row: Row[Any]) -> PurposeState:
    notice = None
    if row.notice_key is not None and row.notice_version is not None:
        notice = NoticeRef(row.notice_key, int(row.notice_version))
    at: datetime = row.at
    return PurposeState(
        purpose=row.key,
        granted=bool(row.flag),
        source=Source(row.text),
        updated_at=at,
        entry_id=int(row.entry_id),
        notice=notice,
        resolution=row.resolution,
    )
