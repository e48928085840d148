"""Reports of retention sweep runs (migration 0009): one row per run, one per collection.

Counts only: no rows, keys or values. The one exception is where a run stopped in a
collection (`cursor`, the last primary key done), which may be an identifier and is stored
sealed under a data key of the run's own, destroyed when the run ends (services/sweeps.py).

The tables are declared with the others in storage/tables.py.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rightsflow.domain.errors import NotFound
from rightsflow.domain.sweep_records import CollectionReport, SweepRun
from rightsflow.storage.tables import sweep_run_collections, sweep_runs
from rightsflow.storage.transaction import AuditedTransaction
from rightsflow.storage.uow import SqlUnitOfWorkFactory

_r, _c = sweep_runs.c, sweep_run_collections.c


class SqlSweepRepository:
    """Satisfies services.sweeps.SweepRepository over one connection."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, run: SweepRun) -> None:
        self._conn.execute(sa.insert(sweep_runs).values(_run_values(run)))
        for position, report in enumerate(run.collections):
            self._conn.execute(
                sa.insert(sweep_run_collections).values(
                    run_id=run.id, position=position, **_collection_values(report)
                )
            )

    def put_collection(self, run_id: str, report: CollectionReport) -> None:
        statement = (
            sa.update(sweep_run_collections)
            .where(_c.run_id == run_id, _c.address == report.address)
            .values(_collection_values(report))
        )
        if self._conn.execute(statement).rowcount != 1:
            raise NotFound("no such sweep run or collection")

    def finish(self, run_id: str, status: str, at: datetime, failure: str | None) -> None:
        self._conn.execute(
            sa.update(sweep_runs)
            .where(_r.id == run_id)
            .values(status=status, finished_at=at, failure=failure)
        )

    def get(self, run_id: str) -> SweepRun:
        row = self._conn.execute(sa.select(sweep_runs).where(_r.id == run_id)).mappings().first()
        if row is None:
            raise NotFound("no such sweep run")
        return self._with_collections([row])[0]

    def list(self, rule: str | None, limit: int) -> Sequence[SweepRun]:
        query = sa.select(sweep_runs).order_by(_r.started_at.desc(), _r.id).limit(limit)
        if rule is not None:
            query = query.where(_r.rule == rule)
        return self._with_collections(list(self._conn.execute(query).mappings()))

    def _with_collections(self, rows: Sequence[sa.RowMapping]) -> builtins.list[SweepRun]:
        ids = [row["id"] for row in rows]
        parts: dict[str, list[CollectionReport]] = {i: [] for i in ids}
        query = (
            sa.select(sweep_run_collections)
            .where(_c.run_id.in_(ids))
            .order_by(_c.run_id, _c.position)
        )
        for c in self._conn.execute(query).mappings() if ids else ():
            parts[c["run_id"]].append(
                CollectionReport(
                    address=c["address"],
                    matched=c["matched"],
                    deleted=c["deleted"],
                    masked=c["masked"],
                    done=c["done"],
                    reason=c["reason"],
                    cursor=c["cursor"],
                )
            )
        return [_run(row, tuple(parts[row["id"]])) for row in rows]


def _run_values(run: SweepRun) -> dict[str, object]:
    return {
        "id": run.id,
        "rule": run.rule,
        "action": run.action,
        "dry_run": run.dry_run,
        "cutoff": run.cutoff,
        "actor": run.actor,
        "status": run.status,
        "started_at": run.started_at,
        "finished_at": run.finished_at,
        "failure": run.failure,
    }


def _collection_values(report: CollectionReport) -> dict[str, object]:
    return {
        "address": report.address,
        "matched": report.matched,
        "deleted": report.deleted,
        "masked": report.masked,
        "done": report.done,
        "reason": report.reason,
        "cursor": report.cursor,
    }


def _run(row: sa.RowMapping, collections: tuple[CollectionReport, ...]) -> SweepRun:
    return SweepRun(
        id=row["id"],
        rule=row["rule"],
        action=row["action"],
        dry_run=row["dry_run"],
        cutoff=row["cutoff"],
        started_at=row["started_at"],
        actor=row["actor"],
        status=row["status"],
        finished_at=row["finished_at"],
        failure=row["failure"],
        collections=collections,
    )


class SweepTransaction(AuditedTransaction):
    """The sweep reports and the audit trail in one transaction."""

    sweeps: SqlSweepRepository

    def _bind(self, connection: Connection) -> None:
        self.sweeps = SqlSweepRepository(connection)


def sweep_transactions(uow_factory: object) -> Callable[[], SweepTransaction]:
    """Sweep transactions on the app database a unit-of-work factory opens."""
    if not isinstance(uow_factory, SqlUnitOfWorkFactory):
        raise TypeError("retention sweeps need the SQL app database")
    engine = uow_factory.engine
    return lambda: SweepTransaction(engine)
