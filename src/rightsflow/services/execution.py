"""The steps a request's workflow runs. Each is idempotent: re-running one after a crash
finds its result already recorded (or the rows already erased) and changes nothing twice."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TypeVar

from rightsflow.domain.connector import Row
from rightsflow.domain.errors import Conflict, ConnectorFailure
from rightsflow.domain.plan import ExecutionPlan, PlanNode
from rightsflow.domain.planner import plan_request
from rightsflow.domain.requests import RequestStatus, RequestType
from rightsflow.domain.system_waves import plan_waves
from rightsflow.services import audit, consent_erasure
from rightsflow.services.lookups import lookup_for, restrict_to
from rightsflow.services.platform import Platform
from rightsflow.services.ports import NodeResult, UnitOfWork
from rightsflow.services.rows import PAGE_ROWS, iter_rows, seal_page, stored_pages
from rightsflow.services.subject import open_subject

T = TypeVar("T")


@dataclass(frozen=True)
class Outline:
    """What the workflow needs to drive a request: addresses only, no personal data.

    Collections are read (`waves`) and written (`erase_groups`) row by row; systems that answer
    for themselves are asked once each, in their wave (`asked`), to erase (`erasing`) and to
    be read again after (`rechecking`)."""

    request_type: str
    waves: list[list[str]]
    erase_groups: list[list[str]]
    active: bool  # False when the request was canceled or finished meanwhile
    asked: list[list[str]] = field(default_factory=list)  # per wave, systems asked
    erasing: list[str] = field(default_factory=list)
    rechecking: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RequestState:
    status: str
    from_agent: bool  # an authorized agent sent it: tell the agent of each change


def state_of(platform: Platform, request_id: str) -> RequestState:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
    return RequestState(request.status.value, request.source.startswith("agent:"))


def begin(platform: Platform, request_id: str) -> Outline:
    """Move the request to EXECUTING and fix its plan (a retry follows the same plan)."""
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.status not in (RequestStatus.RECEIVED, RequestStatus.EXECUTING):
            return Outline(request.type.value, [], [], active=False)
        if not request.type.touches_data:
            # An opt-out is a decision to record (propagating it is consent's job): no plan.
            if request.status is not RequestStatus.EXECUTING:
                audit.transition(uow, request, RequestStatus.EXECUTING, platform.clock())
            uow.commit()
            return Outline(request.type.value, [], [], active=True)
        plan = _stored_plan(uow, request_id)
        if plan is None:
            policy = platform.policies[request.policy_key]
            subject = open_subject(
                platform.vault, request_id, uow.requests.sealed_identities(request_id)
            )
            plan = plan_request(
                platform.datamap, policy, request.identity_types, subject.corrections
            )
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
    return outline(platform, plan)


def outline(platform: Platform, plan: ExecutionPlan) -> Outline:
    asked = {n.system for n in plan.nodes if platform.connectors.answers_itself(n.system)}
    waves = plan_waves(plan, asked)
    writing = sorted({n.system for n in plan.nodes if n.erases and n.system in asked})
    if writing and plan.request_type is not RequestType.ERASURE:
        raise Conflict(
            f"{', '.join(writing)} answer(s) for themselves and can only be asked to give or "
            f"erase data, not to carry out {plan.request_type.value}"
        )
    groups = [[a for a in g if plan.node(a).system not in asked] for g in plan.erase_order]
    return Outline(
        plan.request_type.value,
        waves.rows,
        [g for g in groups if g],
        active=True,
        asked=waves.systems,
        erasing=writing,
        rechecking=[s for s in writing if platform.connectors.system_connector(s).rechecks],
    )


def _stored_plan(uow: UnitOfWork, request_id: str) -> ExecutionPlan | None:
    raw = uow.requests.plan(request_id)
    return ExecutionPlan.from_dict(raw) if raw else None


_NOT_PLANNED = "the request has not been planned yet"


def planned(uow: UnitOfWork, request_id: str) -> ExecutionPlan:
    """The request's plan, inside the caller's unit of work; `Conflict` before planning."""
    plan = _stored_plan(uow, request_id)
    if plan is None:
        raise Conflict(_NOT_PLANNED)
    return plan


def load_plan(
    platform: Platform, request_id: str, *, require_executing: bool = True
) -> ExecutionPlan:
    with platform.uow() as uow:
        if require_executing:
            return executing_plan(uow, request_id)
        uow.requests.get(request_id)  # NotFound for an unknown request
        return planned(uow, request_id)


def executing_plan(uow: UnitOfWork, request_id: str) -> ExecutionPlan:
    """The plan of a request that is executing, inside the caller's unit of work; `Conflict`
    when it is not executing (e.g. canceled meanwhile) or not planned yet."""
    request = uow.requests.get(request_id)
    if request.status is not RequestStatus.EXECUTING:
        raise Conflict(f"request is {request.status.value}, not executing")
    return planned(uow, request_id)


def retrieve(platform: Platform, request_id: str, address: str) -> int:
    """Find the subject's rows in one collection, page by page (a subject with millions of rows
    is streamed, never held whole); returns how many were found."""
    plan = load_plan(platform, request_id)
    with platform.uow() as uow:
        done = uow.results.get(request_id, address, "retrieve")
        if done is not None and done.status == "done":
            return done.rows_found
        node = plan.node(address)
        lookup = lookup_for(platform, uow, request_id, plan, node)
    connector = platform.connectors.for_system(node.system)
    pages = guarded(
        platform,
        request_id,
        address,
        "retrieve",
        lambda: _store_pages(
            platform,
            request_id,
            node,
            restrict_to(lookup, connector.retrieve_pages(node, lookup.values, PAGE_ROWS)),
        ),
    )
    found = sum(pages)
    with platform.uow() as uow:
        uow.results.clear_pages(request_id, address, from_page=len(pages))
        uow.results.put(
            NodeResult(
                request_id, address, "retrieve", rows_found=found, updated_at=platform.clock()
            )
        )
        audit.record(
            uow, request_id, "node.retrieved", platform.clock(), address=address, rows=found
        )
        uow.commit()
    return found


def _store_pages(
    platform: Platform, request_id: str, node: PlanNode, pages: Iterable[list[Row]]
) -> list[int]:
    """Seal and store each page as it arrives (a rerun overwrites from page 0); row counts."""
    counts: list[int] = []
    for rows in pages:
        sealed = seal_page(platform.vault, request_id, rows)
        with platform.uow() as uow:
            uow.results.put_page(request_id, node.address, len(counts), sealed, len(rows))
            uow.commit()
        counts.append(len(rows))
    return counts


def guarded(
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


def rows_found(platform: Platform, request_id: str, address: str) -> list[Row]:
    """The rows the retrieve step found in one collection (none if it found nothing)."""
    with platform.uow() as uow:
        pages = stored_pages(uow.results, request_id, address)
        return list(iter_rows(platform.vault, request_id, pages))


def finish(platform: Platform, request_id: str, failure: str | None = None) -> str:
    """Complete or fail the request (no-op if it was canceled meanwhile); returns the status."""
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.status is not RequestStatus.EXECUTING:
            return request.status.value
        new = RequestStatus.FAILED if failure else RequestStatus.COMPLETED
        if new is RequestStatus.COMPLETED and request.type is RequestType.ERASURE:
            consent_erasure.erase_for_request(platform, uow, request_id)  # experiments, sealed
        audit.transition(uow, request, new, platform.clock(), reason=failure)
        uow.commit()
    return new.value
