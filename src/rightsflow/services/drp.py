"""Data Rights Protocol 1.0 use cases, business side: pair an agent, take its requests, report
their status, revoke them, and tell the agent when a status changes.

Requests are created and canceled through the request services like any other; this module
only adds what DRP needs (who sent it, where to call back) and speaks the protocol. Every
refusal is audited ("drp.refused", actor "agent:<id>" or "agent:unknown", the reason code only)
before it is raised.
"""

from __future__ import annotations

import contextlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import structlog

from rightsflow.domain.drp import (
    DrpRefused,
    Envelope,
    Refusal,
    check_envelope,
    check_version,
    message_digest,
    open_signed,
    parse_claims,
    parse_exercise,
)
from rightsflow.domain.drp_status import (
    DirectoryAgent,
    DrpRequestRecord,
    fingerprint,
    status_document,
)
from rightsflow.domain.errors import Conflict, ConnectorFailure, InvalidInput, NotFound
from rightsflow.domain.requests import RequestStatus
from rightsflow.services import audit, requests
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork, WorkflowStarter
from rightsflow.services.system_calls import token_digest

log = structlog.get_logger("rightsflow.drp")

UNKNOWN_ACTOR = "agent:unknown"
NO_REQUEST = ""  # audit events about no request (refused before one existed)


class Directory(Protocol):
    def agent(self, agent_id: str) -> DirectoryAgent | None: ...


class StatusPoster(Protocol):
    """Sends a status document to an agent's callback URL; returns the HTTP status code.
    Raises ConnectorFailure when nothing came back (unreachable, timed out)."""

    def post(self, url: str, document: Mapping[str, Any]) -> int: ...


@dataclass(frozen=True)
class DrpConfig:
    business_id: str
    voluntary_regime: str = "ccpa"  # deadlines for requests sent without a regime
    allow_http_callbacks: bool = False  # plain-http status_callback URLs (local setups only)


@dataclass(frozen=True)
class Drp:
    """What the DRP use cases work with, wired once by a composition root."""

    platform: Platform
    config: DrpConfig
    directory: Directory


def _refuse(
    platform: Platform, exc: DrpRefused, actor: str, request_id: str = NO_REQUEST
) -> DrpRefused:
    with platform.uow() as uow:
        audit.record(
            uow, request_id, "drp.refused", platform.clock(), actor=actor, reason=exc.refusal.value
        )
        uow.commit()
    log.warning("drp_refused", actor=actor, reason=exc.refusal.value)
    return exc


def _known(platform: Platform, directory: Directory, agent_id: str | None) -> DirectoryAgent:
    found = directory.agent(agent_id) if agent_id else None
    if found is None:
        unknown = DrpRefused(Refusal.UNKNOWN_AGENT, "This agent is not in the service directory.")
        raise _refuse(platform, unknown, UNKNOWN_ACTOR)
    return found


def _token_agent(platform: Platform, token: str | None) -> str:
    """The agent a pair-wise bearer token was issued to."""
    agent_id = None
    if token:
        with platform.uow() as uow:
            agent_id = uow.drp.agent_for_token(token_digest(token))
    if agent_id is None:
        bad = DrpRefused(Refusal.BAD_TOKEN, "A valid pair-wise bearer token is required.")
        raise _refuse(platform, bad, UNKNOWN_ACTOR)
    return agent_id


def _remember(platform: Platform, digest: str, agent_id: str, envelope: Envelope) -> None:
    with platform.uow() as uow:
        fresh = uow.drp.remember_message(digest, agent_id, envelope.expires_at, platform.clock())
        uow.commit()
    if not fresh:
        raise DrpRefused(Refusal.REPLAYED, "This message was already received (replay).")


_ENVELOPE = ("agent-id", "business-id", "issued-at", "expires-at")


def _open(
    platform: Platform,
    config: DrpConfig,
    agent: DirectoryAgent,
    body: bytes,
    envelope_optional: bool = False,
) -> dict[str, Any]:
    """Signature, envelope (3.07 order), then replay: the claims of a message to act on.

    `envelope_optional`: the 1.0 revoke body is only `{"reason"}`; one without any envelope
    claim is taken on its signature alone (it can only withdraw this agent's own requests)."""
    actor = f"agent:{agent.id}"
    try:
        payload = open_signed(body, agent.verify_key)
        claims = parse_claims(payload)
        if envelope_optional and not any(name in claims for name in _ENVELOPE):
            return claims
        envelope = check_envelope(claims, agent.id, config.business_id, platform.clock())
        _remember(platform, message_digest(payload), agent.id, envelope)
    except DrpRefused as exc:
        raise _refuse(platform, exc, actor) from None
    return claims


def pair(drp: Drp, agent_id: str, body: bytes) -> dict[str, str]:
    """`POST /v1/agent/{agent-id}`: a new pair-wise token, returned once and kept as a hash."""
    platform = drp.platform
    agent = _known(platform, drp.directory, agent_id)
    claims = _open(platform, drp.config, agent, body)
    try:
        version = check_version(claims)
    except DrpRefused as exc:
        raise _refuse(platform, exc, f"agent:{agent.id}") from None
    token = secrets.token_urlsafe(32)
    with platform.uow() as uow:
        now = platform.clock()
        uow.drp.pair(agent.id, token_digest(token), version, now)
        audit.record(uow, NO_REQUEST, "drp.paired", now, actor=f"agent:{agent.id}")
        uow.commit()
    return {"agent-id": agent.id, "token": token}


