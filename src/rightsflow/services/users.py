"""People and their console sessions: accounts with a role, password login with lockout,
sessions with an idle timeout and an absolute lifetime, logout, password changes.

A session is a random 256-bit token in a cookie; only its sha256 is stored. Its CSRF token is
derived from it (an HMAC under the session token), so the console can ask for it again after a
reload (`GET /api/v1/session`) while only its hash is stored; a page on another site can neither
read the cookie nor the answer. Every change and every login attempt is audited by user id,
never by login, and never with a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from types import TracebackType
from typing import Any, Protocol

from rightsflow.domain.access import Principal, PrincipalKind, Role
from rightsflow.domain.errors import Conflict, InvalidInput
from rightsflow.domain.people import (
    ConsoleSession,
    LoginRefused,
    SessionRules,
    User,
    after_failure,
    check_new_password,
    normalize_login,
)
from rightsflow.services.passwords import Passwords
from rightsflow.services.ports import AuditEvent, AuditRepository, Clock

NO_REQUEST = ""  # audit events about people belong to no privacy request
ANONYMOUS = "anonymous"  # the actor of a login attempt that did not succeed
_TOKEN_MAX = 128  # a session token is 43 characters; anything far longer is not one


class UserRepository(Protocol):
    def add(self, user: User) -> None:
        """Conflict if the login is taken."""
        ...

    def get(self, user_id: str) -> User:
        """NotFound if there is no such user."""
        ...

    def by_login(self, login: str) -> User | None: ...
    def list(self) -> Sequence[User]: ...
    def save(self, user: User) -> None: ...
    def count_failure(self, user_id: str) -> int:
        """Add one failed login atomically; the new count."""
        ...

    def add_session(self, session: ConsoleSession) -> None: ...
    def session(self, id_hash: str) -> ConsoleSession | None: ...
    def touch_session(self, id_hash: str, at: datetime) -> None: ...
    def revoke_session(self, id_hash: str, at: datetime) -> bool: ...
    def revoke_sessions(self, user_id: str, at: datetime, keep: str | None = None) -> int:
        """End the user's live sessions (all but `keep`, an id hash); how many were ended."""
        ...

    def prune_sessions(self, user_id: str, now: datetime) -> int:
        """Delete the user's sessions that are revoked or past their absolute limit."""
        ...


class PeopleUnitOfWork(Protocol):
    @property
    def users(self) -> UserRepository: ...
    @property
    def audit(self) -> AuditRepository: ...
    def __enter__(self) -> PeopleUnitOfWork: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
    def commit(self) -> None: ...


@dataclass(frozen=True)
class People:
    """What these use cases need, wired by a composition root."""

    uow: Callable[[], PeopleUnitOfWork]
    clock: Clock
    passwords: Passwords
    rules: SessionRules = field(default_factory=SessionRules)


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: ConsoleSession


