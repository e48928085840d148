"""Consent deliveries: per consent record and system, whether the system was told
(pending | confirmed | failed), how many attempts it took, and the record's signed receipt.

Also reads what propagating a record needs from the ledger's tables (read only: the ledger is
append-only and belongs to storage/consent_repository.py). No personal data in plain text:
subjects are hashes, the subject's value stays sealed, failures name systems and statuses.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from rightsflow.domain.consent import SubjectKind
from rightsflow.domain.consent_delivery import FAILED, PENDING, Delivery, RecordToTell
from rightsflow.storage.consent_tables import consent_deliveries, consent_entries, consent_records

_d = consent_deliveries.c
_r = consent_records.c
_e = consent_entries.c


def _delivery(row: RowMapping) -> Delivery:
    return Delivery(
        record_id=row["record_id"],
        system=row["system"],
        subject_hash=row["subject_hash"],
        status=row["status"],
        attempts=row["attempts"],
        updated_at=row["updated_at"],
        failure=row["failure"],
        reference=row["reference"],
        receipt=row["receipt"],
    )


class SqlDeliveryRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def record(self, record_id: str) -> RecordToTell | None:
        """The record with its purposes' effective choices; None if there is no such record."""
        head = self._conn.execute(
            sa.select(
                _r.subject_hash,
                _r.subject_kind,
                _r.source,
                _r.regime,
                _r.recorded_at,
                _r.sealed_subject,
            ).where(_r.id == record_id)
        ).first()
        if head is None:
            return None
        entries = self._conn.execute(
            sa.select(_e.purpose, _e.effective).where(_e.record_id == record_id).order_by(_e.id)
        )
        return RecordToTell(
            record_id=record_id,
            subject_hash=head.subject_hash,
            subject_kind=SubjectKind(head.subject_kind),
            source=head.source,
            regime=head.regime,
            recorded_at=head.recorded_at,
            purposes={purpose: bool(effective) for purpose, effective in entries},
            sealed_subject=head.sealed_subject,
        )

    def open(
        self, record_id: str, subject_hash: str, systems: Collection[str], at: datetime
    ) -> list[str]:
        """A pending delivery for each system that has none yet; the systems added (a run
        started again after a crash adds nothing and keeps what the first run recorded)."""
        have = set(
            self._conn.execute(sa.select(_d.system).where(_d.record_id == record_id)).scalars()
        )
        added = sorted(set(systems) - have)
        if added:
            self._conn.execute(
                consent_deliveries.insert(),
                [
                    {
                        "record_id": record_id,
                        "system": system,
                        "subject_hash": subject_hash,
                        "status": PENDING,
                        "attempts": 0,
                        "updated_at": at,
                    }
                    for system in added
                ],
            )
        return added

    def get(self, record_id: str, system: str) -> Delivery | None:
        row = (
            self._conn.execute(
                sa.select(consent_deliveries).where(_d.record_id == record_id, _d.system == system)
            )
            .mappings()
            .first()
        )
        return None if row is None else _delivery(row)

    def save(self, delivery: Delivery) -> None:
        """Store the delivery's status, attempts, failure and reference (not the receipt)."""
        self._conn.execute(
            consent_deliveries.update()
            .where(_d.record_id == delivery.record_id, _d.system == delivery.system)
            .values(
                status=delivery.status,
                attempts=delivery.attempts,
                failure=delivery.failure,
                reference=delivery.reference,
                updated_at=delivery.updated_at,
            )
        )

    def reset(self, record_id: str, systems: Collection[str], at: datetime) -> list[str]:
        """Failed deliveries of these systems back to pending (their failure kept, so they are
        told again); the systems reset. Conditional per row: of two concurrent resets, one wins."""
        reset = []
        for system in sorted(set(systems)):
            done = self._conn.execute(
                consent_deliveries.update()
                .where(_d.record_id == record_id, _d.system == system, _d.status == FAILED)
                .values(status=PENDING, updated_at=at)
            )
            if done.rowcount == 1:
                reset.append(system)
        return reset

    def for_record(self, record_id: str) -> list[Delivery]:
        rows = self._conn.execute(
            sa.select(consent_deliveries).where(_d.record_id == record_id).order_by(_d.system)
        ).mappings()
        return [_delivery(row) for row in rows]

    def set_receipt(self, record_id: str, receipt: Mapping[str, Any]) -> None:
        """The record's signed receipt, kept with each of its deliveries."""
        self._conn.execute(
            consent_deliveries.update()
            .where(_d.record_id == record_id)
            .values(receipt=dict(receipt))
        )

    def for_subject(self, subject_hash: str) -> Sequence[Mapping[str, Any]]:
        """The subject's deliveries, newest first: record, system, status, attempts, when."""
        rows = self._conn.execute(
            sa.select(_d.record_id, _d.system, _d.status, _d.attempts, _d.updated_at)
            .where(_d.subject_hash == subject_hash)
            .order_by(_d.updated_at.desc(), _d.system)
        ).mappings()
        return [dict(row) for row in rows]
