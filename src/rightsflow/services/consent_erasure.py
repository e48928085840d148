"""Erasing a subject's consent data with the subject (an erasure request's last step).

What goes: the subject's experiment assignments and events, for each identity the request
names that is a consent subject kind (user id, email, device id) and for each device or email
whose choices were linked to them (consent_links); and the subject's sealed value in their
consent records (kept for propagation), crypto-shredded: the record's data key is destroyed
and the column emptied.

What stays: the hashed ledger (records, entries, state, links). It holds no identity in plain
text and is the proof of what was chosen, when and under which notice; with the sealed value
gone nothing in it leads back to the person without their identity.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from rightsflow.domain.consent import SubjectKind
from rightsflow.services import audit
from rightsflow.services.consent_read import cache_key
from rightsflow.services.identity_lookup import identity_hash
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork
from rightsflow.services.subject import open_subject

_KINDS = frozenset(kind.value for kind in SubjectKind)


@dataclass(frozen=True)
class ConsentErasure:
    """Counts only (they go to the audit trail)."""

    subjects: int  # consent subject hashes looked at, linked ones included
    experiment_rows: int  # assignments and events deleted
    sealed_cleared: int  # records whose sealed subject was emptied
    keys_destroyed: int  # of those records' data keys


def erase_consent_subject(
    platform: Platform, uow: UnitOfWork, identities: Mapping[str, str]
) -> ConsentErasure:
    """Erase one subject in the caller's transaction (see `erase_consent_subjects`)."""
    return erase_consent_subjects(platform, uow, [identities])


def erase_consent_subjects(
    platform: Platform, uow: UnitOfWork, subjects: Iterable[Mapping[str, str]]
) -> ConsentErasure:
    """Erase every subject's consent data in the caller's transaction (it commits), with one
    statement per table for all of them. Idempotent: a second run finds nothing.

    Keys are destroyed at once (the vault is not transactional); if the transaction then
    rolls back, the rerun clears the column of records whose key is gone already."""
    hashes = {
        identity_hash(platform.vault, kind, value)
        for identities in subjects
        for kind, value in identities.items()
        if kind in _KINDS and value.strip()
    }
    if not hashes:
        return ConsentErasure(0, 0, 0, 0)
    hashes |= set(uow.consent_subjects.linked_to(hashes))
    rows = uow.experiments.erase_subjects(hashes)
    records = uow.consent_subjects.sealed_records(hashes)
    destroyed = sum(1 for record_id in records if platform.vault.destroy_key(record_id))
    cleared = uow.consent_subjects.clear_sealed(records)
    # The state documents do not change (the ledger stays), so forgetting them before the
    # commit cannot let a reader cache anything stale; it drops copies we no longer need.
    for digest in hashes:
        platform.consent_cache.forget(cache_key(digest))
    return ConsentErasure(len(hashes), rows, cleared, destroyed)


ERASED = "consent.subject_erased"


def erase_for_request(platform: Platform, uow: UnitOfWork, request_id: str) -> ConsentErasure:
    """Erase the consent data of an erasure request's subject as the request completes (in
    the finishing transaction) and audit the counts on the request."""
    sealed = uow.requests.sealed_identities(request_id)
    identities = open_subject(platform.vault, request_id, sealed).identities
    erased = erase_consent_subject(platform, uow, identities)
    audit.record(
        uow,
        request_id,
        ERASED,
        platform.clock(),
        subjects=erased.subjects,
        experiment_rows=erased.experiment_rows,
        sealed_cleared=erased.sealed_cleared,
        keys_destroyed=erased.keys_destroyed,
    )
    return erased
