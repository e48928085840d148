"""Use cases on privacy requests: submit, read, list, cancel, retry, resume."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rightsflow.domain.errors import Conflict, InvalidInput
from rightsflow.domain.policy import policy_for
from rightsflow.domain.records import SystemCallRecord
from rightsflow.domain.rectification import Correction, validate_corrections
from rightsflow.domain.regimes import acknowledge_due, get_regime, response_due
from rightsflow.domain.requests import (
    IDENTITY_TYPES,
    TERMINAL,
    PrivacyRequest,
    RequestStatus,
    RequestType,
    normalise_identities,
)
from rightsflow.services import audit, identity_lookup, lifecycle
from rightsflow.services.platform import Platform
from rightsflow.services.ports import AuditEvent, NodeResult, RequestFilter, WorkflowStarter
from rightsflow.services.subject import Subject, seal_subject


@dataclass(frozen=True)
class NewRequest:
    type: str
    identities: Mapping[str, object]
    regime: str
    policy: str | None = None
    idempotency_key: str | None = None
    corrections: Mapping[str, object] | None = None  # rectification: field address -> value
    source: str = "api"  # "api" | "privacy_center" | "agent:<id>" | "operator:<name>"
    verified: bool = False  # identity already verified by a trusted party (e.g. an agent)


@dataclass(frozen=True)
class RequestDetail:
    request: PrivacyRequest
    results: Sequence[NodeResult]
    plan: dict[str, object] | None
    calls: Sequence[SystemCallRecord] = ()  # questions put to services and people


def _request_type(raw: str) -> RequestType:
    try:
        return RequestType(raw)
    except ValueError:
        allowed = ", ".join(t.value for t in RequestType)
        raise InvalidInput(
            f"unknown request type; expected one of: {allowed}", field="type"
        ) from None


def _corrections(
    platform: Platform, request_type: RequestType, raw: Mapping[str, object] | None
) -> dict[str, Correction]:
    if request_type is RequestType.RECTIFICATION:
        return validate_corrections(platform.datamap, raw or {})
    if raw:
        raise InvalidInput("only rectification requests take corrections", field="corrections")
    return {}


def _policy_key(platform: Platform, request_type: RequestType, key: str | None) -> str:
    if request_type.touches_data:
        return policy_for(platform.policies, request_type, key).key
    if key is not None:
        raise InvalidInput(f"{request_type.value} requests take no policy", field="policy")
    return "none"  # a decision to record, not a plan over the data map


def submit(platform: Platform, new: NewRequest) -> tuple[PrivacyRequest, bool]:
    """Validate and store a request. Returns (request, created); an idempotent replay of the
    same key returns the original request and created=False."""
    request_type = _request_type(new.type)
    regime = get_regime(new.regime)
    regime.rule(request_type)  # refuses a right the regime does not grant
    known = frozenset(IDENTITY_TYPES) | platform.datamap.identity_types()
    identities = normalise_identities(new.identities, known)
    policy_key = _policy_key(platform, request_type, new.policy)
    corrections = _corrections(platform, request_type, new.corrections)
    key = None
    if new.idempotency_key is not None:
        key = platform.vault.lookup_hash(f"idempotency:{new.idempotency_key}")
    with platform.uow() as uow:
        if key is not None:
            existing = uow.requests.by_idempotency_key(key)
            if existing is not None:
                return existing, False
        now = platform.clock()
        request = PrivacyRequest(
            id=str(uuid.uuid4()),
            type=request_type,
            regime=regime.key,
            policy_key=policy_key,
            status=RequestStatus.RECEIVED,
            received_at=now,
            due_at=response_due(regime, request_type, now),
            identity_types=tuple(sorted(identities)),
            idempotency_key=key,
            source=new.source,
            clock_started_at=now,
            acknowledge_by=acknowledge_due(regime, request_type, now),
        )
        sealed = seal_subject(platform.vault, request.id, Subject(identities, corrections))
        uow.requests.add(request, sealed)
        identity_lookup.record(platform, uow, request.id, identities)
        uow.audit.append(
            AuditEvent(
                request_id=request.id,
                action="request.received",
                at=now,
                to_status=RequestStatus.RECEIVED.value,
                actor=new.source,
                detail={"type": request_type.value, "regime": regime.key, "policy": policy_key},
            )
        )
        lifecycle.admit(platform, uow, request, new.verified, now)
        uow.commit()
    return request, True


async def submit_and_start(
    platform: Platform, workflows: WorkflowStarter, new: NewRequest
) -> tuple[PrivacyRequest, bool]:
    request, created = submit(platform, new)
    if created:
        # If this start fails, the request stays RECEIVED and `resume_unfinished` starts it.
        await workflows.start(request.id, request.attempt)
    return request, created


def get(platform: Platform, request_id: str) -> PrivacyRequest:
    with platform.uow() as uow:
        return uow.requests.get(request_id)


def detail(platform: Platform, request_id: str) -> RequestDetail:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        return RequestDetail(
            request,
            uow.results.for_request(request_id),
            uow.requests.plan(request_id),
            uow.calls.for_request(request_id),
        )


def list_requests(
    platform: Platform, filters: RequestFilter, after: tuple[datetime, str] | None, limit: int
) -> Sequence[PrivacyRequest]:
    with platform.uow() as uow:
        return uow.requests.list(filters, after, limit)


def audit_trail(platform: Platform, request_id: str) -> Sequence[AuditEvent]:
    with platform.uow() as uow:
        uow.requests.get(request_id)
        return uow.audit.for_request(request_id)


async def cancel(
    platform: Platform, workflows: WorkflowStarter, request_id: str, actor: str
) -> PrivacyRequest:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.status in TERMINAL:
            raise Conflict(f"the request is already {request.status.value}")
        audit.transition(uow, request, RequestStatus.CANCELED, platform.clock(), actor=actor)
        for call in uow.calls.for_request(request_id):
            if call.awaiting:  # its task or callback token stops working
                call.status, call.detail = "canceled", "the request was canceled"
                uow.calls.put(call)
        uow.commit()
    await workflows.cancel(request_id)
    return request


def _row_level(platform: Platform, results: Sequence[NodeResult]) -> list[str]:
    """The collections among `results` that are read and written row by row."""

    def asked(address: str) -> bool:
        system = platform.datamap.system_for(address.split(":", 1)[0])
        return system is not None and platform.connectors.answers_itself(system.key)

    return sorted({r.address for r in results if not asked(r.address)})


async def retry(
    platform: Platform, workflows: WorkflowStarter, request_id: str, actor: str
) -> PrivacyRequest:
    """Run a failed request again from where it failed; finished steps are not redone."""
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.status is not RequestStatus.FAILED:
            raise Conflict(
                f"only failed requests can be retried; this one is {request.status.value}"
            )
        results = uow.results.for_request(request_id)
        if any(r.phase == "recheck" for r in results):
            # The re-check found data left behind (e.g. rows added meanwhile): look again,
            # in the collections read row by row. Systems that answered for themselves keep
            # their answers (asked again, they would give the same ones).
            uow.results.clear(
                request_id, ["retrieve", "erase", "recheck"], _row_level(platform, results)
            )
        request.attempt += 1
        audit.transition(
            uow,
            request,
            RequestStatus.EXECUTING,
            platform.clock(),
            actor=actor,
            detail={"attempt": request.attempt},
        )
        uow.commit()
    # The request's workflow waits after a failure; this wakes it (or starts it again).
    await workflows.changed(request.id)
    return request


async def resume_unfinished(platform: Platform, workflows: WorkflowStarter) -> int:
    """Make sure every unfinished request has a running workflow (after a crash or restart)."""
    with platform.uow() as uow:
        pending = list(uow.requests.unfinished())
    for request in pending:
        await workflows.start(request.id, request.attempt)
    return len(pending)
