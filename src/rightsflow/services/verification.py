"""Verifying the subject's identity: the pluggable interface and the emailed one-time code.

The lifecycle (services/lifecycle.py) moves the request between states around these calls and
commits the unit of work; the functions here write only the verification row and its audit
events in the unit of work they are given. Codes never leave this module except in the mail:
not in audit detail, errors, logs or reprs (only their keyed hash is stored).
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import Protocol

from rightsflow.domain.errors import Conflict, InvalidInput
from rightsflow.domain.requests import PrivacyRequest
from rightsflow.domain.verification import (
    EMAIL_CODE,
    Challenge,
    VerificationPolicy,
    check_resend,
    hash_input,
    issue,
    new_code,
    normalise_answer,
    unlocked,
    wrong_guess,
)
from rightsflow.services.audit import record
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork
from rightsflow.services.subject import open_subject

MAIL_SUBJECT = "Your verification code"


@dataclass(frozen=True)
class CheckOutcome:
    verified: bool
    locked: bool  # this guess (or an earlier one) used the last attempt
    expired: bool  # the code expired; a new one must be sent
    attempts_left: int


class Verifier(Protocol):
    """One way of verifying identity (an emailed code; an operator checking a document; ...)."""

    method: str

    def start(
        self, platform: Platform, uow: UnitOfWork, request: PrivacyRequest, now: datetime
    ) -> None: ...

    def check(
        self,
        platform: Platform,
        uow: UnitOfWork,
        request: PrivacyRequest,
        answer: str,
        now: datetime,
    ) -> CheckOutcome: ...


class EmailCodeVerifier:
    """A 6-digit code mailed to the subject's email identity (see domain/verification.py for
    why 6 digits are enough under these limits)."""

    method = EMAIL_CODE

    def __init__(
        self, ttl_s: int = 900, max_attempts: int = 5, resend_after_s: int = 60, max_sends: int = 5
    ) -> None:
        self.policy = VerificationPolicy(ttl_s, max_attempts, resend_after_s, max_sends)

    @classmethod
    def from_policy(cls, policy: VerificationPolicy) -> EmailCodeVerifier:
        return cls(policy.ttl_s, policy.max_attempts, policy.resend_after_s, policy.max_sends)

    def __repr__(self) -> str:
        return f"EmailCodeVerifier({self.policy})"

    def start(
        self, platform: Platform, uow: UnitOfWork, request: PrivacyRequest, now: datetime
    ) -> None:
        """Mail the first code. Does nothing if a code was already sent (a re-run after a crash
        must not mail twice); `resend` sends another."""
        challenge = uow.verifications.get(request.id, lock=True)
        if challenge is not None and (challenge.sends > 0 or challenge.verified):
            return
        self._send(platform, uow, request, challenge, now, actor="system")

    def resend(
        self,
        platform: Platform,
        uow: UnitOfWork,
        request: PrivacyRequest,
        now: datetime,
        *,
        actor: str = "subject",
    ) -> datetime:
        """Mail a new code (the old one stops working); returns when the new code expires.

        Raises ResendRefused (a Conflict, with `retry_after` seconds, None when waiting will not
        help) before the back-off has passed, after the last allowed code, or while locked."""
        challenge = uow.verifications.get(request.id, lock=True)
        if challenge is not None:
            check_resend(challenge, now, self.policy)
        sent = self._send(platform, uow, request, challenge, now, actor=actor)
        assert sent.expires_at is not None  # noqa: S101 (issue() always sets it)
        return sent.expires_at

    def check(
        self,
        platform: Platform,
        uow: UnitOfWork,
        request: PrivacyRequest,
        answer: str,
        now: datetime,
    ) -> CheckOutcome:
        challenge = _live(uow, request.id)
        if challenge.locked:
            _audit(uow, request, "verification.failed", now, "subject", reason="locked")
            return CheckOutcome(verified=False, locked=True, expired=False, attempts_left=0)
        code = normalise_answer(answer)
        left = challenge.attempts_left(self.policy)
        if challenge.expired(now):
            _audit(uow, request, "verification.expired", now, "subject")
            return CheckOutcome(verified=False, locked=False, expired=True, attempts_left=left)
        expected = challenge.code_hash or ""
        given = platform.vault.lookup_hash(hash_input(request.id, code))
        if hmac.compare_digest(given.encode(), expected.encode()):
            uow.verifications.put(replace(challenge, verified_at=now, code_hash=None))
            _audit(uow, request, "verification.succeeded", now, "subject")
            return CheckOutcome(verified=True, locked=False, expired=False, attempts_left=left)
        return self._wrong(uow, request, challenge, now)

    def unlock(
        self,
        platform: Platform,  # noqa: ARG002 (same shape as the other calls; unused here)
        uow: UnitOfWork,
        request: PrivacyRequest,
        now: datetime,
        actor: str,
    ) -> None:
        """An operator lifts a lockout: guesses and sends start again from zero and no code
        works until a new one is sent (resend may send it at once)."""
        challenge = uow.verifications.get(request.id, lock=True)
        if challenge is None or not challenge.locked:
            raise Conflict("verification is not locked; there is nothing to unlock")
        uow.verifications.put(unlocked(challenge))
        _audit(uow, request, "verification.unlocked", now, actor)

    def _wrong(
        self, uow: UnitOfWork, request: PrivacyRequest, challenge: Challenge, now: datetime
    ) -> CheckOutcome:
        after = wrong_guess(challenge, now, self.policy)
        uow.verifications.put(after)
        left = after.attempts_left(self.policy)
        _audit(uow, request, "verification.failed", now, "subject", attempts_left=left)
        if after.locked:
            _audit(uow, request, "verification.locked", now, "system", attempts=after.attempts)
        return CheckOutcome(verified=False, locked=after.locked, expired=False, attempts_left=left)

    def _send(
        self,
        platform: Platform,
        uow: UnitOfWork,
        request: PrivacyRequest,
        challenge: Challenge | None,
        now: datetime,
        *,
        actor: str,
    ) -> Challenge:
        """Store the new code's hash and audit it, then mail it: if the mail fails, the caller's
        unit of work is rolled back and nothing says a code was sent."""
        to = _email_of(platform, uow, request)
        code = new_code()
        code_hash = platform.vault.lookup_hash(hash_input(request.id, code))
        sent = issue(challenge, request.id, self.method, code_hash, now=now, policy=self.policy)
        uow.verifications.put(sent)
        _audit(uow, request, "verification.code_sent", now, actor, sends=sent.sends)
        platform.notifier.send(to, MAIL_SUBJECT, _mail_body(code, self.policy))
        return sent


def _live(uow: UnitOfWork, request_id: str) -> Challenge:
    """The challenge a code can be checked against; Conflict (saying what to do) otherwise."""
    challenge = uow.verifications.get(request_id, lock=True)
    if challenge is None:
        raise Conflict("no verification code was sent for this request; ask for one first")
    if challenge.verified:
        raise Conflict("identity is already verified; no code is needed")
    if challenge.code_hash is None and not challenge.locked:
        raise Conflict("no verification code is active for this request; ask for a new one")
    return challenge


def _email_of(platform: Platform, uow: UnitOfWork, request: PrivacyRequest) -> str:
    sealed = uow.requests.sealed_identities(request.id)
    email = open_subject(platform.vault, request.id, sealed).identities.get("email")
    if not email:
        raise InvalidInput(
            "this request has no email identity to send a code to; "
            "verify the subject's identity another way",
            field="identities.email",
        )
    return email


def _mail_body(code: str, policy: VerificationPolicy) -> str:
    minutes = max(policy.ttl_s // 60, 1)
    return (
        f"Your verification code is: {code}\n\n"
        f"Enter it to confirm your privacy request. It expires in {minutes} minutes.\n"
        "If you did not make a privacy request, ignore this message: "
        "nothing happens without the code.\n"
    )


def _audit(
    uow: UnitOfWork,
    request: PrivacyRequest,
    action: str,
    now: datetime,
    actor: str,
    **detail: object,
) -> None:
    record(uow, request.id, action, now, actor=actor, method=EMAIL_CODE, **detail)


VerifierFactory = Callable[[VerificationPolicy], Verifier]

VERIFIERS: Mapping[str, VerifierFactory] = MappingProxyType(
    {EMAIL_CODE: EmailCodeVerifier.from_policy}
)


def verifier_for(
    method: str, policy: VerificationPolicy, factories: Mapping[str, VerifierFactory] = VERIFIERS
) -> Verifier:
    """The verifier for `method`; other methods plug in by passing more factories."""
    factory = factories.get(method)
    if factory is None:
        known = ", ".join(sorted(factories))
        raise InvalidInput(f"unknown verification method; known: {known}", field="method")
    return factory(policy)
