"""Propagation of consent records: which systems were told about an opt-out or a withdrawal,
and what they answered.

One `Delivery` per record and system: `pending` until the system confirms (`confirmed`) or is
given up on after its retries (`failed`, with a reason that names no person). A system that
accepted a record to apply later stays `pending` with its reference.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final

from rightsflow.domain.consent import SubjectKind

PENDING: Final = "pending"
CONFIRMED: Final = "confirmed"
FAILED: Final = "failed"
STATUSES: Final = (PENDING, CONFIRMED, FAILED)
MAX_FAILURE = 500  # the column's width; longer reasons are cut


@dataclass(frozen=True)
class Delivery:
    record_id: str
    system: str
    subject_hash: str
    status: str
    attempts: int
    updated_at: datetime
    failure: str | None = None
    reference: str | None = None  # the system's own id for what it did
    receipt: Mapping[str, Any] | None = field(default=None, compare=False)  # the record's


@dataclass(frozen=True)
class RecordToTell:
    """What propagating a consent record needs from the ledger: ids, the purposes with their
    effective choices, and the subject's value sealed under the record's key (None when the
    ledger did not keep it, or the subject was erased since)."""

    record_id: str
    subject_hash: str
    subject_kind: SubjectKind
    source: str
    regime: str
    recorded_at: datetime
    purposes: Mapping[str, bool]
    sealed_subject: bytes | None = field(default=None, repr=False)

    def withdrawn(self) -> frozenset[str]:
        return frozenset(purpose for purpose, granted in self.purposes.items() if not granted)


def failure_text(reason: str) -> str:
    return reason if len(reason) <= MAX_FAILURE else reason[: MAX_FAILURE - 1] + "…"