def check_token(platform: Platform, agent_id: str, token: str | None) -> None:
    """`GET /v1/agent/{agent-id}`: the token is valid and was issued to this agent."""
    holder = _token_agent(platform, token)
    if not hmac.compare_digest(holder, agent_id):
        mismatch = DrpRefused(Refusal.AGENT_MISMATCH, "The token was not issued to this agent.")
        raise _refuse(platform, mismatch, f"agent:{holder}")


def _status(uow: UnitOfWork, record: DrpRequestRecord) -> dict[str, Any]:
    request = uow.requests.get(record.request_id)
    canceled_by = None
    if request.status is RequestStatus.CANCELED:
        changes = uow.audit.for_request(request.id)
        canceled_by = next(
            (e.actor for e in reversed(changes) if e.to_status == RequestStatus.CANCELED.value),
            None,
        )
    return status_document(request, record.agent_request_id, canceled_by)


async def exercise(
    drp: Drp, workflows: WorkflowStarter, token: str | None, body: bytes
) -> dict[str, Any]:
    """`POST /v1/data-rights-request`: check the message, then submit it as our request."""
    platform, config = drp.platform, drp.config
    agent = _known(platform, drp.directory, _token_agent(platform, token))
    actor = f"agent:{agent.id}"
    claims = _open(platform, config, agent, body)
    try:
        ask = parse_exercise(claims, config.voluntary_regime, config.allow_http_callbacks)
    except DrpRefused as exc:
        raise _refuse(platform, exc, actor) from None
    key = f"drp:{agent.id}:{ask.agent_request_id}" if ask.agent_request_id else None
    new = requests.NewRequest(
        type=ask.request_type.value,
        identities=ask.identities,
        regime=ask.regime,
        idempotency_key=key,  # the same agent-request-id again is the same request
        source=actor,
        verified=ask.verified,
    )
    try:
        request, _ = await requests.submit_and_start(platform, workflows, new)
    except InvalidInput as exc:  # e.g. a right the regime does not grant: safe to say
        refused = DrpRefused(Refusal.UNSUPPORTED, f"{exc}")
        raise _refuse(platform, refused, actor) from None
    with platform.uow() as uow:
        record = uow.drp.request(request.id)
        if record is None:  # also after a crash between the two: the replay completes it
            record = DrpRequestRecord(
                request_id=request.id,
                agent_id=agent.id,
                action=ask.action,
                regime_given=ask.regime_given,
                agent_request_id=ask.agent_request_id,
                status_callback=ask.status_callback,
                created_at=platform.clock(),
            )
            uow.drp.add_request(record)
        document = _status(uow, record)
        # The agent learns this status from the response: no callback needed for it.
        uow.drp.notified(request.id, fingerprint(document), platform.clock())
        uow.commit()
    return document


def _owned(platform: Platform, agent_id: str, request_id: str) -> DrpRequestRecord:
    with platform.uow() as uow:
        record = uow.drp.request(request_id)
        if record is None:
            try:
                uow.requests.get(request_id)
            except NotFound:
                raise NotFound("no such data rights request") from None
    if record is None or record.agent_id != agent_id:
        # 2.02.1: only the agent managing a request may see it.
        other = DrpRefused(Refusal.NOT_YOUR_REQUEST, "This agent does not manage that request.")
        raise _refuse(platform, other, f"agent:{agent_id}", request_id)
    return record


def status(platform: Platform, token: str | None, request_id: str) -> dict[str, Any]:
    """`GET /v1/data-rights-request/{id}`."""
    record = _owned(platform, _token_agent(platform, token), request_id)
    with platform.uow() as uow:
        return _status(uow, record)


async def revoke(
    drp: Drp, workflows: WorkflowStarter, token: str | None, request_id: str, body: bytes
) -> dict[str, Any]:
    """`DELETE /v1/data-rights-request/{id}`: the consumer withdraws the request. The body is
    signed like any message; its `reason` is the consumer's own words and is not kept."""
    platform = drp.platform
    agent = _known(platform, drp.directory, _token_agent(platform, token))
    actor = f"agent:{agent.id}"
    _open(platform, drp.config, agent, body, envelope_optional=True)
    record = _owned(platform, agent.id, request_id)
    with contextlib.suppress(Conflict):  # it has finished: answer with what it became
        await requests.cancel(platform, workflows, request_id, actor=actor)
    with platform.uow() as uow:
        document = _status(uow, record)
        if document["status"] == "revoked":
            uow.drp.notified(request_id, fingerprint(document), platform.clock())
            uow.commit()
            return document
    late = DrpRefused(Refusal.NOT_REVOCABLE, f"The request is already {document['status']}.")
    raise _refuse(platform, late, actor, request_id)


def notify_agent(platform: Platform, poster: StatusPoster, request_id: str) -> bool:
    """Tell the agent behind a request its current status, unless it already has it. True
    when a callback was sent. Harmless for requests no agent sent (nothing to do)."""
    with platform.uow() as uow:
        record = uow.drp.request(request_id)
        if record is None or record.status_callback is None:
            return False
        document = _status(uow, record)
    mark = fingerprint(document)
    if mark == record.notified:
        return False
    code = poster.post(record.status_callback, document)
    if not 200 <= code < 300:
        # 2.03.1: best effort for a 200. Rate limits and server errors pass; other refusals
        # will not change by trying again.
        retryable = code in (408, 425, 429) or code >= 500
        raise ConnectorFailure(f"the agent's status callback answered {code}", retryable=retryable)
    with platform.uow() as uow:
        uow.drp.notified(request_id, mark, platform.clock())
        audit.record(uow, request_id, "drp.agent_told", platform.clock(), status=document["status"])
        uow.commit()
    return True
