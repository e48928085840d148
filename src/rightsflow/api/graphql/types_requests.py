"""GraphQL types of privacy requests: the request, its plan, results per system, audit trail
and receipt. Identities never appear; nested reads go through the per-request dataloaders."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from rightsflow.api.graphql.auth import guarded
from rightsflow.api.rest.progress import build_progress
from rightsflow.api.rest.schemas import CollectionProgress, PhaseState
from rightsflow.domain.access import Scope
from rightsflow.domain.requests import PrivacyRequest, allowed_next
from rightsflow.services import receipt
from rightsflow.services.ports import AuditEvent

Ctx = Info[Any, Any]


@strawberry.type(name="PlanNode")
class PlanNodeOut:
    address: str = strawberry.field(description="dataset:collection")
    system: str
    connector: str
    action: str = strawberry.field(description="read | return | mask | delete | keep | ...")
    wave: int = strawberry.field(description="Nodes of a wave run together, after the last")


@strawberry.type(name="PlanEdge", description="Keys found in one collection feed another")
class PlanEdgeOut:
    source_collection: str
    source_field: str
    target_collection: str
    target_field: str


@strawberry.type(name="Unreachable")
class UnreachableOut:
    collection: str
    reason: str


@strawberry.type(name="Plan")
class PlanOut:
    nodes: list[PlanNodeOut]
    edges: list[PlanEdgeOut]
    unreachable: list[UnreachableOut] = strawberry.field(
        description="Collections with targeted data the plan cannot reach"
    )
    erase_order: list[list[str]]

    @classmethod
    def of(cls, plan: Mapping[str, Any]) -> PlanOut:
        nodes = list(plan.get("nodes", ()))
        return cls(
            nodes=[
                PlanNodeOut(
                    address=str(n["address"]),
                    system=str(n["system"]),
                    connector=str(n["connector"]),
                    action=str(n["action"]),
                    wave=int(n["wave"]),
                )
                for n in nodes
            ],
            edges=[
                PlanEdgeOut(
                    source_collection=str(e["source_collection"]),
                    source_field=str(e["source_field"]),
                    target_collection=str(e["target_collection"]),
                    target_field=str(e["target_field"]),
                )
                for n in nodes
                for e in n.get("edge_inputs", ())
            ],
            unreachable=[
                UnreachableOut(collection=str(s["address"]), reason=str(s["reason"]))
                for s in plan.get("skipped", ())
                if s.get("holds_targeted_data")
            ],
            erase_order=[[str(a) for a in group] for group in plan.get("erase_order", ())],
        )


@strawberry.type(name="Phase")
class PhaseOut:
    status: str = strawberry.field(description="pending | done | failed")
    rows_found: int
    rows_masked: int
    rows_deleted: int
    remaining: int
    detail: str | None
    updated_at: datetime | None

    @classmethod
    def of(cls, phase: PhaseState) -> PhaseOut:
        return cls(**phase.model_dump())

    @classmethod
    def maybe(cls, phase: PhaseState | None) -> PhaseOut | None:
        return None if phase is None else cls.of(phase)


@strawberry.type(name="CollectionResult")
class CollectionResultOut:
    collection: str
    action: str
    retrieve: PhaseOut
    erase: PhaseOut | None
    recheck: PhaseOut | None

    @classmethod
    def of(cls, progress: CollectionProgress) -> CollectionResultOut:
        return cls(
            collection=progress.collection,
            action=progress.action,
            retrieve=PhaseOut.of(progress.retrieve),
            erase=PhaseOut.maybe(progress.erase),
            recheck=PhaseOut.maybe(progress.recheck),
        )


@strawberry.type(name="SystemResults")
class SystemResultsOut:
    system: str
    collections: list[CollectionResultOut]


@strawberry.type(name="AuditEvent")
class AuditEventOut:
    action: str
    at: datetime
    actor: str
    from_status: str | None
    to_status: str | None
    detail: JSON = strawberry.field(description="Ids and counts only")

    @classmethod
    def of(cls, event: AuditEvent) -> AuditEventOut:
        return cls(
            action=event.action,
            at=event.at,
            actor=event.actor,
            from_status=event.from_status,
            to_status=event.to_status,
            detail=cast(JSON, dict(event.detail)),
        )


@strawberry.type(name="PrivacyRequest")
class RequestOut:
    id: strawberry.ID
    status: str
    type: str
    regime: str
    policy: str
    source: str
    received_at: datetime
    due_at: datetime
    verified_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    denial_reason: str | None
    extended_at: datetime | None
    extension_reason: str | None
    completed_at: datetime | None
    closed_at: datetime | None
    failure_reason: str | None
    attempt: int
    next_actions: list[str] = strawberry.field(description="States it may move to next")

    @classmethod
    def of(cls, request: PrivacyRequest) -> RequestOut:
        return cls(
            id=strawberry.ID(request.id),
            status=request.status.value,
            type=request.type.value,
            regime=request.regime,
            policy=request.policy_key,
            source=request.source,
            received_at=request.received_at,
            due_at=request.due_at,
            verified_at=request.verified_at,
            decided_at=request.decided_at,
            decided_by=request.decided_by,
            denial_reason=request.denial_reason,
            extended_at=request.extended_at,
            extension_reason=request.extension_reason,
            completed_at=request.completed_at,
            closed_at=request.closed_at,
            failure_reason=request.failure_reason,
            attempt=request.attempt,
            next_actions=sorted(s.value for s in allowed_next(request.status)),
        )

    @guarded(Scope.REQUESTS_READ, "Null until planned")
    async def plan(self, info: Ctx) -> PlanOut | None:
        plan = await info.context.loaders.plans.load(str(self.id))
        return None if plan is None else PlanOut.of(plan)

    @guarded(
        Scope.REQUESTS_READ,
        "Progress per system and collection, in plan order",
    )
    async def results(self, info: Ctx) -> list[SystemResultsOut] | None:
        loaders = info.context.loaders
        plan, results = await asyncio.gather(
            loaders.plans.load(str(self.id)), loaders.results.load(str(self.id))
        )
        progress = build_progress(plan, results)
        return [
            SystemResultsOut(system=system, collections=[CollectionResultOut.of(c) for c in items])
            for system, items in progress.systems.items()
        ]

    @guarded(Scope.REQUESTS_READ, "Oldest first")
    async def audit(self, info: Ctx) -> list[AuditEventOut] | None:
        events: Sequence[AuditEvent] = await info.context.loaders.audit.load(str(self.id))
        return [AuditEventOut.of(e) for e in events]

    @guarded(
        Scope.REQUESTS_READ,
        "The signed erasure receipt (as REST's /receipt); an error until complete",
    )
    async def receipt(self, info: Ctx) -> JSON | None:
        signed = await asyncio.to_thread(receipt.signed, info.context.platform, str(self.id))
        return cast(JSON, signed)


@strawberry.type(name="PageInfo")
class PageInfoOut:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type(name="RequestEdge")
class RequestEdgeOut:
    cursor: str
    node: RequestOut


@strawberry.type(name="RequestConnection")
class RequestConnectionOut:
    nodes: list[RequestOut]
    edges: list[RequestEdgeOut]
    page_info: PageInfoOut
