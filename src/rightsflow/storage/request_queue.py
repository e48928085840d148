"""The console's request queue in SQL: ordered and paged by the database (one ranked query
and one count), so the queue sees every matching request, not a window of the newest."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.records import RequestFilter
from rightsflow.domain.requests import TERMINAL, PrivacyRequest
from rightsflow.storage.repositories import REQUEST_COLUMNS, request_conditions, to_request
from rightsflow.storage.tables import privacy_requests

_pr = privacy_requests.c
_CLOSED = sorted(s.value for s in TERMINAL)
MAX_LIMIT = 500


def _rank(now: datetime, soon: datetime) -> sa.ColumnElement[int]:
    return sa.case(
        (_pr.status.in_(_CLOSED), 3),
        (_pr.due_at < now, 0),
        (_pr.due_at <= soon, 1),
        else_=2,
    )


def _due_conditions(due: str | None, now: datetime, soon: datetime) -> list[sa.ColumnElement[bool]]:
    if due is None:
        return []
    open_ = _pr.status.not_in(_CLOSED)
    if due == "overdue":
        return [open_, _pr.due_at < now]
    if due == "due-soon":
        return [open_, _pr.due_at >= now, _pr.due_at <= soon]
    raise InvalidInput("expected one of: overdue, due-soon", field="due")


class SqlRequestQueue:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def page(
        self,
        filters: RequestFilter,
        *,
        due: str | None,
        now: datetime,
        soon: datetime,
        offset: int,
        limit: int,
    ) -> tuple[Sequence[PrivacyRequest], int]:
        if not 1 <= limit <= MAX_LIMIT or offset < 0:
            raise InvalidInput(f"limit 1 to {MAX_LIMIT}, offset 0 or more", field="limit")
        where = [*request_conditions(filters), *_due_conditions(due, now, soon)]
        count = sa.select(sa.func.count()).select_from(privacy_requests).where(*where)
        total = int(self._conn.execute(count).scalar_one())
        query = (
            sa.select(*REQUEST_COLUMNS)
            .where(*where)
            .order_by(_rank(now, soon), _pr.due_at, _pr.id)
            .limit(limit)
            .offset(offset)
        )
        rows = [to_request(row) for row in self._conn.execute(query).mappings()]
        return rows, total
