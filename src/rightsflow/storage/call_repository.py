"""System calls: questions put to services and people (their one-time tokens as hashes)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping

from rightsflow.domain.errors import NotFound
from rightsflow.domain.records import SystemCallRecord
from rightsflow.storage.tables import system_calls

_sc = system_calls.c
_COLUMNS = tuple(f.name for f in fields(SystemCallRecord))


def _to_call(row: RowMapping) -> SystemCallRecord:
    values: dict[str, Any] = {name: row[name] for name in _COLUMNS}
    values["counts"] = dict(values["counts"] or {})
    return SystemCallRecord(**values)


class SqlCallRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def put(self, call: SystemCallRecord) -> None:
        """Insert or replace the call for (request, system, operation)."""
        values = {name: getattr(call, name) for name in _COLUMNS}
        self._conn.execute(
            system_calls.delete().where(
                _sc.request_id == call.request_id,
                _sc.system == call.system,
                _sc.operation == call.operation,
            )
        )
        self._conn.execute(system_calls.insert().values(values))

    def get(self, call_id: str) -> SystemCallRecord:
        row = self._conn.execute(sa.select(system_calls).where(_sc.id == call_id)).mappings()
        found = row.first()
        if found is None:
            raise NotFound("no such call or task")
        return _to_call(found)

    def find(self, request_id: str, system: str, operation: str) -> SystemCallRecord | None:
        query = sa.select(system_calls).where(
            _sc.request_id == request_id, _sc.system == system, _sc.operation == operation
        )
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _to_call(row)

    def for_request(self, request_id: str) -> Sequence[SystemCallRecord]:
        query = (
            sa.select(system_calls)
            .where(_sc.request_id == request_id)
            .order_by(_sc.system, _sc.operation)
        )
        return [_to_call(r) for r in self._conn.execute(query).mappings()]

    def awaiting(self, assignee: str | None = None) -> Sequence[SystemCallRecord]:
        query = sa.select(system_calls).where(_sc.status.in_(("pending", "overdue")))
        if assignee is not None:
            query = query.where(_sc.assignee == assignee)
        query = query.order_by(_sc.due_at, _sc.id)
        return [_to_call(r) for r in self._conn.execute(query).mappings()]
