"""The pure parts of people and sessions: login and password rules, lockout, session limits,
CSRF tokens, and argon2id hashing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher

from rightsflow.config import Settings
from rightsflow.domain.access import ROLE_SCOPES, PrincipalKind, Role, Scope
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.people import (
    ConsoleSession,
    SessionRules,
    User,
    after_failure,
    check_new_password,
    normalize_login,
)
from rightsflow.services.passwords import Passwords
from rightsflow.services.users import csrf_ok, csrf_token_for, digest

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
RULES = SessionRules()


def session(**changes: object) -> ConsoleSession:
    fields: dict[str, object] = {
        "id_hash": "a" * 64,
        "user_id": "u1",
        "csrf_hash": digest("csrf"),
        "created_at": T0,
        "last_seen_at": T0,
        "expires_at": T0 + RULES.max_age,
    }
    fields.update(changes)
    return ConsoleSession(**fields)  # type: ignore[arg-type]


def test_logins_are_stored_trimmed_and_lower_case() -> None:
    assert normalize_login("  Ann.Ops@Example.COM ") == "ann.ops@example.com"


@pytest.mark.parametrize(
    "raw",
    ["", "ab", "ann ops@example.com", "ann\x00@example.com", "ann\u200b@example.com", "x" * 255],
)
def test_impossible_logins_are_refused_without_repeating_them(raw: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalize_login(raw)
    assert caught.value.field == "login"
    assert raw.strip() == "" or raw not in str(caught.value)


def test_a_password_needs_twelve_characters() -> None:
    check_new_password("x" * 12)
    with pytest.raises(InvalidInput, match="at least 12 characters") as caught:
        check_new_password("x" * 11, "new_password")
    assert caught.value.field == "new_password"


def test_a_password_has_an_upper_bound() -> None:
    with pytest.raises(InvalidInput, match="at most 1024"):
        check_new_password("x" * 1025)


def test_the_tenth_failure_locks_and_restarts_the_count() -> None:
    assert after_failure(9, T0, RULES).locked_until is None
    locked = after_failure(10, T0, RULES)
    assert locked.locked_until == T0 + RULES.lockout
    assert locked.failed_logins == 0


def test_a_lock_runs_out() -> None:
    user = User("u1", "a@b.c", Role.VIEWER, "h", T0, "cli", T0, locked_until=T0 + RULES.lockout)
    assert user.locked(T0 + RULES.lockout - timedelta(seconds=1))
    assert not user.locked(T0 + RULES.lockout)


def test_a_person_holds_the_scopes_of_their_role() -> None:
    user = User("u1", "a@b.c", Role.REVIEWER, "h", T0, "cli", T0)
    principal = user.principal()
    assert principal.kind is PrincipalKind.USER
    assert principal.actor == "user:u1"
    assert principal.scopes == ROLE_SCOPES[Role.REVIEWER]
    assert not principal.may(Scope.ACCESS_ADMIN)


def test_a_session_ends_after_the_idle_time() -> None:
    assert session().live(T0 + RULES.idle - timedelta(seconds=1), RULES)
    assert not session().live(T0 + RULES.idle, RULES)


def test_a_used_session_still_ends_at_its_absolute_limit() -> None:
    late = session(last_seen_at=T0 + RULES.max_age - timedelta(minutes=1))
    assert late.idle_expires_at(RULES) == T0 + RULES.max_age
    assert not late.live(T0 + RULES.max_age, RULES)


def test_a_revoked_session_is_dead() -> None:
    assert not session(revoked_at=T0).live(T0, RULES)


def test_csrf_token_belongs_to_its_session_token() -> None:
    token = csrf_token_for("session-token")
    assert token == csrf_token_for("session-token")
    assert token != csrf_token_for("other-session-token")
    stored = session(csrf_hash=digest(token))
    assert csrf_ok(stored, token)
    assert not csrf_ok(stored, csrf_token_for("other-session-token"))
    assert not csrf_ok(stored, None)
    assert not csrf_ok(stored, "")


def test_passwords_are_argon2id_and_checked() -> None:
    passwords = Passwords()
    hashed = passwords.hash("correct horse battery")
    assert hashed.startswith("$argon2id$")
    assert "correct horse battery" not in hashed
    assert passwords.verify(hashed, "correct horse battery")
    assert not passwords.verify(hashed, "correct horse battery!")
    assert not passwords.verify("not a hash", "correct horse battery")
    assert not passwords.needs_rehash(hashed)


def test_a_hash_made_with_weaker_parameters_needs_a_rehash() -> None:
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash("pw-pw-pw-pw-pw")
    assert Passwords().needs_rehash(weak)


def test_settings_defaults() -> None:
    settings = Settings()
    assert settings.max_failed_logins == 10
    assert settings.session_idle_minutes == 30
    assert settings.session_max_hours == 12
