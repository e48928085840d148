"""Between receipt and execution: identity verification, the decision (by rule or by an
operator), denial, extension. Each is a move the state machine allows, audited; the request's
workflow is told, so its deadline timers follow."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from datetime import datetime

from rightsflow.domain.errors import (
    Conflict,
    InvalidInput,
    InvalidTransition,
    Refused,
    RightsflowError,
)
from rightsflow.domain.regimes import Period, extended_due, get_regime, response_due
from rightsflow.domain.requests import (
    TERMINAL,
    DenialReason,
    PrivacyRequest,
    RequestStatus,
)
from rightsflow.services import audit
from rightsflow.services.notices import Mail, day, tell_operators, tell_subject
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork, WorkflowStarter
from rightsflow.services.verification import CheckOutcome, EmailCodeVerifier

S = RequestStatus

# What a refused action should be replaced by, per current state.
NEXT_STEP = {
    S.RECEIVED: "it is being routed; try again in a moment",
    S.AWAITING_VERIFICATION: "the subject must verify their identity first (or an operator "
    "verifies it another way: POST .../verify)",
    S.AWAITING_APPROVAL: "approve or deny it",
    S.EXECUTING: "it is being carried out; wait for it to finish, or cancel it",
    S.FAILED: "retry it, or cancel it",
    S.COMPLETED: "it is closed; a new request can be submitted",
    S.DENIED: "it is closed; a new request can be submitted",
    S.CANCELED: "it is closed; a new request can be submitted",
    S.EXPIRED: "it is closed; a new request can be submitted",
}
REASON_TEXT = {
    DenialReason.IDENTITY_NOT_VERIFIED: "we could not verify your identity",
    DenialReason.NO_DATA_FOUND: "we hold no personal data about you",
    DenialReason.EXEMPTION_APPLIES: "a legal exemption applies to the data you asked about",
    DenialReason.MANIFESTLY_UNFOUNDED_OR_EXCESSIVE: "the request is manifestly unfounded or "
    "excessive",
    DenialReason.OUTSIDE_JURISDICTION: "the law you invoked does not apply to you",
    DenialReason.SUSPECTED_FRAUD: "the request appears to be fraudulent",
    DenialReason.AGENT_NOT_AUTHORIZED: "the agent could not show your authorization",
}
MAX_REASON = 500


def subject_token(platform: Platform, request_id: str) -> str:
    """The subject's credential for their own request (status, code, withdrawal): derived from
    the id with the vault's keyed hash, so it is never stored and can be mailed again."""
    return platform.vault.lookup_hash(f"subject-token:{request_id}")


def check_subject(platform: Platform, request_id: str, token: str) -> None:
    expected = subject_token(platform, request_id)
    if not hmac.compare_digest(expected.encode(), token.encode()):
        raise Refused("not this request's subject token")


def refuse(request: PrivacyRequest, action: str) -> InvalidTransition:
    state = request.status
    return InvalidTransition(
        f"the request is {state.value}, so it cannot be {action}; {NEXT_STEP[state]}",
        current=state.value,
    )


def verifier(platform: Platform) -> EmailCodeVerifier:
    return EmailCodeVerifier.from_policy(platform.lifecycle.verification)


# -- routing a new request (called inside submit's unit of work) ---------------------------


def admit(
    platform: Platform, uow: UnitOfWork, request: PrivacyRequest, verified: bool, now: datetime
) -> None:
    """Acknowledge receipt, then ask for proof of identity where the regime wants it, or
    decide at once."""
    regime = get_regime(request.regime)
    rule = regime.rule(request.type)
    received = Mail(
        "acknowledgement",
        "We received your request",
        f"We received your {request.type.value} request and will answer by {day(request.due_at)}.",
    )
    if rule.acknowledge is not None and tell_subject(platform, uow, request, received, now):
        request.acknowledged_at = now
    if rule.verification and not verified:
        _await_verification(platform, uow, request, now, regime.pause_for_verification)
    else:
        if verified:
            request.verified_at = now
            audit.record(uow, request.id, "request.verified", now, actor=request.source)
        decide(platform, uow, request, now)
    uow.requests.save(request)


