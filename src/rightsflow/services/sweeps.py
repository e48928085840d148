"""Retention sweeps: enforce the data map's `retention:` rules on the company's systems.

A run counts first (per collection, the rows whose age field is older than the rule's maximum
age), then works in chunks of `chunk_size` rows in primary-key order: each chunk is read
through the connector's AgedRows capability and deleted or masked through its ordinary,
guarded `delete` / `mask` (so a chunk done twice changes nothing twice). After each chunk the
report is saved with the counts and where to go on; a run cut short resumes from there. A dry
run only counts.

The report holds counts only. Where a run stands in a collection is the last primary key
done, which may be an identifier: it is stored sealed under a data key of the run's own,
destroyed when the run ends. Every run is audited when it starts and when it ends (request id
"": a sweep belongs to no privacy request), with counts only.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from rightsflow.domain.connector import Row, Scalar, rows_written
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.retention_rules import RetentionRule
from rightsflow.domain.sweep_records import CollectionReport, SweepRun, SweepStatus
from rightsflow.services.erasure import key_of, mask_keys
from rightsflow.services.platform import Platform
from rightsflow.services.ports import AuditEvent, AuditRepository
from rightsflow.services.sweep_plan import SweepTarget, rule_for, target_for
from rightsflow.services.writes import WriteContext, changes_for

NO_REQUEST = ""  # the audit trail's request id for events about no request
STARTED, FINISHED = "retention.sweep_started", "retention.sweep_finished"
DEFAULT_CHUNK = 5000


class SweepRepository(Protocol):
    def add(self, run: SweepRun) -> None: ...
    def put_collection(self, run_id: str, report: CollectionReport) -> None: ...
    def finish(self, run_id: str, status: str, at: datetime, failure: str | None) -> None: ...
    def get(self, run_id: str) -> SweepRun: ...
    def list(self, rule: str | None, limit: int) -> Sequence[SweepRun]: ...


class SweepUnitOfWork(Protocol):
    @property
    def sweeps(self) -> SweepRepository: ...
    @property
    def audit(self) -> AuditRepository: ...

    def __enter__(self) -> SweepUnitOfWork: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...


class SweepLauncher(Protocol):
    """Starts the durable run of a sweep that `begin` recorded (a Temporal workflow)."""

    async def launch(self, rule_key: str, run_id: str) -> None: ...


@dataclass(frozen=True)
class Sweeps:
    """What a sweep needs: the platform (data map, connectors, vault, clock) and its reports."""

    platform: Platform
    uow: Callable[[], SweepUnitOfWork]
    chunk_size: int = DEFAULT_CHUNK


def begin(
    sweeps: Sweeps, rule: RetentionRule, *, dry_run: bool, actor: str, run_id: str | None = None
) -> SweepRun:
    """Count the old rows of every collection the rule sweeps and record the run (a dry run
    is finished at once). Audited."""
    platform = sweeps.platform
    now = platform.clock()
    cutoff = rule.max_age.cutoff(now)
    reports = []
    for address in rule.collections:
        target = target_for(platform, rule, address)
        if isinstance(target, str):
            reports.append(CollectionReport(address, reason=target, done=True))
            continue
        matched = target.finder.count_aged(target.node, rule.age_field, cutoff)
        reports.append(CollectionReport(address, matched=matched, done=dry_run or matched == 0))
    run = SweepRun(
        id=run_id or str(uuid.uuid4()),
        rule=rule.key,
        action=rule.action,
        dry_run=dry_run,
        cutoff=cutoff,
        started_at=now,
        actor=actor,
        status="completed" if dry_run else "running",
        finished_at=now if dry_run else None,
        collections=tuple(reports),
    )
    with sweeps.uow() as uow:
        uow.sweeps.add(run)
        _audit(uow, STARTED, run, now)
        if dry_run:
            _audit(uow, FINISHED, run, now)
        uow.commit()
    return run


def get(sweeps: Sweeps, run_id: str) -> SweepRun:
    with sweeps.uow() as uow:
        return uow.sweeps.get(run_id)


def runs(sweeps: Sweeps, rule: str | None = None, limit: int = 50) -> Sequence[SweepRun]:
    with sweeps.uow() as uow:
        return uow.sweeps.list(rule, limit)


def chunk(sweeps: Sweeps, run_id: str) -> SweepRun:
    """Do the next chunk of a running sweep and save where it stands; the run as it is now
    (`pending` is None when nothing is left). A finished run is returned unchanged."""
    run = get(sweeps, run_id)
    pending = run.pending
    if run.status != "running" or pending is None:
        return run
    rule = rule_for(sweeps.platform, run.rule)
    target = target_for(sweeps.platform, rule, pending.address)
    if isinstance(target, str):  # the connector changed since the run began
        report = replace(pending, reason=target, done=True)
    else:
        report = _sweep_chunk(sweeps, run, rule, target, pending)
    with sweeps.uow() as uow:
        uow.sweeps.put_collection(run.id, report)
        uow.commit()
    return run.with_collection(report)


def _sweep_chunk(
    sweeps: Sweeps,
    run: SweepRun,
    rule: RetentionRule,
    target: SweepTarget,
    report: CollectionReport,
) -> CollectionReport:
    vault, node, size = sweeps.platform.vault, target.node, sweeps.chunk_size
    after = _open_cursor(sweeps, run.id, report.cursor)
    rows = target.finder.aged_rows(node, rule.age_field, run.cutoff, after, size)
    if not rows:
        return replace(report, done=True)
    if node.action == "delete":
        deleted = rows_written(target.connector.delete(node, [key_of(node, r) for r in rows]))
        report = replace(report, deleted=report.deleted + deleted)
    else:
        context = WriteContext(mask_keys(vault.masking_key()))
        masked = rows_written(target.connector.mask(node, changes_for(node, rows, context)))
        report = replace(report, masked=report.masked + masked)
    last: list[Scalar] = list(key_of(node, rows[-1]).values())
    cursor = vault.seal(run.id, json.dumps(last, default=str).encode())
    return replace(report, cursor=cursor, done=len(rows) < size)


def _open_cursor(sweeps: Sweeps, run_id: str, sealed: bytes | None) -> list[Scalar] | None:
    if sealed is None:
        return None
    value = json.loads(sweeps.platform.vault.open(run_id, sealed))
    return value if isinstance(value, list) else None


def finish(sweeps: Sweeps, run_id: str, failure: str | None = None) -> SweepRun:
    """End a run (completed, or failed with a reason), forget where it stood (its cursor key
    is destroyed) and audit the counts. Finishing a finished run changes nothing."""
    run = get(sweeps, run_id)
    if run.status != "running":
        return run
    sweeps.platform.vault.destroy_key(run.id)
    now = sweeps.platform.clock()
    status: SweepStatus = "failed" if failure else "completed"
    failure = failure[:500] if failure else None
    run = replace(run, status=status, finished_at=now, failure=failure)
    with sweeps.uow() as uow:
        for report in run.collections:
            uow.sweeps.put_collection(run.id, replace(report, cursor=None))
        uow.sweeps.finish(run.id, status, now, failure)
        _audit(uow, FINISHED, run, now)
        uow.commit()
    return get(sweeps, run_id)


def sweep(
    sweeps: Sweeps,
    rule: RetentionRule,
    *,
    actor: str,
    on_chunk: Callable[[SweepRun], None] | None = None,
) -> SweepRun:
    """A whole run in this process (the CLI): begin, chunk until done, finish."""
    run = begin(sweeps, rule, dry_run=False, actor=actor)
    try:
        while run.pending is not None:
            run = chunk(sweeps, run.id)
            if on_chunk is not None:
                on_chunk(run)
    except ConnectorFailure as exc:
        return finish(sweeps, run.id, str(exc))
    return finish(sweeps, run.id)


async def start(
    sweeps: Sweeps, launcher: SweepLauncher, rule: RetentionRule, actor: str
) -> SweepRun:
    """Record a run now and have the engine carry it out (the API's "run now")."""
    run = await asyncio.to_thread(begin, sweeps, rule, dry_run=False, actor=actor)
    await launcher.launch(rule.key, run.id)
    return run


def _audit(uow: SweepUnitOfWork, action: str, run: SweepRun, at: datetime) -> None:
    detail: dict[str, Any] = {
        "rule": run.rule,
        "run": run.id,
        "dry_run": run.dry_run,
        "action": run.action,
        "cutoff": run.cutoff.isoformat(),
        "collections": {c.address: _counts(c) for c in run.collections},
    }
    if action == FINISHED:
        detail["status"] = run.status
    uow.audit.append(AuditEvent(NO_REQUEST, action, at, run.actor, detail=detail))


def _counts(report: CollectionReport) -> dict[str, Any]:
    out: dict[str, Any] = {"matched": report.matched}
    if report.deleted:
        out["deleted"] = report.deleted
    if report.masked:
        out["masked"] = report.masked
    if report.reason:
        out["not_sweepable"] = report.reason
    return out


def rows_of(run: SweepRun) -> list[Row]:
    """The report as plain rows (CLI tables, JSON)."""
    return [
        {
            "collection": c.address,
            "matched": c.matched,
            "deleted": c.deleted,
            "masked": c.masked,
            "done": c.done,
            "not_sweepable": c.reason,
        }
        for c in run.collections
    ]
