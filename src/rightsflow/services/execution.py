"""The steps a request's workflow runs. Each is idempotent: re-running one after a crash
finds its result already recorded (or the rows already erased) and changes nothing twice."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from rightsflow.domain.connector import Row, Scalar
from rightsflow.domain.errors import Conflict, ConnectorFailure
from rightsflow.domain.plan import ExecutionPlan, PlanNode
from rightsflow.domain.planner import plan_request
from rightsflow.domain.requests import RequestStatus, RequestType
from rightsflow.services import audit
from rightsflow.services.erasure import changes_for, key_of, remaining_rows
from rightsflow.services.platform import Platform
from rightsflow.services.ports import NodeResult, UnitOfWork
from rightsflow.services.rows import open_rows, seal_rows

T = TypeVar("T")


@dataclass(frozen=True)
class Outline:
    """What the workflow needs to drive a request: addresses only, no personal data."""

    request_type: str
    waves: list[list[str]]
    erase_groups: list[list[str]]
    active: bool  # False when the request was canceled or finished meanwhile


def begin(platform: Platform, request_id: str) -> Outline:
    """Move the request to EXECUTING and fix its plan (a retry follows the same plan)."""
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.status in (RequestStatus.CANCELED, RequestStatus.COMPLETED):
            return Outline(request.type.value, [], [], active=False)
        plan = _stored_plan(uow, request_id)
        if plan is None:
            policy = platform.policies[request.policy_key]
            plan = plan_request(platform.datamap, policy, request.identity_types)
            uow.requests.save_plan(request_id, plan.to_dict())
            audit.record(
                uow,
                request_id,
                "request.planned",
                platform.clock(),
                nodes=len(plan.nodes),
                unreachable=[s.address for s in plan.unreachable],
            )
        if request.status is not RequestStatus.EXECUTING:
            audit.transition(uow, request, RequestStatus.EXECUTING, platform.clock())
        uow.commit()
    return Outline(
        request.type.value,
        [list(w) for w in plan.waves],
        [list(g) for g in plan.erase_order],
        active=True,
    )


def _stored_plan(uow: UnitOfWork, request_id: str) -> ExecutionPlan | None:
    raw = uow.requests.plan(request_id)
    return ExecutionPlan.from_dict(raw) if raw else None


def load_plan(
    platform: Platform, request_id: str, *, require_executing: bool = True
) -> ExecutionPlan:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        plan = _stored_plan(uow, request_id)
    if require_executing and request.status is not RequestStatus.EXECUTING:
        raise Conflict(f"request is {request.status.value}, not executing")
    if plan is None:
        raise Conflict("the request has not been planned yet")
    return plan


def retrieve(platform: Platform, request_id: str, address: str) -> int:
    """Find the subject's rows in one collection; returns how many were found."""
    plan = load_plan(platform, request_id)
    with platform.uow() as uow:
        done = uow.results.get(request_id, address, "retrieve")
        if done is not None and done.status == "done":
            return done.rows_found
        node = plan.node(address)
        lookups = _lookups(platform, uow, request_id, node)
    rows = _guarded(
        platform,
        request_id,
        address,
        "retrieve",
        lambda: platform.connectors.for_system(node.system).retrieve(node, lookups),
    )
    with platform.uow() as uow:
        uow.results.put(
            NodeResult(
                request_id,
                address,
                "retrieve",
                rows_found=len(rows),
                sealed_rows=seal_rows(platform.vault, request_id, rows),
                updated_at=platform.clock(),
            )
        )
        audit.record(
            uow, request_id, "node.retrieved", platform.clock(), address=address, rows=len(rows)
        )
        uow.commit()
    return len(rows)


def _lookups(
    platform: Platform, uow: UnitOfWork, request_id: str, node: PlanNode
) -> dict[str, list[Scalar]]:
    identities: dict[str, str] = json.loads(
        platform.vault.open(request_id, uow.requests.sealed_identities(request_id))
    )
    values: dict[str, set[Scalar]] = {}
    for given in node.identity_inputs:
        values.setdefault(given.field, set()).add(identities[given.identity])
    for edge in node.edge_inputs:
        found = uow.results.get(request_id, edge.source_collection, "retrieve")
        if found is None or found.status != "done":
            raise Conflict(f"{edge.source_collection} has not been read yet")
        rows = open_rows(platform.vault, request_id, found.sealed_rows)
        column = values.setdefault(edge.target_field, set())
        column.update(r[edge.source_field] for r in rows if r.get(edge.source_field) is not None)
    return {f: sorted(v, key=repr) for f, v in values.items() if v}


