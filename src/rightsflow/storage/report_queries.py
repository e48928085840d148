"""The facts regulatory reports count: one streaming query over privacy_requests.

Reads types, statuses, times and reason codes, plus two yes/no answers computed in the database
so nothing else leaves it: were rows found in a collection the plan kept under an exemption
(a node with action "keep"), and was a system given up on or unable to comply. Sealed
identities, result pages and free-text details are never read.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import ColumnElement

from rightsflow.domain.errors import RightsflowError
from rightsflow.domain.reports import RequestFacts
from rightsflow.domain.requests import RequestStatus, RequestType
from rightsflow.storage.tables import node_results, privacy_requests, system_calls

_pr = privacy_requests.c
_nr = node_results.c
_sc = system_calls.c
BATCH = 2_000  # rows fetched per round trip (a server-side cursor on PostgreSQL)
_NOT_DONE = ("overdue", "failed")  # system_calls.status of a system given up on


def _kept_addresses(dialect: str) -> sa.Select[tuple[str]]:
    """The addresses of the request's plan nodes with action "keep" (JSON in the plan column).

    The plan holds only the data map's structure; even so only two members of each node are
    extracted, in the database."""
    if dialect == "sqlite":
        nodes = sa.func.json_each(_pr.plan, "$.nodes").table_valued("value").alias("plan_node")
        member = sa.func.json_extract
        address = member(nodes.c.value, "$.address")
        action = member(nodes.c.value, "$.action")
    elif dialect == "postgresql":
        nodes = (
            sa.func.json_array_elements(sa.func.json_extract_path(_pr.plan, "nodes"))
            .table_valued("value")
            .alias("plan_node")
        )
        address = sa.func.json_extract_path_text(nodes.c.value, "address")
        action = sa.func.json_extract_path_text(nodes.c.value, "action")
    else:
        raise RightsflowError(f"reports need SQLite or PostgreSQL, not {dialect}")
    return sa.select(address).select_from(nodes).where(action == "keep")


def _rows_kept(dialect: str) -> ColumnElement[bool]:
    kept = (
        sa.select(sa.literal(1))
        .where(
            _nr.request_id == _pr.id,
            _nr.phase == "retrieve",
            _nr.status == "done",
            _nr.rows_found > 0,
            _nr.address.in_(_kept_addresses(dialect).scalar_subquery()),
        )
        .exists()
    )
    # Only a completed request can have complied in part: skip the work for the others.
    return sa.case((_pr.status == RequestStatus.COMPLETED.value, kept), else_=sa.false())


def _systems_not_done() -> ColumnElement[bool]:
    given_up = (
        sa.select(sa.literal(1))
        .where(
            _sc.request_id == _pr.id,
            sa.or_(_sc.status.in_(_NOT_DONE), _sc.outcome == "cannot_comply"),
        )
        .exists()
    )
    return sa.case((_pr.status == RequestStatus.COMPLETED.value, given_up), else_=sa.false())


def facts_query(
    dialect: str, start: datetime, end: datetime, regimes: Sequence[str] | None
) -> sa.Select[tuple[object, ...]]:
    query = sa.select(
        _pr.type,
        _pr.regime,
        _pr.status,
        _pr.received_at,
        _pr.due_at,
        _pr.closed_at,
        _pr.completed_at,
        _pr.denial_reason,
        _rows_kept(dialect).label("rows_kept"),
        _systems_not_done().label("systems_not_done"),
    ).where(_pr.received_at >= start, _pr.received_at < end)
    if regimes is not None:
        query = query.where(_pr.regime.in_(list(regimes)))
    return query


def _facts(row: Row[tuple[object, ...]]) -> RequestFacts:
    m = row._mapping
    return RequestFacts(
        type=RequestType(m["type"]),
        regime=m["regime"],
        status=RequestStatus(m["status"]),
        received_at=m["received_at"],
        due_at=m["due_at"],
        closed_at=m["closed_at"],
        completed_at=m["completed_at"],
        denial_reason=m["denial_reason"],
        rows_kept=bool(m["rows_kept"]),
        systems_not_done=bool(m["systems_not_done"]),
    )


class SqlReportSource:
    """Satisfies services.ports.ReportSource over the unit of work's connection."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def request_facts(
        self, start: datetime, end: datetime, regimes: Sequence[str] | None = None
    ) -> Iterator[RequestFacts]:
        query = facts_query(self._conn.dialect.name, start, end, regimes)
        # yield_per streams (a server-side cursor on PostgreSQL) for this statement only.
        result = self._conn.execute(query.execution_options(yield_per=BATCH))
        try:
            for row in result:
                yield _facts(row)
        finally:
            result.close()
