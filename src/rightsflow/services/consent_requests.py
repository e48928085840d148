"""Privacy requests that speak to the consent ledger: a GPC signal sent with a request, and
opt-out requests.

- `Sec-GPC: 1` on a request's submission records an opt-out of the gpc purposes (source gpc)
  for the request's user id (or email), resolved per the request's regime like any GPC write
  (domain/consent_rules.py); the request's audit trail says the signal was honoured (record id
  and purposes, no identity).
- An opt-out request (of sale/sharing: RequestType.OPT_OUT) is a decision to record: when it
  runs, it writes one ledger record opting out of every gpc purpose (source drp for a DRP
  request, agent for another authorized agent's, api otherwise), whose id is derived from the
  request's so a retried step finds it already written. The caller then starts propagation.

A request without a user id or email has no consent subject: nothing is recorded (and said so).
"""

from __future__ import annotations

import asyncio
import uuid

from rightsflow.domain.consent import (
    REGIME_MODELS,
    Choice,
    ConsentWrite,
    Signals,
    Source,
    SubjectKind,
    SubjectRef,
)
from rightsflow.domain.errors import Conflict
from rightsflow.domain.requests import PrivacyRequest, RequestType
from rightsflow.services import audit, consent
from rightsflow.services.platform import Platform
from rightsflow.services.subject import open_subject

_RECORDS = uuid.UUID("5d0f4a52-8e8f-4c4e-9a51-2f3b1c7e0a11")  # namespace of derived record ids
GPC_HONOURED = "consent.gpc_honoured"
OPT_OUT_RECORDED = "consent.opt_out_recorded"
NO_SUBJECT = "consent.no_subject"
NOT_RECORDED = "consent.not_recorded"


def opt_out_record_id(request_id: str) -> str:
    return str(uuid.uuid5(_RECORDS, f"opt_out:{request_id}"))


def _subject(platform: Platform, request_id: str) -> tuple[PrivacyRequest, SubjectRef | None]:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        sealed = uow.requests.sealed_identities(request_id)
    identities = open_subject(platform.vault, request_id, sealed).identities
    for kind in (SubjectKind.USER_ID, SubjectKind.EMAIL):
        value = identities.get(kind.value)
        if value:
            return request, SubjectRef(kind, value)
    return request, None


def _regime(platform: Platform, request: PrivacyRequest) -> str:
    return request.regime if request.regime in REGIME_MODELS else platform.consent_regime


def _audit(platform: Platform, request_id: str, action: str, **detail: object) -> None:
    with platform.uow() as uow:
        audit.record(uow, request_id, action, platform.clock(), actor="consent", **detail)
        uow.commit()


def record_gpc_signal(platform: Platform, request_id: str) -> consent.RecordOutcome | None:
    """Record the GPC signal a request was submitted with; None when there is no subject to
    record it for, or the subject is under erasure (this very request, perhaps)."""
    request, subject = _subject(platform, request_id)
    if subject is None:
        _audit(platform, request_id, NO_SUBJECT, signal="gpc")
        return None
    write = ConsentWrite(
        subject=subject,
        choices=(),
        source=Source.GPC,
        regime=_regime(platform, request),
        signals=Signals(gpc=True),
        request_id=request_id,
        actor=request.source,
    )
    try:
        outcome = consent.record(platform, write)
    except Conflict:
        return None  # an erasure in progress: it outranks a choice about future use
    off = [e.purpose for e in outcome.entries if not e.effective]
    _audit(platform, request_id, GPC_HONOURED, record=outcome.record_id, opted_out=off)
    return outcome


def record_opt_out(platform: Platform, request_id: str) -> str | None:
    """Write an opt-out request's ledger record (once); the record id, or None when the
    request is no opt-out, names no subject, or its subject is under erasure (audited)."""
    request, subject = _subject(platform, request_id)
    if request.type is not RequestType.OPT_OUT:
        return None
    record_id = opt_out_record_id(request_id)
    with platform.uow() as uow:
        if uow.consent.has_record(record_id):
            return record_id  # a retried step: written before
        purposes = uow.consent_catalog.purposes()
        from_drp = uow.drp.request(request_id) is not None
    if subject is None:
        _audit(platform, request_id, NO_SUBJECT, signal="opt_out")
        return None
    write = ConsentWrite(
        subject=subject,
        choices=tuple(Choice(p.key, False) for p in purposes if p.gpc and not p.essential),
        source=_source(request, from_drp=from_drp),
        regime=_regime(platform, request),
        request_id=request_id,
        actor=request.source,
    )
    try:
        outcome = consent.record(platform, write, record_id=record_id)
    except Conflict:  # an erasure in progress outranks it; the request still completes
        _audit(platform, request_id, NOT_RECORDED, reason="erasure in progress")
        return None
    _audit(
        platform, request_id, OPT_OUT_RECORDED, record=record_id, withdrawn=list(outcome.withdrawn)
    )
    return record_id


def _source(request: PrivacyRequest, *, from_drp: bool) -> Source:
    if from_drp:
        return Source.DRP
    return Source.AGENT if request.source.startswith("agent:") else Source.API


async def opt_out_and_propagate(platform: Platform, request_id: str) -> None:
    """The request workflow's step for an opt-out: record it, then start propagation."""
    record_id = await asyncio.to_thread(record_opt_out, platform, request_id)
    if record_id is not None and platform.consent_propagator is not None:
        await platform.consent_propagator.propagate(record_id)
