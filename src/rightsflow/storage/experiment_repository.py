"""Notice experiments in SQL: the experiments, each subject's kept assignment, and events.

The first assignment of a subject is kept for ever: `assign` inserts only if absent
(ON CONFLICT DO NOTHING on PostgreSQL and SQLite, so two concurrent first calls cannot both
win; the loser waits for the winner's commit on PostgreSQL, or for the write lock on SQLite)
and then reads back what is stored.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from rightsflow.domain.errors import Conflict
from rightsflow.domain.experiments import (
    EventKind,
    Experiment,
    ExperimentStatus,
    Variant,
    VariantCounts,
)
from rightsflow.storage.consent_tables import (
    experiment_assignments,
    experiment_events,
    experiments,
)

_x = experiments.c
_a = experiment_assignments.c
_e = experiment_events.c


def _experiment(row: RowMapping) -> Experiment:
    return Experiment(
        id=row["id"],
        key=row["key"],
        notice_key=row["notice_key"],
        purpose=row["purpose"],
        variants=tuple(
            Variant(v["name"], int(v["notice_version"]), float(v["weight"]))
            for v in row["variants"]
        ),
        status=ExperimentStatus(row["status"]),
        salt=row["salt"],
        created_by=row["created_by"],
        created_at=row["created_at"],
        started_at=row["started_at"],
        stopped_at=row["stopped_at"],
    )


def _variants(experiment: Experiment) -> list[dict[str, Any]]:
    return [
        {"name": v.name, "notice_version": v.notice_version, "weight": v.weight}
        for v in experiment.variants
    ]


class SqlExperimentRepository:
    """Satisfies services.consent_ports.ExperimentRepository over the unit of work's
    connection."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, experiment: Experiment) -> None:
        values = {
            "id": experiment.id,
            "key": experiment.key,
            "notice_key": experiment.notice_key,
            "purpose": experiment.purpose,
            "variants": _variants(experiment),
            "status": experiment.status.value,
            "salt": experiment.salt,
            "created_by": experiment.created_by,
            "created_at": experiment.created_at,
            "started_at": experiment.started_at,
            "stopped_at": experiment.stopped_at,
        }
        if self.get(experiment.key) is not None:
            raise Conflict("an experiment with this key exists")
        try:
            self._conn.execute(experiments.insert().values(values))
        except IntegrityError:  # created by a concurrent caller since the check
            raise Conflict("an experiment with this key exists") from None

    def get(self, key: str) -> Experiment | None:
        row = self._conn.execute(sa.select(experiments).where(_x.key == key)).mappings().first()
        return None if row is None else _experiment(row)

    def list(self, status: ExperimentStatus | None = None) -> Sequence[Experiment]:
        query = sa.select(experiments).order_by(_x.created_at.desc(), _x.key)
        if status is not None:
            query = query.where(_x.status == status.value)
        return [_experiment(row) for row in self._conn.execute(query).mappings()]

    def set_status(self, experiment: Experiment) -> None:
        self._conn.execute(
            experiments.update()
            .where(_x.id == experiment.id)
            .values(
                status=experiment.status.value,
                started_at=experiment.started_at,
                stopped_at=experiment.stopped_at,
            )
        )

    def running_for_notice(self, notice_key: str) -> Sequence[Experiment]:
        query = sa.select(experiments).where(
            _x.notice_key == notice_key, _x.status == ExperimentStatus.RUNNING.value
        )
        return [_experiment(row) for row in self._conn.execute(query).mappings()]

    def assignment(self, experiment_id: str, subject_hash: str) -> str | None:
        query = sa.select(_a.variant).where(
            _a.experiment_id == experiment_id, _a.subject_hash == subject_hash
        )
        found: str | None = self._conn.execute(query).scalar_one_or_none()
        return found

    def assign(self, experiment_id: str, subject_hash: str, variant: str, at: datetime) -> str:
        values = {
            "experiment_id": experiment_id,
            "subject_hash": subject_hash,
            "variant": variant,
            "assigned_at": at,
        }
        dialect = self._conn.dialect.name
        if dialect in ("sqlite", "postgresql"):
            insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(
                experiment_assignments
            )
            self._conn.execute(insert.values(values).on_conflict_do_nothing())
        elif self.assignment(experiment_id, subject_hash) is None:  # other dialects: best effort
            self._conn.execute(experiment_assignments.insert().values(values))
        kept = self.assignment(experiment_id, subject_hash)
        if kept is None:  # inserted above or by a concurrent first caller: never absent
            raise Conflict("the assignment could not be stored")
        return kept

    def add_event(
        self,
        experiment_id: str,
        subject_hash: str,
        variant: str,
        *,
        kind: EventKind,
        at: datetime,
        granted: bool | None = None,
    ) -> None:
        self._conn.execute(
            experiment_events.insert().values(
                experiment_id=experiment_id,
                subject_hash=subject_hash,
                variant=variant,
                kind=kind.value,
                granted=granted,
                at=at,
            )
        )

    def counts(self, experiment_id: str) -> Mapping[str, VariantCounts]:
        tallies: dict[str, dict[str, int]] = {}
        for name, variant, count in _tallies(self._conn, experiment_id):
            tallies.setdefault(variant, {})[name] = int(count or 0)
        return {variant: VariantCounts(variant, **numbers) for variant, numbers in tallies.items()}

    def erase_subject(self, subject_hash: str) -> int:
        return self.erase_subjects([subject_hash])

    def erase_subjects(self, subject_hashes: Collection[str]) -> int:
        if not subject_hashes:
            return 0
        wanted = sorted(subject_hashes)
        gone = self._conn.execute(
            experiment_events.delete().where(_e.subject_hash.in_(wanted))
        ).rowcount
        gone += self._conn.execute(
            experiment_assignments.delete().where(_a.subject_hash.in_(wanted))
        ).rowcount
        return int(gone)


def _tallies(conn: Connection, experiment_id: str) -> list[tuple[str, str, int]]:
    """(measure, variant, distinct subjects) rows, one statement per measure."""
    assigned = (
        sa.select(_a.variant, sa.func.count())
        .where(_a.experiment_id == experiment_id)
        .group_by(_a.variant)
    )
    # Anyone with an event saw the notice: choosing under it counts as an exposure too.
    exposed = (
        sa.select(_e.variant, sa.func.count(sa.distinct(_e.subject_hash)))
        .where(_e.experiment_id == experiment_id)
        .group_by(_e.variant)
    )
    # A subject's first choice is their outcome (a later change of mind is not the
    # notice's effect, and must not count the subject twice).
    first = (
        sa.select(sa.func.min(_e.id).label("id"))
        .where(_e.experiment_id == experiment_id, _e.kind == EventKind.OUTCOME.value)
        .group_by(_e.subject_hash)
        .subquery()
    )
    granted = sa.func.sum(sa.case((_e.granted.is_(True), 1), else_=0))
    chose = (
        sa.select(_e.variant, sa.func.count(), granted)
        .join(first, first.c.id == _e.id)
        .group_by(_e.variant)
    )
    rows: list[tuple[str, str, int]] = []
    rows += [("assigned", v, n) for v, n in conn.execute(assigned)]
    rows += [("exposures", v, n) for v, n in conn.execute(exposed)]
    for variant, outcomes, yes in conn.execute(chose):
        rows += [("outcomes", variant, outcomes), ("granted", variant, yes)]
    return rows
