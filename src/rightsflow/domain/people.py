"""People who use the console: their accounts, the rules for passwords and lockout, and their
console sessions (idle timeout and absolute lifetime).

Pure rules only; hashing lives in services/passwords.py and storage in
storage/user_repository.py. A login is a staff email: personal data, so no message here ever
repeats one (the audit trail names people by user id).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from rightsflow.domain.access import ROLE_SCOPES, Principal, PrincipalKind, Role
from rightsflow.domain.errors import InvalidInput, Refused

MIN_PASSWORD_LENGTH = 12
# Long enough for any passphrase or manager-generated password, short enough that hashing a
# huge body is not a cheap way to burn our CPU.
MAX_PASSWORD_LENGTH = 1024
MIN_LOGIN_LENGTH = 3
MAX_LOGIN_LENGTH = 254  # the users.login column (an email address at most this long)
LOGIN_PATTERN = re.compile(r"[!-~]+")  # visible ASCII; the API schema uses it too


class LoginRefused(Refused):
    """A login that did not succeed. One message for every reason (unknown login, wrong
    password, locked, disabled), so the answer never tells whether an account exists."""

    code = "login-refused"

    def __init__(self) -> None:
        super().__init__("The login or password is wrong, or the account cannot sign in now.")


@dataclass(frozen=True)
class SessionRules:
    idle: timedelta = timedelta(minutes=30)
    max_age: timedelta = timedelta(hours=12)
    max_failed_logins: int = 10
    lockout: timedelta = timedelta(minutes=15)
    # A session's last_seen_at is written at most this often (not on every call), so a busy
    # console does not turn every read into a write. The idle limit can then end a session up
    # to this much early, never late.
    touch_every: timedelta = timedelta(seconds=60)


@dataclass
class User:
    id: str
    login: str
    role: Role
    password_hash: str
    created_at: datetime
    created_by: str
    password_changed_at: datetime
    failed_logins: int = 0
    locked_until: datetime | None = None
    disabled_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def locked(self, now: datetime) -> bool:
        return self.locked_until is not None and now < self.locked_until

    def principal(self) -> Principal:
        return Principal(PrincipalKind.USER, self.id, ROLE_SCOPES[self.role], self.role)


@dataclass(frozen=True)
class ConsoleSession:
    id_hash: str  # sha256 hex of the cookie value; the value itself is never stored
    user_id: str
    csrf_hash: str  # sha256 hex of the CSRF token
    created_at: datetime
    last_seen_at: datetime
    expires_at: datetime  # the absolute limit
    revoked_at: datetime | None = None

    def idle_expires_at(self, rules: SessionRules) -> datetime:
        return min(self.last_seen_at + rules.idle, self.expires_at)

    def live(self, now: datetime, rules: SessionRules) -> bool:
        return self.revoked_at is None and now < self.idle_expires_at(rules)


@dataclass(frozen=True)
class FailedLogin:
    """What a failed attempt did to the account."""

    failed_logins: int
    locked_until: datetime | None = None


def after_failure(failed_logins: int, now: datetime, rules: SessionRules) -> FailedLogin:
    """`failed_logins` counts this attempt. Reaching the limit locks the account for a while
    and starts the count again, so the next lock needs as many new failures."""
    if failed_logins >= rules.max_failed_logins:
        return FailedLogin(0, now + rules.lockout)
    return FailedLogin(failed_logins)


def normalize_login(raw: str) -> str:
    """The stored form of a login: trimmed, lower case. A login is 3 to 254 visible ASCII
    characters (what a staff email is), so two logins never differ only by look-alike or
    invisible characters. Refuses anything else without repeating it."""
    login = raw.strip().lower()
    if not MIN_LOGIN_LENGTH <= len(login) <= MAX_LOGIN_LENGTH:
        raise InvalidInput(
            f"a login has {MIN_LOGIN_LENGTH} to {MAX_LOGIN_LENGTH} characters", "login"
        )
    if not LOGIN_PATTERN.fullmatch(login):
        raise InvalidInput("a login has visible ASCII characters only (no spaces)", "login")
    return login


def check_new_password(password: str, field_name: str = "password") -> None:
    """Length rules only (NIST SP 800-63B: length over composition rules)."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInput(
            f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field_name
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidInput(f"a password has at most {MAX_PASSWORD_LENGTH} characters", field_name)
