"""Identity verification by one-time code: the rules, with no I/O.

A code is 6 decimal digits. Digits are easy to read out of a mail and type on a phone, and the
small space is safe only together with the rules here (NIST SP 800-63B's reasoning for OTPs):
at most `max_attempts` wrong guesses per code, then the challenge locks until an operator
unlocks it; at most `max_sends` codes per request; every code expires after `ttl_s`. An
attacker therefore gets max_attempts * max_sends guesses (25 by default) at a one-in-a-million
code. Codes are stored only as a keyed hash (the key is the vault's, so a copy of the database
alone cannot be brute-forced over the million possible codes).
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rightsflow.domain.errors import Conflict, InvalidInput

CODE_DIGITS = 6
EMAIL_CODE = "email_code"
_SEPARATORS = re.compile(r"[\s\-.]")


@dataclass(frozen=True)
class VerificationPolicy:
    """Limits of one verification method (from the settings)."""

    ttl_s: int = 900  # a code works this long after it was sent
    max_attempts: int = 5  # wrong guesses per code before the challenge locks
    resend_after_s: int = 60  # wait before the 2nd code; doubles for each further code
    max_sends: int = 5  # codes per request (the first one included)

    def __post_init__(self) -> None:
        if min(self.ttl_s, self.max_attempts, self.resend_after_s, self.max_sends) < 1:
            raise ValueError("verification limits must all be at least 1")


@dataclass(frozen=True)
class Challenge:
    """The stored state of one request's verification (one row of `verifications`).

    `code_hash` is the keyed hash of the live code; None once no code may be used (before the
    first send, after an unlock). `attempts` counts wrong guesses at the live code.
    """

    request_id: str
    method: str
    code_hash: str | None
    issued_at: datetime | None
    expires_at: datetime | None
    attempts: int
    sends: int
    next_send_at: datetime | None
    locked_at: datetime | None = None
    verified_at: datetime | None = None

    def __repr__(self) -> str:
        # The hash is not the code, but there is no reason for it to travel into logs either.
        return (
            f"Challenge(request_id={self.request_id!r}, method={self.method!r}, "
            f"sends={self.sends}, attempts={self.attempts}, locked={self.locked}, "
            f"verified={self.verified})"
        )

    @property
    def locked(self) -> bool:
        return self.locked_at is not None

    @property
    def verified(self) -> bool:
        return self.verified_at is not None

    def expired(self, now: datetime) -> bool:
        return self.expires_at is None or now >= self.expires_at

    def attempts_left(self, policy: VerificationPolicy) -> int:
        return 0 if self.locked else max(policy.max_attempts - self.attempts, 0)


class ResendRefused(Conflict):
    """A new code may not be sent now. `retry_after` is the seconds to wait, or None when no
    further code will ever be sent (the limit is reached, or the challenge is locked)."""

    code = "verification-resend-refused"

    def __init__(self, message: str, retry_after: int | None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def new_code() -> str:
    """A fresh code from the OS's CSPRNG, zero-padded to CODE_DIGITS digits."""
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def normalise_answer(answer: str) -> str:
    """The code as typed, without spaces, dashes or dots; InvalidInput unless it is 6 digits.

    A malformed answer costs no attempt: saying the format reveals nothing about the code."""
    cleaned = _SEPARATORS.sub("", answer[:64])
    if len(cleaned) != CODE_DIGITS or not cleaned.isascii() or not cleaned.isdigit():
        raise InvalidInput(f"a verification code is {CODE_DIGITS} digits", field="code")
    return cleaned


def hash_input(request_id: str, code: str) -> str:
    """What is fed to the keyed hash: bound to the request, so a code works for it alone."""
    return f"otp:{request_id}:{code}"


def resend_wait(policy: VerificationPolicy, sends: int) -> timedelta:
    """How long after send number `sends` (1, 2, ...) the next code may be sent: 60 s, 120 s,
    240 s, ... with the defaults."""
    return timedelta(seconds=policy.resend_after_s * 2 ** max(sends - 1, 0))


def issue(
    challenge: Challenge | None,
    request_id: str,
    method: str,
    code_hash: str,
    *,
    now: datetime,
    policy: VerificationPolicy,
) -> Challenge:
    """The challenge after sending a new code (the first or a resend); the old code stops
    working and its wrong guesses are forgotten."""
    sends = (challenge.sends if challenge else 0) + 1
    return Challenge(
        request_id=request_id,
        method=method,
        code_hash=code_hash,
        issued_at=now,
        expires_at=now + timedelta(seconds=policy.ttl_s),
        attempts=0,
        sends=sends,
        next_send_at=now + resend_wait(policy, sends),
    )


def check_resend(challenge: Challenge, now: datetime, policy: VerificationPolicy) -> None:
    """Raise ResendRefused (or Conflict) unless a new code may be sent now."""
    if challenge.verified:
        raise Conflict("identity is already verified; no code is needed")
    if challenge.locked:
        raise ResendRefused(
            "verification is locked after too many wrong codes; an operator must unlock it",
            retry_after=None,
        )
    if challenge.sends >= policy.max_sends:
        raise ResendRefused(
            f"all {policy.max_sends} codes for this request were sent; "
            "an operator can unlock verification or verify identity another way",
            retry_after=None,
        )
    if challenge.next_send_at is not None and now < challenge.next_send_at:
        wait = challenge.next_send_at - now
        seconds = int(wait.total_seconds()) + (1 if wait.microseconds else 0)
        raise ResendRefused(
            f"a new code can be sent after {challenge.next_send_at.isoformat(timespec='seconds')}",
            retry_after=max(seconds, 1),
        )


def wrong_guess(challenge: Challenge, now: datetime, policy: VerificationPolicy) -> Challenge:
    """One more wrong guess; the last allowed one locks the challenge."""
    attempts = challenge.attempts + 1
    locked_at = now if attempts >= policy.max_attempts else None
    return replace(challenge, attempts=attempts, locked_at=locked_at)


def unlocked(challenge: Challenge) -> Challenge:
    """After an operator's unlock: no live code, no guesses or sends counted; the next code
    can be sent at once."""
    return replace(
        challenge,
        code_hash=None,
        expires_at=None,
        attempts=0,
        sends=0,
        next_send_at=None,
        locked_at=None,
    )
