"""SQL repositories over one Connection (the unit of work owns the transaction).

They satisfy the repository Protocols in services/ports.py structurally."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.exc import IntegrityError

from rightsflow.domain.errors import Conflict, InvalidInput, NotFound
from rightsflow.domain.records import NodeResult, RequestFilter
from rightsflow.domain.requests import PrivacyRequest, RequestStatus, RequestType
from rightsflow.storage.tables import (
    node_results,
    privacy_requests,
    result_pages,
    utcnow,
)

_UNFINISHED = tuple(
    s.value
    for s in (
        RequestStatus.RECEIVED,
        RequestStatus.AWAITING_VERIFICATION,
        RequestStatus.AWAITING_APPROVAL,
        RequestStatus.EXECUTING,
    )
)
_pr = privacy_requests.c
_nr = node_results.c
_rp = result_pages.c


def idempotency_digest(key: str) -> str:
    """What is stored for a client's idempotency key: its sha256 hex (never the raw key)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _not_found() -> NotFound:
    return NotFound("privacy request not found")


def to_request(row: RowMapping) -> PrivacyRequest:
    """A stored request. `idempotency_key` carries the stored digest, not the client's key."""
    return PrivacyRequest(
        id=row["id"],
        type=RequestType(row["type"]),
        regime=row["regime"],
        policy_key=row["policy_key"],
        status=RequestStatus(row["status"]),
        received_at=row["received_at"],
        due_at=row["due_at"],
        identity_types=tuple(row["identity_types"]),
        completed_at=row["completed_at"],
        failure_reason=row["failure_reason"],
        attempt=row["attempt"],
        idempotency_key=row["idempotency_key"],
        source=row["source"],
        deadline_notices=tuple(row["deadline_notices"] or ()),
        **{name: row[name] for name in _LIFECYCLE},
    )


# Lifecycle columns stored as they are on PrivacyRequest.
_LIFECYCLE = (
    "clock_started_at",
    "paused_since",
    "acknowledge_by",
    "acknowledged_at",
    "verify_by",
    "verified_at",
    "decided_at",
    "decided_by",
    "denial_reason",
    "extended_at",
    "extension_reason",
    "closed_at",
)


def _lifecycle_values(request: PrivacyRequest) -> dict[str, Any]:
    values: dict[str, Any] = {name: getattr(request, name) for name in _LIFECYCLE}
    values["deadline_notices"] = list(request.deadline_notices)
    return values


REQUEST_COLUMNS = [c for c in privacy_requests.c if c.name not in ("sealed_identities", "plan")]


class SqlRequestRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, request: PrivacyRequest, sealed_identities: bytes) -> None:
        now = utcnow()
        key = request.idempotency_key
        values: dict[str, Any] = {
            "id": request.id,
            "type": request.type.value,
            "status": request.status.value,
            "regime": request.regime,
            "policy_key": request.policy_key,
            "received_at": request.received_at,
            "due_at": request.due_at,
            "completed_at": request.completed_at,
            "failure_reason": request.failure_reason,
            "attempt": request.attempt,
            "idempotency_key": idempotency_digest(key) if key is not None else None,
            "identity_types": list(request.identity_types),
            "sealed_identities": sealed_identities,
            "created_at": now,
            "updated_at": now,
            "source": request.source,
            **_lifecycle_values(request),
        }
        try:
            self._conn.execute(privacy_requests.insert().values(values))
        except IntegrityError:
            raise Conflict(
                "a privacy request with this id or idempotency key already exists"
            ) from None

    def get(self, request_id: str) -> PrivacyRequest:
        query = sa.select(*REQUEST_COLUMNS).where(_pr.id == request_id)
        row = self._conn.execute(query).mappings().first()
        if row is None:
            raise _not_found()
        return to_request(row)

    def save(self, request: PrivacyRequest) -> None:
        """Persist the mutable fields: status, deadline, outcome, attempt and lifecycle facts."""
        update = (
            privacy_requests.update()
            .where(_pr.id == request.id)
            .values(
                status=request.status.value,
                due_at=request.due_at,
                completed_at=request.completed_at,
                failure_reason=request.failure_reason,
                attempt=request.attempt,
                updated_at=utcnow(),
                **_lifecycle_values(request),
            )
        )
        if self._conn.execute(update).rowcount == 0:
            raise _not_found()

    def by_idempotency_key(self, key: str) -> PrivacyRequest | None:
        query = sa.select(*REQUEST_COLUMNS).where(_pr.idempotency_key == idempotency_digest(key))
        row = self._conn.execute(query).mappings().first()
        return None if row is None else to_request(row)

    def sealed_identities(self, request_id: str) -> bytes:
        query = sa.select(_pr.sealed_identities).where(_pr.id == request_id)
        sealed = self._conn.execute(query).scalar_one_or_none()
        if sealed is None:
            raise _not_found()
        return bytes(sealed)

    def save_plan(self, request_id: str, plan: dict[str, Any]) -> None:
        update = (
            privacy_requests.update()
            .where(_pr.id == request_id)
            .values(plan=plan, updated_at=utcnow())
        )
        if self._conn.execute(update).rowcount == 0:
            raise _not_found()

    def plan(self, request_id: str) -> dict[str, Any] | None:
        row = self._conn.execute(sa.select(_pr.plan).where(_pr.id == request_id)).first()
        if row is None:
            raise _not_found()
        plan: dict[str, Any] | None = row[0]
        return plan

    def plans(self, request_ids: Sequence[str]) -> dict[str, dict[str, Any] | None]:
        """The plans of many requests in one query (unknown ids are left out)."""
        query = sa.select(_pr.id, _pr.plan).where(_pr.id.in_(list(request_ids)))
        return {row.id: row.plan for row in self._conn.execute(query)}

    def list(
        self, filters: RequestFilter, after: tuple[datetime, str] | None, limit: int
    ) -> Sequence[PrivacyRequest]:
        """Newest first (received_at, id descending); received_after <= t < received_before."""
        if limit < 1:
            raise InvalidInput("limit must be at least 1", field="limit")
        query = sa.select(*REQUEST_COLUMNS).where(*request_conditions(filters))
        if after is not None:
            at, last_id = after
            query = query.where(
                sa.or_(_pr.received_at < at, sa.and_(_pr.received_at == at, _pr.id < last_id))
            )
        query = query.order_by(_pr.received_at.desc(), _pr.id.desc()).limit(limit)
        return [to_request(row) for row in self._conn.execute(query).mappings()]

    def unfinished(self) -> Sequence[PrivacyRequest]:
        query = (
            sa.select(*REQUEST_COLUMNS)
            .where(_pr.status.in_(_UNFINISHED))
            .order_by(_pr.received_at, _pr.id)
        )
        return [to_request(row) for row in self._conn.execute(query).mappings()]


def request_conditions(filters: RequestFilter) -> list[sa.ColumnElement[bool]]:
    conditions: list[sa.ColumnElement[bool]] = []
    if filters.status is not None:
        conditions.append(_pr.status == filters.status.value)
    if filters.type is not None:
        conditions.append(_pr.type == filters.type.value)
    if filters.regime is not None:
        conditions.append(_pr.regime == filters.regime)
    if filters.received_after is not None:
        conditions.append(_pr.received_at >= filters.received_after)
    if filters.received_before is not None:
        conditions.append(_pr.received_at < filters.received_before)
    return conditions


_RESULT_FIELDS = (
    "status",
    "rows_found",
    "rows_masked",
    "rows_deleted",
    "rows_changed",
    "remaining",
    "detail",
    "sealed_rows",
    "updated_at",
    "evidence",
)


def _to_result(row: RowMapping) -> NodeResult:
    sealed = row["sealed_rows"]
    return NodeResult(
        request_id=row["request_id"],
        address=row["address"],
        phase=row["phase"],
        status=row["status"],
        rows_found=row["rows_found"],
        rows_masked=row["rows_masked"],
        rows_deleted=row["rows_deleted"],
        rows_changed=row["rows_changed"],
        remaining=row["remaining"],
        detail=row["detail"],
        sealed_rows=None if sealed is None else bytes(sealed),
        updated_at=row["updated_at"],
        evidence=dict(row["evidence"] or {}),
    )