def _await_verification(
    platform: Platform, uow: UnitOfWork, request: PrivacyRequest, now: datetime, pause: bool
) -> None:
    audit.transition(uow, request, S.AWAITING_VERIFICATION, now)
    request.verify_by = now + platform.lifecycle.verify_within
    if pause:
        request.paused_since = now
        audit.record(uow, request.id, "deadline.paused", now, why="awaiting identity proof")
    if "email" in request.identity_types:
        verifier(platform).start(platform, uow, request, now)
    else:
        by_hand = Mail(
            "verification_needed",
            "Identity to verify by hand",
            "The subject gave no email address, so no code could be sent; verify their "
            "identity another way, then POST .../verify.",
        )
        tell_operators(platform, uow, request, by_hand, now)


def decide(platform: Platform, uow: UnitOfWork, request: PrivacyRequest, now: datetime) -> None:
    """Auto-approve by rule, or queue for an operator."""
    if request.type in platform.lifecycle.auto_approve:
        request.decided_at, request.decided_by = now, "rule:auto_approve"
        audit.transition(uow, request, S.EXECUTING, now, detail={"approved_by": "rule"})
        return
    audit.transition(uow, request, S.AWAITING_APPROVAL, now)
    queued = Mail("approval_needed", "Request awaiting approval", "Approve or deny it.")
    tell_operators(platform, uow, request, queued, now)


def verified(
    platform: Platform, uow: UnitOfWork, request: PrivacyRequest, now: datetime, actor: str
) -> None:
    """Identity is proven: restart a paused clock, then decide."""
    request.verified_at = now
    audit.record(uow, request.id, "request.verified", now, actor=actor)
    if request.paused_since is not None:
        request.clock_started_at = now
        request.due_at = response_due(get_regime(request.regime), request.type, now)
        paused_s = int((now - request.paused_since).total_seconds())
        request.paused_since = None
        audit.record(
            uow, request.id, "deadline.resumed", now, due_at=request.due_at.isoformat(),
            paused_s=paused_s,
        )  # fmt: skip
    decide(platform, uow, request, now)  # its state change saves the request


# -- use cases ------------------------------------------------------------------------------


async def _change(
    platform: Platform,
    workflows: WorkflowStarter,
    request_id: str,
    change: Callable[[UnitOfWork, PrivacyRequest, datetime], None],
) -> PrivacyRequest:
    """Apply `change` in one unit of work, commit, then tell the workflow."""
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        change(uow, request, platform.clock())
        uow.commit()
    await workflows.changed(request_id)
    return request


async def submit_code(
    platform: Platform, workflows: WorkflowStarter, request_id: str, code: str
) -> PrivacyRequest:
    """The subject enters the code. A wrong one costs an attempt (committed before the error
    is raised); the last wrong one locks verification."""
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.status is not S.AWAITING_VERIFICATION:
            raise refuse(request, "verified with a code")
        now = platform.clock()
        outcome = verifier(platform).check(platform, uow, request, code, now)
        if outcome.verified:
            verified(platform, uow, request, now, actor="subject")
        uow.commit()
    if not outcome.verified:
        raise _not_verified(outcome)
    await workflows.changed(request_id)
    return request


class CodeRefused(InvalidInput):
    """A wrong or expired code, with the facts a page words its own message from."""

    def __init__(self, message: str, *, expired: bool, attempts_left: int | None) -> None:
        super().__init__(message, field="code")
        self.expired = expired
        self.attempts_left = attempts_left


def _not_verified(outcome: CheckOutcome) -> RightsflowError:
    if outcome.locked:
        return Conflict(
            "too many wrong codes: verification is locked; an operator can unlock it or verify "
            "your identity another way"
        )
    if outcome.expired:
        message = "the code has expired; ask for a new one"
        return CodeRefused(message, expired=True, attempts_left=None)
    return CodeRefused(
        f"wrong code; {outcome.attempts_left} attempt(s) left",
        expired=False,
        attempts_left=outcome.attempts_left,
    )


def resend_code(platform: Platform, request_id: str, actor: str = "subject") -> datetime:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.status is not S.AWAITING_VERIFICATION:
            raise refuse(request, "sent a new code")
        expires = verifier(platform).resend(platform, uow, request, platform.clock(), actor=actor)
        uow.commit()
    return expires


