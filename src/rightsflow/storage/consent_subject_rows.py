"""What erasing a consent subject needs from the ledger's tables: the devices (or emails)
linked to the subject, and the records holding the subject's sealed value.

The hashed ledger itself is never touched: it is the proof of what was chosen and when.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rightsflow.storage.consent_tables import consent_links, consent_records

_l = consent_links.c
_r = consent_records.c


class SqlConsentSubjectRows:
    """Satisfies services.consent_ports.ConsentSubjectRows over the unit of work's
    connection."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def linked_to(self, subject_hashes: Collection[str]) -> Sequence[str]:
        if not subject_hashes:
            return []
        query = sa.select(_l.from_hash).where(_l.to_hash.in_(sorted(subject_hashes))).distinct()
        return sorted(self._conn.execute(query).scalars())

    def sealed_records(self, subject_hashes: Collection[str]) -> Sequence[str]:
        if not subject_hashes:
            return []
        query = sa.select(_r.id).where(
            _r.subject_hash.in_(sorted(subject_hashes)), _r.sealed_subject.is_not(None)
        )
        return sorted(self._conn.execute(query).scalars())

    def clear_sealed(self, record_ids: Collection[str]) -> int:
        if not record_ids:
            return 0
        statement = (
            consent_records.update()
            .where(_r.id.in_(sorted(record_ids)), _r.sealed_subject.is_not(None))
            .values(sealed_subject=None)
        )
        return int(self._conn.execute(statement).rowcount)