@dataclass(frozen=True)
class NewSession:
    token: str  # the cookie value: shown once, never stored
    csrf_token: str
    user: User
    session: ConsoleSession


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def csrf_token_for(session_token: str) -> str:
    mac = hmac.new(session_token.encode(), b"rightsflow console csrf", hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def csrf_ok(session: ConsoleSession, token: str | None) -> bool:
    if not token or len(token) > _TOKEN_MAX:
        return False
    return hmac.compare_digest(digest(token), session.csrf_hash)


def _actor(user_id: str) -> str:
    """How the audit trail names a person: their console session's Principal.actor."""
    return Principal(PrincipalKind.USER, user_id, frozenset()).actor


def _record(uow: PeopleUnitOfWork, action: str, at: datetime, actor: str, **detail: Any) -> None:
    uow.audit.append(AuditEvent(NO_REQUEST, action, at, actor, detail=detail))


def create(people: People, login: str, role: Role, password: str, actor: str) -> User:
    key = normalize_login(login)
    check_new_password(password)
    password_hash = people.passwords.hash(password)
    now = people.clock()
    user = User(str(uuid.uuid4()), key, role, password_hash, now, actor, now)
    with people.uow() as uow:
        if uow.users.by_login(key) is not None:
            raise Conflict("a user with this login exists")
        uow.users.add(user)
        _record(uow, "user.created", now, actor, user_id=user.id, role=role.value)
        uow.commit()
    return user


def list_users(people: People) -> Sequence[User]:
    with people.uow() as uow:
        return uow.users.list()


def get_user(people: People, user_id: str) -> User:
    with people.uow() as uow:
        return uow.users.get(user_id)


def update(
    people: People,
    user_id: str,
    actor: str,
    *,
    role: Role | None = None,
    disabled: bool | None = None,
) -> User:
    """Change a user's role and/or disable (ending their sessions) or enable them."""
    if actor == _actor(user_id) and (role is not None or disabled is not None):
        # An owner who demotes or disables themselves could leave nobody to undo it.
        raise Conflict("you cannot change your own role or disable yourself")
    now = people.clock()
    with people.uow() as uow:
        user = uow.users.get(user_id)
        if role is not None and role != user.role:
            _record(uow, "user.role_changed", now, actor, user_id=user.id, role=role.value)
            user.role = role
        if disabled is True and not user.disabled:
            user.disabled_at = now
            ended = uow.users.revoke_sessions(user.id, now)
            _record(uow, "user.disabled", now, actor, user_id=user.id, sessions_ended=ended)
        elif disabled is False and user.disabled:
            user.disabled_at, user.failed_logins, user.locked_until = None, 0, None
            _record(uow, "user.enabled", now, actor, user_id=user.id)
        uow.users.save(user)
        uow.commit()
    return user


def login(people: People, login: str, password: str) -> NewSession:
    """A new session, or LoginRefused with the same message whatever went wrong."""
    now = people.clock()
    try:
        key: str | None = normalize_login(login)
    except InvalidInput:
        key = None  # cannot exist: answered like an unknown login
    with people.uow() as uow:
        user = uow.users.by_login(key) if key else None
        if user is None:
            people.passwords.burn(password)
            _record(uow, "user.login_failed", now, ANONYMOUS, user_id=None, reason="unknown")
            uow.commit()
            raise LoginRefused
        matches = people.passwords.verify(user.password_hash, password)
        reason = _refusal(user, matches, now)
        if reason is not None:
            _refused(people, uow, user, reason, now)
            uow.commit()
            raise LoginRefused
        opened = _open_session(people, uow, user, password, now)
        uow.commit()
    return opened


def _refusal(user: User, matches: bool, now: datetime) -> str | None:
    if user.disabled:
        return "disabled"
    if user.locked(now):
        return "locked"  # even with the right password: the lock has to run out
    return None if matches else "wrong_password"


def _refused(people: People, uow: PeopleUnitOfWork, user: User, reason: str, now: datetime) -> None:
    _record(uow, "user.login_failed", now, ANONYMOUS, user_id=user.id, reason=reason)
    if reason == "wrong_password":
        _count_failure(people, uow, user, now)


def _count_failure(people: People, uow: PeopleUnitOfWork, user: User, now: datetime) -> None:
    outcome = after_failure(uow.users.count_failure(user.id), now, people.rules)
    if outcome.locked_until is None:
        return
    user.failed_logins, user.locked_until = outcome.failed_logins, outcome.locked_until
    uow.users.save(user)
    minutes = int(people.rules.lockout.total_seconds() // 60)
    _record(uow, "user.locked", now, "system", user_id=user.id, minutes=minutes)


def _open_session(
    people: People, uow: PeopleUnitOfWork, user: User, password: str, now: datetime
) -> NewSession:
    rehashed = people.passwords.needs_rehash(user.password_hash)
    if rehashed:  # made with weaker parameters than today's: upgrade while we have it
        user.password_hash = people.passwords.hash(password)
    user.failed_logins, user.locked_until = 0, None
    uow.users.save(user)
    uow.users.prune_sessions(user.id, now)
    token = secrets.token_urlsafe(32)  # 256 bits
    csrf = csrf_token_for(token)
    expires = now + people.rules.max_age
    session = ConsoleSession(digest(token), user.id, digest(csrf), now, now, expires)
    uow.users.add_session(session)
    _record(uow, "user.login_succeeded", now, _actor(user.id), user_id=user.id, rehashed=rehashed)
    return NewSession(token, csrf, user, session)


def authenticate(people: People, token: str) -> SignedIn | None:
    """The live session this token opens and its (enabled) user, or None. Marks it seen."""
    if not token or len(token) > _TOKEN_MAX:
        return None
    now = people.clock()
    with people.uow() as uow:
        session = uow.users.session(digest(token))
        if session is None or not session.live(now, people.rules):
            return None
        user = uow.users.get(session.user_id)
        if user.disabled:
            return None
        if now - session.last_seen_at >= people.rules.touch_every:
            uow.users.touch_session(session.id_hash, now)
            uow.commit()
            session = replace(session, last_seen_at=now)
    return SignedIn(user, session)


def logout(people: People, signed_in: SignedIn) -> None:
    now = people.clock()
    user_id = signed_in.user.id
    with people.uow() as uow:
        if uow.users.revoke_session(signed_in.session.id_hash, now):
            _record(uow, "user.logged_out", now, _actor(user_id), user_id=user_id)
        uow.commit()


def change_password(people: People, signed_in: SignedIn, current: str, new: str) -> int:
    """Set a new password (the current one proves it is the person, not a stolen session)
    and end the user's other sessions; how many were ended."""
    check_new_password(new, "new_password")
    new_hash = people.passwords.hash(new)
    now = people.clock()
    with people.uow() as uow:
        user = uow.users.get(signed_in.user.id)
        if not people.passwords.verify(user.password_hash, current):
            # Counts like a failed login, so a session cannot be used to guess the password.
            _record(uow, "user.password_change_refused", now, _actor(user.id), user_id=user.id)
            _count_failure(people, uow, user, now)
            uow.commit()
            raise InvalidInput("the current password is wrong", "current_password")
        user.password_hash, user.password_changed_at = new_hash, now
        uow.users.save(user)
        ended = uow.users.revoke_sessions(user.id, now, keep=signed_in.session.id_hash)
        actor = _actor(user.id)
        _record(uow, "user.password_changed", now, actor, user_id=user.id, sessions_ended=ended)
        uow.commit()
    return ended
