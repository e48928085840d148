"""What the console's request page shows, from the same services as the REST request routes:
the detail (GET /api/v1/privacy-requests/{id}: no identities), the audit trail, the execution
plan as a graph with its table, per-system results and, for finished erasures, the receipt."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from markupsafe import Markup

from rightsflow.api.rest.progress import build_progress
from rightsflow.api.rest.schemas import CollectionProgress, PhaseState, Progress
from rightsflow.api.web.console_auth import Operator
from rightsflow.api.web.graph_svg import GraphEdge, GraphNode, draw
from rightsflow.domain.access import Scope
from rightsflow.domain.requests import TERMINAL, DenialReason, PrivacyRequest, RequestStatus
from rightsflow.services import receipt, requests, tasks
from rightsflow.services.lifecycle import REASON_TEXT
from rightsflow.services.platform import Platform
from rightsflow.services.ports import AuditEvent

S = RequestStatus
DENY_REASONS = tuple((r.value, REASON_TEXT[r]) for r in DenialReason)
_DENIABLE = frozenset({S.RECEIVED, S.AWAITING_VERIFICATION, S.AWAITING_APPROVAL})


@dataclass(frozen=True)
class ReceiptSummary:
    verified: bool
    collections: int
    rows_found: int
    rows_erased: int  # masked or deleted
    rows_kept: int
    not_reached: int


@dataclass(frozen=True)
class RequestView:
    request: PrivacyRequest
    progress: Progress
    graph: Markup
    events: Sequence[AuditEvent]
    receipt: ReceiptSummary | None
    actions: frozenset[str]  # what this person may do now (their role and the status)
    has_package: bool
    # Manual tasks still waiting, with their collections: attestation forms (requests:approve)
    open_tasks: Sequence[tuple[tasks.TaskSummary, list[tasks.TaskCollection]]] = ()


def node_state(row: CollectionProgress) -> str:
    """One word for a collection: failed, done (every phase it needs), running or pending."""
    phases = [p for p in (row.retrieve, row.erase, row.recheck) if p is not None]
    if any(p.status == "failed" for p in phases):
        return "failed"
    if all(p.status == "done" for p in phases):
        return "done"
    return "running" if any(p.status == "done" for p in phases) else "pending"


def plan_graph(plan: Mapping[str, Any] | None, progress: Progress) -> Markup:
    if plan is None:
        return Markup("")
    states = {row.collection: node_state(row) for rows in progress.systems.values() for row in rows}
    nodes = [
        GraphNode(
            id=str(n["address"]),
            label=str(n["address"]),
            detail=str(n["action"]),
            state=states.get(str(n["address"]), "pending"),
        )
        for n in plan.get("nodes", ())
    ]
    edges = [
        GraphEdge(
            str(e["source_collection"]),
            str(n["address"]),
            f"{e['source_field']} → {e['target_field']}",
        )
        for n in plan.get("nodes", ())
        for e in n.get("edge_inputs", ())
    ]
    return draw(nodes, edges, title="Execution plan: collections and the keys that link them")


def _receipt(platform: Platform, request: PrivacyRequest) -> ReceiptSummary | None:
    if request.type.reads_only or request.status is not S.COMPLETED:
        return None
    built = receipt.build(platform, request.id)
    return ReceiptSummary(
        verified=built.verified,
        collections=len(built.lines),
        rows_found=sum(line.rows_found for line in built.lines),
        rows_erased=sum(line.rows_masked + line.rows_deleted for line in built.lines),
        rows_kept=sum(line.rows_kept for line in built.lines),
        not_reached=len(built.not_reached),
    )


def allowed_actions(operator: Operator, request: PrivacyRequest, now: datetime) -> frozenset[str]:
    """The actions to offer: the role's scopes (as the REST routes) and the request's state.
    The services still refuse a wrong state (409); the routes still check the scope (403)."""
    offered: set[str] = set()
    if operator.can(Scope.REQUESTS_APPROVE):
        if request.status is S.AWAITING_VERIFICATION:
            offered.add("verify")
        if request.status is S.AWAITING_APPROVAL:
            offered.add("approve")
        if request.status in _DENIABLE:
            offered.add("deny")
        open_ = request.status not in TERMINAL
        if open_ and request.extended_at is None and now <= request.due_at:
            offered.add("extend")
    if operator.can(Scope.REQUESTS_WRITE) and request.status is S.FAILED:
        offered.add("retry")
    return frozenset(offered)


def request_view(platform: Platform, operator: Operator, request_id: str) -> RequestView:
    """Everything the page shows (sync service calls: run it in a thread)."""
    found = requests.detail(platform, request_id)
    request = found.request
    progress = build_progress(found.plan, found.results, found.calls)
    has_package = (
        request.type.reads_only
        and request.status is S.COMPLETED
        and operator.can(Scope.PACKAGES_READ)
    )
    return RequestView(
        request=request,
        progress=progress,
        graph=plan_graph(found.plan, progress),
        events=requests.audit_trail(platform, request_id),
        receipt=_receipt(platform, request),
        actions=allowed_actions(operator, request, platform.clock()),
        has_package=has_package,
        open_tasks=(
            tasks.request_tasks(platform, request_id)
            if operator.can(Scope.REQUESTS_APPROVE) and request.status not in TERMINAL
            else ()
        ),
    )


def phase_text(phase: PhaseState | None) -> str:
    if phase is None:
        return "not needed"
    return phase.status
