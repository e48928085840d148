"""What a system's answer means for the request: rows found, rows erased, rows still there.

An answer is applied in one transaction with the call's new state, so a request never shows
a system as answered without its results, or results without the answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from rightsflow.domain.connector import Row, SystemAnswer
from rightsflow.domain.plan import ExecutionPlan, PlanNode
from rightsflow.domain.records import SystemCallRecord
from rightsflow.services import audit
from rightsflow.services.platform import Platform
from rightsflow.services.ports import NodeResult, UnitOfWork
from rightsflow.services.rows import PAGE_ROWS, iter_rows, seal_page, stored_pages


def system_nodes(plan: ExecutionPlan, system: str, operation: str) -> list[PlanNode]:
    """The collections of `system` an operation covers (erase and re-check: those written)."""
    nodes = [n for n in plan.nodes if n.system == system]
    return nodes if operation == "access" else [n for n in nodes if n.erases]


def settle(
    platform: Platform,
    uow: UnitOfWork,
    plan: ExecutionPlan,
    call: SystemCallRecord,
    answer: SystemAnswer,
    *,
    actor: str,
    outcome: str = "done",
) -> None:
    """Record `answer` to `call` (inside the caller's unit of work; the caller commits)."""
    nodes = system_nodes(plan, call.system, call.operation)
    if call.operation == "access":
        counts = {n.collection: _store_rows(platform, uow, call, n, answer) for n in nodes}
    elif call.operation == "erase":
        counts = {n.collection: _store_erase(platform, uow, call, n, answer) for n in nodes}
    else:
        counts = {n.collection: _store_recheck(platform, uow, call, n, answer) for n in nodes}
    call.status = "answered"
    call.answered_at = platform.clock()
    call.actor = actor
    call.outcome = outcome
    call.counts = counts
    uow.calls.put(call)
    audit.record(
        uow,
        call.request_id,
        "system.answered",
        platform.clock(),
        actor=actor,
        system=call.system,
        operation=call.operation,
        outcome=outcome,
        counts=counts,
    )


def _store_rows(
    platform: Platform,
    uow: UnitOfWork,
    call: SystemCallRecord,
    node: PlanNode,
    answer: SystemAnswer,
) -> int:
    rows = [{f: r.get(f) for f in node.fetch_fields} for r in answer.rows.get(node.collection, ())]
    uow.results.clear_pages(call.request_id, node.address)
    for page, start in enumerate(range(0, len(rows), PAGE_ROWS)):
        chunk = rows[start : start + PAGE_ROWS]
        sealed = seal_page(platform.vault, call.request_id, chunk)
        uow.results.put_page(call.request_id, node.address, page, sealed, len(chunk))
    uow.results.put(
        NodeResult(
            call.request_id,
            node.address,
            "retrieve",
            rows_found=len(rows),
            updated_at=platform.clock(),
        )
    )
    return len(rows)


def _store_erase(
    platform: Platform,
    uow: UnitOfWork,
    call: SystemCallRecord,
    node: PlanNode,
    answer: SystemAnswer,
) -> int:
    erased = int(answer.counts.get(node.collection, 0))
    found = uow.results.get(call.request_id, node.address, "retrieve")
    deleting = node.action == "delete"
    uow.results.put(
        NodeResult(
            call.request_id,
            node.address,
            "erase",
            rows_found=found.rows_found if found else 0,
            rows_deleted=erased if deleting else 0,
            rows_masked=0 if deleting else erased,
            rows_changed=erased,
            updated_at=platform.clock(),
        )
    )
    return erased


def _store_recheck(
    platform: Platform,
    uow: UnitOfWork,
    call: SystemCallRecord,
    node: PlanNode,
    answer: SystemAnswer,
) -> int:
    before = list(
        iter_rows(
            platform.vault,
            call.request_id,
            stored_pages(uow.results, call.request_id, node.address),
        )
    )
    left = still_there(node, before, answer.rows.get(node.collection, ()))
    uow.results.put(
        NodeResult(
            call.request_id,
            node.address,
            "recheck",
            remaining=left,
            updated_at=platform.clock(),
        )
    )
    return left


def still_there(node: PlanNode, before: Sequence[Row], now: Iterable[Row]) -> int:
    """How many rows found before the erase a system still returns with targeted values (or
    at all, for a delete). Rows are matched by primary key when the system returns it."""
    now_rows = list(now)
    keyed = bool(node.primary_key) and all(
        all(k in r for k in node.primary_key) for r in [*before, *now_rows]
    )
    if keyed:
        current = {tuple(r[k] for k in node.primary_key): r for r in now_rows}
        return sum(
            1
            for row in before
            if (match := current.get(tuple(row[k] for k in node.primary_key))) is not None
            and (node.action == "delete" or _holds_targeted(node, row, [match]))
        )
    if node.action == "delete":
        return min(len(before), len(now_rows))
    return sum(1 for row in before if _holds_targeted(node, row, now_rows))


def _holds_targeted(node: PlanNode, row: Row, candidates: Sequence[Row]) -> bool:
    for target in node.targets:
        value = _at(row, target.path)
        if value is not None and any(_at(c, target.path) == value for c in candidates):
            return True
    return False


def _at(row: Row, path: str) -> Any:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value
