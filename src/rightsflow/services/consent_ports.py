"""The ports consent use cases talk to; adapters are in storage/ and the composition roots.

Subjects are keyed hashes throughout (services/identity_lookup.identity_hash): no port ever
receives a subject's plain identity.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from rightsflow.domain.consent import (
    ConsentRecordView,
    LedgerEntry,
    Notice,
    Purpose,
    PurposeState,
)
from rightsflow.domain.consent_delivery import Delivery, RecordToTell
from rightsflow.domain.experiments import EventKind, Experiment, ExperimentStatus, VariantCounts


class ConsentCatalogRepository(Protocol):
    """Purposes and published notice versions."""

    def lock(self) -> None:
        """Serialise catalogue changes until the transaction ends; call it first."""
        ...

    def purposes(self, include_retired: bool = False) -> Sequence[Purpose]: ...
    def purpose(self, key: str) -> Purpose | None: ...
    def put_purpose(self, purpose: Purpose) -> None:
        """Insert or update (a purpose's key never changes; retiring keeps its history)."""
        ...

    def notice(self, key: str, version: int) -> Notice | None: ...
    def notice_versions(self, key: str) -> Sequence[Notice]: ...
    def latest_notices(self) -> Sequence[Notice]:
        """The newest version of every notice, by key."""
        ...

    def last_version(self, key: str) -> int:
        """The highest published version of `key` (0: none yet)."""
        ...

    def add_notice(self, notice: Notice, published_by: str) -> None:
        """Publish a new version; raises Conflict if (key, version) exists."""
        ...


class ConsentLedgerRepository(Protocol):
    """The append-only ledger and its materialised state."""

    def lock_state(self, subject_hash: str) -> tuple[Mapping[str, PurposeState], datetime | None]:
        """Serialise writers of the subject until the unit of work ends (first in the write's
        transaction), then read its stored state and the time of its latest record."""
        ...

    def append(
        self,
        record: ConsentRecordView,
        entries: Sequence[LedgerEntry],
        sealed_subject: bytes | None = None,
    ) -> list[int]:
        """Store the record and its entries (ids assigned here, returned in order) and update
        `consent_state` for the entries; never updates or deletes ledger rows."""
        ...

    def state(self, subject_hash: str) -> Mapping[str, PurposeState]:
        """The stored state, for the write path (conflict resolution). The read API renders
        from its own query (services/consent_read.py), cached."""
        ...

    def history(
        self, subject_hash: str, after: int | None, limit: int
    ) -> Sequence[tuple[ConsentRecordView, Sequence[LedgerEntry]]]:
        """Records oldest first with their entries; `after` is the cursor of the last one seen
        (its time in microseconds, unique per subject)."""
        ...

    def under_erasure(self, kind: str, subject_hash: str) -> bool:
        """Whether an erasure request for this identity (kind and hash) has not ended."""
        ...

    # A batch of writes (services/consent_batch.py): the same, for many subjects at once.
    def lock_states(
        self, subject_hashes: Collection[str]
    ) -> dict[str, tuple[dict[str, PurposeState], datetime | None]]:
        """`lock_state` for every subject (locks taken in one fixed order)."""
        ...

    def erasing(self, identities: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (kind, hash) identities among these with an erasure request not ended."""
        ...

    def append_many(
        self, records: Sequence[tuple[ConsentRecordView, Sequence[LedgerEntry], bytes | None]]
    ) -> list[list[int]]:
        """`append` for many records in order (a subject may appear more than once)."""
        ...

    def has_record(self, record_id: str) -> bool: ...
    def add_link(self, from_hash: str, to_hash: str, record_id: str, at: datetime) -> None: ...
    def linked_to(self, to_hash: str) -> Sequence[str]: ...


class ConsentCache(Protocol):
    """Rendered current-state documents by key. `put` only replaces an older version, so a
    slow reader that filled from the database before a write cannot bring stale data back."""

    def get(self, key: str) -> bytes | None: ...
    def put(self, key: str, version: int, document: bytes) -> None: ...
    def forget(self, key: str) -> None: ...


class ConsentPropagator(Protocol):
    """Starts telling the systems with the consent capability about a record (an opt-out or a
    withdrawal). Called after the record is committed; must be idempotent per record id."""

    async def propagate(self, record_id: str) -> None: ...
    async def retry(self, record_id: str, run: int, systems: Sequence[str]) -> None:
        """Tell these systems (failed, reset to pending) again: run `run` of the record's
        retries; idempotent per record and run."""
        ...


class DeliveryRepository(Protocol):
    """Per record and system: pending | confirmed | failed, attempts and the signed receipt
    (see domain/consent_delivery.py), and the ledger facts propagating a record needs."""

    def record(self, record_id: str) -> RecordToTell | None: ...
    def open(
        self, record_id: str, subject_hash: str, systems: Collection[str], at: datetime
    ) -> list[str]:
        """A pending delivery for each system without one; returns the systems added."""
        ...

    def get(self, record_id: str, system: str) -> Delivery | None: ...
    def save(self, delivery: Delivery) -> None: ...
    def for_record(self, record_id: str) -> list[Delivery]: ...
    def reset(self, record_id: str, systems: Collection[str], at: datetime) -> list[str]:
        """Failed deliveries of these systems back to pending; returns the systems reset."""
        ...

    def set_receipt(self, record_id: str, receipt: Mapping[str, Any]) -> None: ...
    def for_subject(self, subject_hash: str) -> Sequence[Mapping[str, Any]]: ...


class ExperimentRepository(Protocol):
    """Notice experiments, their stable assignments and exposure/outcome events."""

    def add(self, experiment: Experiment) -> None:
        """Store a new experiment; raises Conflict if its key exists."""
        ...

    def get(self, key: str) -> Experiment | None: ...
    def list(self, status: ExperimentStatus | None = None) -> Sequence[Experiment]: ...
    def set_status(self, experiment: Experiment) -> None:
        """Store the experiment's status and its started/stopped times."""
        ...

    def running_for_notice(self, notice_key: str) -> Sequence[Experiment]: ...
    def assignment(self, experiment_id: str, subject_hash: str) -> str | None: ...
    def assign(self, experiment_id: str, subject_hash: str, variant: str, at: datetime) -> str:
        """Insert the assignment if the subject has none (a concurrent first one wins), then
        return the variant stored: the first assignment is kept for ever."""
        ...

    def add_event(
        self,
        experiment_id: str,
        subject_hash: str,
        variant: str,
        *,
        kind: EventKind,
        at: datetime,
        granted: bool | None = None,
    ) -> None: ...
    def counts(self, experiment_id: str) -> Mapping[str, VariantCounts]:
        """Distinct subjects per variant (see domain.experiments.VariantCounts), in SQL."""
        ...

    def erase_subject(self, subject_hash: str) -> int:
        """Delete the subject's assignments and events; return how many rows went."""
        ...

    def erase_subjects(self, subject_hashes: Collection[str]) -> int:
        """Delete these subjects' assignments and events, one statement per table; return
        how many rows went."""
        ...


class ConsentSubjectRows(Protocol):
    """The ledger rows erasing a subject needs (the hashed ledger itself stays, as proof)."""

    def linked_to(self, subject_hashes: Collection[str]) -> Sequence[str]:
        """The device/email hashes whose choices were linked to these subjects."""
        ...

    def sealed_records(self, subject_hashes: Collection[str]) -> Sequence[str]:
        """Ids of these subjects' records that still hold their sealed value."""
        ...

    def clear_sealed(self, record_ids: Collection[str]) -> int:
        """Null the records' sealed value; how many were cleared."""
        ...
