"""Answers that arrive later: a service's signed callback, proven by the call's one-time token.

Anything that does not prove it is the answer asked for is refused and audited: an unknown
call, a wrong token (forged), a token already used (replayed), a bad signature or body.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping

import structlog

from rightsflow.domain.errors import ConnectorFailure, NotFound, Refused
from rightsflow.domain.records import SystemCallRecord
from rightsflow.services import audit
from rightsflow.services.execution import load_plan
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork
from rightsflow.services.system_answers import settle
from rightsflow.services.system_calls import sent_as, token_digest

log = structlog.get_logger("rightsflow.callbacks")


def admit(
    platform: Platform, uow: UnitOfWork, call_id: str, token: str, via: str
) -> SystemCallRecord:
    """The call `token` answers, if it is still waiting; else `Refused` (audited, committed)."""
    try:
        call = uow.calls.get(call_id)
    except NotFound:  # unknown id: nothing to audit against a request
        log.warning("answer_refused", via=via, reason="unknown call")
        raise Refused("not a call or task waiting for an answer") from None
    given = token_digest(token or "")
    if not (call.token_hash and hmac.compare_digest(given, call.token_hash)):
        _refuse(platform, uow, call, via, "wrong token")
    if call.status == "answered":
        _refuse(platform, uow, call, via, "already answered (replayed)")
    if not call.awaiting:
        _refuse(platform, uow, call, via, f"no longer waiting ({call.status})")
    return call


def _refuse(
    platform: Platform, uow: UnitOfWork, call: SystemCallRecord, via: str, why: str
) -> None:
    audit.record(
        uow,
        call.request_id,
        f"{via}.refused",
        platform.clock(),
        system=call.system,
        operation=call.operation,
        reason=why,
    )
    uow.commit()
    log.warning("answer_refused", via=via, request_id=call.request_id, reason=why)
    raise Refused(f"{via} refused: {why}")


def accept_callback(
    platform: Platform, call_id: str, token: str, body: bytes, headers: Mapping[str, str]
) -> SystemCallRecord:
    """Check and record a service's late answer; returns the call it answered (the caller
    signals the request's workflow)."""
    with platform.uow() as uow:
        call = admit(platform, uow, call_id, token, "callback")
        connector = platform.connectors.system_connector(call.system)
        try:
            answer = connector.read_callback(body, headers)
        except ConnectorFailure as exc:
            _refuse(platform, uow, call, "callback", str(exc))
        if answer.pending:
            _refuse(platform, uow, call, "callback", "a callback must carry the answer")
        if answer.about != sent_as(call):
            _refuse(platform, uow, call, "callback", "it answers another question")
        plan = load_plan(platform, call.request_id, require_executing=False)
        settle(platform, uow, plan, call, answer, actor="service")
        uow.commit()
    return call
