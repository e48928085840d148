"""A request's progress per system and collection, from its stored plan and node results."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rightsflow.api.rest.schemas import (
    CollectionProgress,
    PhaseState,
    Progress,
    RequestDetailOut,
    SystemQuestion,
    Unreachable,
)
from rightsflow.domain.records import SystemCallRecord
from rightsflow.services.ports import NodeResult
from rightsflow.services.requests import RequestDetail

_ERASING = frozenset({"mask", "delete"})


def _phase(result: NodeResult | None) -> PhaseState:
    if result is None:
        return PhaseState(status="pending")
    return PhaseState(
        status=result.status,
        rows_found=result.rows_found,
        rows_masked=result.rows_masked,
        rows_deleted=result.rows_deleted,
        remaining=result.remaining,
        detail=result.detail if result.status == "failed" else None,
        updated_at=result.updated_at,
    )


def _question(call: SystemCallRecord) -> SystemQuestion:
    return SystemQuestion(
        system=call.system,
        operation=call.operation,
        status=call.status,
        asked_at=call.issued_at,
        due_at=call.due_at,
        answered_at=call.answered_at,
        answered_by=call.actor,
        outcome=call.outcome,
        reminders=call.reminders,
        detail=call.detail,
    )


def build_progress(
    plan: Mapping[str, Any] | None,
    results: Sequence[NodeResult],
    calls: Sequence[SystemCallRecord] = (),
) -> Progress:
    if plan is None:
        return Progress(planned=False)
    by_key = {(r.address, r.phase): r for r in results}
    systems: dict[str, list[CollectionProgress]] = {}
    for node in plan.get("nodes", ()):
        address, action = str(node["address"]), str(node["action"])
        erases = action in _ERASING
        systems.setdefault(str(node["system"]), []).append(
            CollectionProgress(
                collection=address,
                action=action,
                retrieve=_phase(by_key.get((address, "retrieve"))),
                erase=_phase(by_key.get((address, "erase"))) if erases else None,
                recheck=_phase(by_key.get((address, "recheck"))) if erases else None,
            )
        )
    unreachable = [
        Unreachable(collection=str(s["address"]), reason=str(s["reason"]))
        for s in plan.get("skipped", ())
        if s.get("holds_targeted_data")
    ]
    return Progress(
        planned=True,
        systems=systems,
        unreachable=unreachable,
        asked=[_question(c) for c in calls],
    )


def detail_out(found: RequestDetail) -> RequestDetailOut:
    request = found.request
    return RequestDetailOut(
        id=request.id,
        type=request.type.value,
        status=request.status.value,
        regime=request.regime,
        policy=request.policy_key,
        received_at=request.received_at,
        due_at=request.due_at,
        completed_at=request.completed_at,
        failure_reason=request.failure_reason,
        attempt=request.attempt,
        progress=build_progress(found.plan, found.results, found.calls),
    )
