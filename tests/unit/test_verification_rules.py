"""The pure rules of one-time codes: format, hashing input, back-off, lockout, unlock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rightsflow.domain.errors import Conflict, InvalidInput
from rightsflow.domain.verification import (
    Challenge,
    ResendRefused,
    VerificationPolicy,
    check_resend,
    hash_input,
    issue,
    new_code,
    normalise_answer,
    resend_wait,
    unlocked,
    wrong_guess,
)

T0 = datetime(2026, 1, 31, 23, 59, tzinfo=UTC)
POLICY = VerificationPolicy(ttl_s=600, max_attempts=2, resend_after_s=30, max_sends=4)


def first(now: datetime = T0) -> Challenge:
    return issue(None, "r1", "email_code", "h1", now=now, policy=POLICY)


def test_codes_are_six_digits_and_vary() -> None:
    codes = {new_code() for _ in range(200)}
    assert all(len(c) == 6 and c.isdigit() for c in codes)
    assert len(codes) > 190  # 200 draws from a million collide rarely


@pytest.mark.parametrize(
    ("typed", "code"),
    [("012345", "012345"), (" 012 345 ", "012345"), ("012-345", "012345"), ("01.23.45", "012345")],
)
def test_answers_are_normalised(typed: str, code: str) -> None:
    assert normalise_answer(typed) == code


@pytest.mark.parametrize("typed", ["", "12345", "1234567", "12345a", "١٢٣٤٥٦", "0" * 500])
def test_malformed_answers_are_invalid_input(typed: str) -> None:
    with pytest.raises(InvalidInput, match="6 digits"):
        normalise_answer(typed)


def test_the_hash_input_binds_the_code_to_its_request() -> None:
    assert hash_input("r1", "000111") != hash_input("r2", "000111")
    assert hash_input("r1", "000111") == "otp:r1:000111"


def test_issue_sets_expiry_and_the_first_back_off() -> None:
    c = first()
    assert (c.sends, c.attempts, c.code_hash) == (1, 0, "h1")
    assert c.expires_at == T0 + timedelta(seconds=600)
    assert c.next_send_at == T0 + timedelta(seconds=30)
    assert not c.expired(T0 + timedelta(seconds=599))
    assert c.expired(T0 + timedelta(seconds=600))


def test_back_off_doubles_per_send() -> None:
    waits = [resend_wait(POLICY, n).total_seconds() for n in (1, 2, 3, 4)]
    assert waits == [30, 60, 120, 240]


def test_a_resend_replaces_the_code_and_forgets_wrong_guesses() -> None:
    c = wrong_guess(first(), T0, POLICY)
    again = issue(c, "r1", "email_code", "h2", now=T0 + timedelta(seconds=30), policy=POLICY)
    assert (again.sends, again.attempts, again.code_hash) == (2, 0, "h2")
    assert again.next_send_at == T0 + timedelta(seconds=90)


def test_check_resend_refuses_early_with_the_seconds_to_wait() -> None:
    with pytest.raises(ResendRefused) as early:
        check_resend(first(), T0 + timedelta(seconds=10, microseconds=1), POLICY)
    assert early.value.retry_after == 20
    assert isinstance(early.value, Conflict)
    check_resend(first(), T0 + timedelta(seconds=30), POLICY)


def test_check_resend_refuses_after_the_last_send_and_while_locked() -> None:
    c = first()
    for n in range(3):
        c = issue(c, "r1", "email_code", f"h{n}", now=T0, policy=POLICY)
    with pytest.raises(ResendRefused, match="all 4 codes") as over:
        check_resend(c, T0 + timedelta(days=9), POLICY)
    assert over.value.retry_after is None
    locked = wrong_guess(wrong_guess(first(), T0, POLICY), T0, POLICY)
    with pytest.raises(ResendRefused, match="locked"):
        check_resend(locked, T0 + timedelta(days=9), POLICY)


def test_the_last_allowed_wrong_guess_locks() -> None:
    once = wrong_guess(first(), T0, POLICY)
    assert (once.locked, once.attempts_left(POLICY)) == (False, 1)
    twice = wrong_guess(once, T0, POLICY)
    assert (twice.locked, twice.attempts_left(POLICY), twice.locked_at) == (True, 0, T0)


def test_unlock_clears_counts_and_the_code() -> None:
    locked = wrong_guess(wrong_guess(first(), T0, POLICY), T0, POLICY)
    c = unlocked(locked)
    assert (c.locked, c.attempts, c.sends, c.code_hash, c.next_send_at) == (False, 0, 0, None, None)
    check_resend(c, T0, POLICY)


def test_repr_hides_the_hash() -> None:
    assert "h1" not in repr(first())


def test_limits_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        VerificationPolicy(max_attempts=0)