class SqlResultRepository:
    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def get(self, request_id: str, address: str, phase: str) -> NodeResult | None:
        query = sa.select(node_results).where(
            _nr.request_id == request_id, _nr.address == address, _nr.phase == phase
        )
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _to_result(row)

    def put(self, result: NodeResult) -> None:
        """Insert or replace the result for (request_id, address, phase)."""
        values: dict[str, Any] = {
            "request_id": result.request_id,
            "address": result.address,
            "phase": result.phase,
            **{name: getattr(result, name) for name in _RESULT_FIELDS},
        }
        if values["updated_at"] is None:
            values["updated_at"] = utcnow()
        if not _upsert(self._conn, node_results, values, _RESULT_FIELDS):
            self._delete_one(result)
            self._conn.execute(node_results.insert().values(values))

    def _delete_one(self, result: NodeResult) -> None:
        self._conn.execute(
            node_results.delete().where(
                _nr.request_id == result.request_id,
                _nr.address == result.address,
                _nr.phase == result.phase,
            )
        )

    def for_request(self, request_id: str) -> Sequence[NodeResult]:
        return self.for_requests([request_id])

    def for_requests(self, request_ids: Sequence[str]) -> Sequence[NodeResult]:
        """The results of many requests in one query, each request's by phase and address."""
        query = (
            sa.select(node_results)
            .where(_nr.request_id.in_(list(request_ids)))
            .order_by(_nr.request_id, _nr.phase, _nr.address)
        )
        return [_to_result(row) for row in self._conn.execute(query).mappings()]

    def clear(
        self, request_id: str, phases: Sequence[str], addresses: Sequence[str] | None = None
    ) -> None:
        """Forget these phases' results (of `addresses` only, if given); clearing "retrieve"
        also drops the result pages."""
        if not phases:
            return
        results = node_results.delete().where(
            _nr.request_id == request_id, _nr.phase.in_(list(phases))
        )
        pages = result_pages.delete().where(_rp.request_id == request_id)
        if addresses is not None:
            results = results.where(_nr.address.in_(list(addresses)))
            pages = pages.where(_rp.address.in_(list(addresses)))
        self._conn.execute(results)
        if "retrieve" in phases:
            self._conn.execute(pages)

    def put_page(self, request_id: str, address: str, page: int, sealed: bytes, rows: int) -> None:
        """Insert or replace page `page` (0, 1, ...) of a retrieve result."""
        if page < 0 or rows < 0:
            raise InvalidInput("page and row count must not be negative", field="page")
        values: dict[str, Any] = {
            "request_id": request_id,
            "address": address,
            "page": page,
            "row_count": rows,
            "sealed": sealed,
        }
        if not _upsert(self._conn, result_pages, values, ("row_count", "sealed")):
            self._conn.execute(
                result_pages.delete().where(
                    _rp.request_id == request_id, _rp.address == address, _rp.page == page
                )
            )
            self._conn.execute(result_pages.insert().values(values))

    def pages(self, request_id: str, address: str) -> Iterator[bytes]:
        """The sealed pages in page order, fetched one per query (keyset), never all at once.

        Lazy: consume it inside the unit of work that gave it."""
        last = -1
        while True:
            query = (
                sa.select(_rp.page, _rp.sealed)
                .where(_rp.request_id == request_id, _rp.address == address, _rp.page > last)
                .order_by(_rp.page)
                .limit(1)
            )
            row = self._conn.execute(query).first()
            if row is None:
                return
            last = row.page
            yield bytes(row.sealed)

    def clear_pages(self, request_id: str, address: str, from_page: int = 0) -> None:
        """Drop pages numbered `from_page` and up (a rerun that found fewer rows drops the rest)."""
        self._conn.execute(
            result_pages.delete().where(
                _rp.request_id == request_id, _rp.address == address, _rp.page >= from_page
            )
        )


def _upsert(
    conn: Connection, table: sa.Table, values: dict[str, Any], update: Sequence[str]
) -> bool:
    """Insert or update on the primary key; False on a dialect without ON CONFLICT.

    A missing parent request (foreign key) is NotFound."""
    dialect = conn.dialect.name
    if dialect not in ("sqlite", "postgresql"):
        return False
    try:
        conn.execute(_upsert_statement(dialect, table, tuple(values), tuple(update)), values)
    except IntegrityError:
        raise _not_found() from None
    return True


@functools.lru_cache(maxsize=64)
def _upsert_statement(
    dialect: str, table: sa.Table, columns: tuple[str, ...], update: tuple[str, ...]
) -> sa.Insert:
    """Built once per shape: every step writes results, and building the construct (not
    running it) was a visible share of a worker's CPU."""
    insert = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
    return insert.values({name: sa.bindparam(name) for name in columns}).on_conflict_do_update(
        index_elements=list(table.primary_key.columns),
        set_={name: insert.excluded[name] for name in update},
    )
