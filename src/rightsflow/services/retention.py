"""Retention of request records: purge what a closed request holds once its time is up.

A request closed (completed, denied, canceled, expired) more than `retention_days` ago loses
everything personal: its data key is destroyed (so every copy of what was sealed under it,
backups included, is unreadable), its package file is deleted, and its rows in every table
that belongs to a request are deleted; the request row keeps only non-personal facts (see
storage/retention_repository.py). The audit trail is kept as it is, plus one `request.purged`
event per request (actor "system") with counts only.

The purge runs in batches and is idempotent and resumable: per batch, keys and package files
go first, then one transaction tombstones the request rows, deletes their records and writes
the audit events. A run cut short anywhere leaves requests that the next run finds again (their
rows are not tombstoned yet) and finishes; a request is audited once, by the run that
tombstoned it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from rightsflow.services import audit
from rightsflow.services.platform import Platform

PURGED = "request.purged"
DEFAULT_BATCH = 200


@dataclass
class PurgeReport:
    """What a purge did (or, dry, would do): ids never, only counts."""

    cutoff: datetime
    dry_run: bool
    requests: int = 0
    rows: Counter[str] = field(default_factory=Counter)  # per table
    packages: int = 0
    keys_destroyed: int = 0
    more: bool = False  # stopped at max_batches with eligible requests left

    def add(self, other: PurgeReport) -> None:
        self.requests += other.requests
        self.rows.update(other.rows)
        self.packages += other.packages
        self.keys_destroyed += other.keys_destroyed


def cutoff_for(now: datetime, retention_days: int) -> datetime:
    """Requests closed before this instant are past their retention."""
    if retention_days < 1:
        raise ValueError("retention_days must be at least 1")
    return now - timedelta(days=retention_days)


def eligible(platform: Platform, cutoff: datetime) -> int:
    """How many requests a purge with this cutoff would purge now."""
    with platform.uow() as uow:
        return uow.retention.count_closed_before(cutoff)


def _batches(platform: Platform, cutoff: datetime, batch_size: int) -> Iterator[Sequence[str]]:
    """Ids of eligible requests, a batch at a time (keyset on id, one short read each)."""
    after: str | None = None
    while True:
        with platform.uow() as uow:
            ids = uow.retention.closed_before(cutoff, after, batch_size)
        if not ids:
            return
        yield ids
        after = ids[-1]


def survey(platform: Platform, cutoff: datetime, batch_size: int = DEFAULT_BATCH) -> PurgeReport:
    """A dry run: what a purge would delete now. Changes nothing."""
    report = PurgeReport(cutoff, dry_run=True)
    for ids in _batches(platform, cutoff, batch_size):
        with platform.uow() as uow:
            held = uow.retention.held(ids)
        report.requests += len(ids)
        for counts in held.values():
            report.rows.update(counts)
        report.packages += sum(1 for rid in ids if platform.packages.read(rid) is not None)
    return report


def purge(
    platform: Platform,
    cutoff: datetime,
    *,
    batch_size: int = DEFAULT_BATCH,
    max_batches: int | None = None,
    on_batch: Callable[[PurgeReport], None] | None = None,
) -> PurgeReport:
    """Purge requests closed before `cutoff`: all, or at most `max_batches` batches (then
    `more` says whether any are left)."""
    report = PurgeReport(cutoff, dry_run=False)
    for count, ids in enumerate(_batches(platform, cutoff, batch_size)):
        if max_batches is not None and count == max_batches:
            report.more = True
            break
        done = purge_batch(platform, ids, cutoff)
        report.add(done)
        if on_batch is not None:
            on_batch(done)
    if report.requests:
        with platform.uow() as uow:
            uow.retention.settle()
    return report


def purge_batch(platform: Platform, request_ids: Sequence[str], cutoff: datetime) -> PurgeReport:
    """Purge these requests (all eligible when chosen; closed requests never reopen)."""
    report = PurgeReport(cutoff, dry_run=False)
    # Keys and files first: if we stop after this, the rows are not tombstoned yet, so the next
    # run picks these requests up again and finishes (destroying a key twice is a no-op).
    keys = {rid: platform.vault.destroy_key(rid) for rid in request_ids}
    packages = {rid: platform.packages.delete(rid) for rid in request_ids}
    with platform.uow() as uow:
        purged = uow.retention.purge(request_ids)
        at = platform.clock()
        for request_id, rows in purged.items():
            audit.record(
                uow,
                request_id,
                PURGED,
                at,
                actor="system",
                closed_before=cutoff.isoformat(),
                data_key="destroyed" if keys[request_id] else "none",
                package=packages[request_id],
                rows=dict(sorted(rows.items())),
            )
            report.rows.update(rows)
        uow.commit()
    report.requests = len(purged)
    report.packages = sum(1 for rid in request_ids if packages[rid])
    report.keys_destroyed = sum(1 for rid in request_ids if keys[rid])
    return report