def unlock(platform: Platform, request_id: str, actor: str) -> PrivacyRequest:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.status is not S.AWAITING_VERIFICATION:
            raise refuse(request, "unlocked")
        verifier(platform).unlock(platform, uow, request, platform.clock(), actor)
        uow.commit()
    return request


async def verify_manually(
    platform: Platform, workflows: WorkflowStarter, request_id: str, actor: str
) -> PrivacyRequest:
    """An operator proved the subject's identity another way (also lifts a lockout)."""

    def mark(uow: UnitOfWork, request: PrivacyRequest, now: datetime) -> None:
        if request.status is not S.AWAITING_VERIFICATION:
            raise refuse(request, "verified")
        verified(platform, uow, request, now, actor=actor)

    return await _change(platform, workflows, request_id, mark)


async def approve(
    platform: Platform, workflows: WorkflowStarter, request_id: str, actor: str
) -> PrivacyRequest:
    def go(uow: UnitOfWork, request: PrivacyRequest, now: datetime) -> None:
        if request.status is not S.AWAITING_APPROVAL:
            raise refuse(request, "approved")
        request.decided_at, request.decided_by = now, actor
        audit.transition(uow, request, S.EXECUTING, now, actor=actor)

    return await _change(platform, workflows, request_id, go)


async def deny(
    platform: Platform, workflows: WorkflowStarter, request_id: str, actor: str, reason: str
) -> PrivacyRequest:
    why = DenialReason.parse(reason)

    def close(uow: UnitOfWork, request: PrivacyRequest, now: datetime) -> None:
        if request.status not in (S.RECEIVED, S.AWAITING_VERIFICATION, S.AWAITING_APPROVAL):
            raise refuse(request, "denied")
        request.decided_at, request.decided_by = now, actor
        request.denial_reason, request.paused_since = why.value, None
        audit.transition(uow, request, S.DENIED, now, actor=actor, reason=why.value)
        body = f"We cannot act on your request: {REASON_TEXT[why]}."
        tell_subject(platform, uow, request, Mail("denied", "Your request was denied", body), now)

    return await _change(platform, workflows, request_id, close)


async def extend(
    platform: Platform,
    workflows: WorkflowStarter,
    request_id: str,
    *,
    actor: str,
    reason: str,
    period: str | None = None,
) -> PrivacyRequest:
    """Take the extra time the regime allows (once, before the deadline), telling the subject
    why. `period` (e.g. "30 days") defaults to the most the regime allows."""
    reason = reason.strip()
    if not reason or len(reason) > MAX_REASON:
        raise InvalidInput(
            f"give the reason (1 to {MAX_REASON} characters); the subject is told it",
            field="reason",
        )
    asked = Period.parse(period) if period else None

    def lengthen(uow: UnitOfWork, request: PrivacyRequest, now: datetime) -> None:
        if request.status in TERMINAL:
            raise refuse(request, "extended")
        if request.extended_at is not None:
            raise Conflict(
                f"the deadline was already extended on {day(request.extended_at)}; the law "
                "allows one extension"
            )
        if now > request.due_at:
            raise Conflict(
                f"the deadline passed on {day(request.due_at)}; an extension has to be "
                "notified before it"
            )
        regime = get_regime(request.regime)
        before = request.due_at
        request.due_at = extended_due(regime, request.type, before, asked)
        request.extended_at, request.extension_reason = now, reason
        uow.requests.save(request)
        # The reason is free text (it may name the person) and the audit trail outlives the
        # retention purge, which empties extension_reason: the trail keeps the dates only.
        audit.record(
            uow, request.id, "deadline.extended", now, actor=actor,
            from_due=before.isoformat(), to_due=request.due_at.isoformat(),
        )  # fmt: skip
        body = (
            f"We need more time to answer your request, because: {reason}\n"
            f"We will answer by {day(request.due_at)}."
        )
        tell_subject(platform, uow, request, Mail("extended", "We need more time", body), now)

    return await _change(platform, workflows, request_id, lengthen)