def _guarded(
    platform: Platform, request_id: str, address: str, phase: str, call: Callable[[], T]
) -> T:
    """Run a connector call; record a failure (reason only) before letting it propagate."""
    try:
        return call()
    except ConnectorFailure as exc:
        with platform.uow() as uow:
            uow.results.put(
                NodeResult(
                    request_id,
                    address,
                    phase,
                    status="failed",
                    detail=str(exc),
                    updated_at=platform.clock(),
                )
            )
            uow.commit()
        raise


def erase(platform: Platform, request_id: str, address: str) -> int:
    """Mask or delete the rows found in one collection; returns rows erased."""
    plan = load_plan(platform, request_id)
    node = plan.node(address)
    with platform.uow() as uow:
        done = uow.results.get(request_id, address, "erase")
        if done is not None and done.status == "done":
            return done.rows_masked + done.rows_deleted
        found = uow.results.get(request_id, address, "retrieve")
    rows = open_rows(platform.vault, request_id, found.sealed_rows if found else None)
    connector = platform.connectors.for_system(node.system)
    result = NodeResult(request_id, address, "erase", rows_found=len(rows))
    if node.action == "delete":
        keys = [key_of(node, r) for r in rows]
        result.rows_changed = _guarded(
            platform, request_id, address, "erase", lambda: connector.delete(node, keys)
        )
        result.rows_deleted = len(keys)
    else:
        changes = changes_for(node, rows, platform.vault.masking_key())
        result.rows_changed = _guarded(
            platform, request_id, address, "erase", lambda: connector.mask(node, changes)
        )
        result.rows_masked = len(changes)
    result.updated_at = platform.clock()
    with platform.uow() as uow:
        uow.results.put(result)
        audit.record(
            uow,
            request_id,
            "node.erased",
            platform.clock(),
            address=address,
            masked=result.rows_masked,
            deleted=result.rows_deleted,
            changed=result.rows_changed,
        )
        uow.commit()
    return result.rows_masked + result.rows_deleted


def recheck(platform: Platform, request_id: str) -> list[str]:
    """Read again what was erased; returns failure reasons (empty when verified)."""
    plan = load_plan(platform, request_id)
    problems: list[str] = []
    for node in (n for n in plan.nodes if n.erases):
        remaining = _recheck_node(platform, request_id, node)
        if remaining:
            problems.append(f"{node.address}: {remaining} row(s) still hold targeted data")
    return problems


def _recheck_node(platform: Platform, request_id: str, node: PlanNode) -> int:
    with platform.uow() as uow:
        found = uow.results.get(request_id, node.address, "retrieve")
        lookups = _lookups(platform, uow, request_id, node)
    before = open_rows(platform.vault, request_id, found.sealed_rows if found else None)
    connector = platform.connectors.for_system(node.system)
    keys = [key_of(node, r) for r in before]
    now_rows: list[Row] = _guarded(
        platform,
        request_id,
        node.address,
        "recheck",
        lambda: _dedupe(
            node, connector.fetch_by_keys(node, keys) + connector.retrieve(node, lookups)
        ),
    )
    left = remaining_rows(node, before, now_rows, platform.vault.masking_key())
    with platform.uow() as uow:
        uow.results.put(
            NodeResult(
                request_id,
                node.address,
                "recheck",
                rows_found=len(now_rows),
                remaining=left,
                status="done" if left == 0 else "failed",
                updated_at=platform.clock(),
            )
        )
        uow.commit()
    return left


def _dedupe(node: PlanNode, rows: Sequence[Row]) -> list[Row]:
    seen: dict[tuple[object, ...], Row] = {}
    for row in rows:
        seen.setdefault(tuple(key_of(node, row).values()), row)
    return list(seen.values())


def finish(platform: Platform, request_id: str, failure: str | None = None) -> str:
    """Complete or fail the request (no-op if it was canceled meanwhile); returns the status."""
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.status is not RequestStatus.EXECUTING:
            return request.status.value
        new = RequestStatus.FAILED if failure else RequestStatus.COMPLETED
        audit.transition(uow, request, new, platform.clock(), reason=failure)
        uow.commit()
    return new.value


def is_access(outline: Outline) -> bool:
    return outline.request_type == RequestType.ACCESS.value
