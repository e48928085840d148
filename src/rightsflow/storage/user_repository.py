"""People and console sessions in SQL (the `users` and `console_sessions` tables), and a unit
of work that writes them together with the audit trail in one transaction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import IntegrityError

from rightsflow.domain.access import Role
from rightsflow.domain.errors import Conflict, NotFound
from rightsflow.domain.people import ConsoleSession, User
from rightsflow.storage.tables import console_sessions, users
from rightsflow.storage.transaction import AuditedTransaction

_u = users.c
_s = console_sessions.c
_SESSION_COLUMNS = tuple(f.name for f in fields(ConsoleSession))


class SqlUserRepository:
    """Satisfies services.users.UserRepository."""

    def __init__(self, connection: Connection) -> None:
        self._conn = connection

    def add(self, user: User) -> None:
        try:
            self._conn.execute(users.insert().values(_user_values(user)))
        except IntegrityError:  # a concurrent create won; the unit of work rolls back
            raise Conflict("a user with this login exists") from None

    def get(self, user_id: str) -> User:
        row = self._conn.execute(sa.select(users).where(_u.id == user_id)).mappings().first()
        if row is None:
            raise NotFound("no such user")
        return _to_user(row)

    def by_login(self, login: str) -> User | None:
        row = self._conn.execute(sa.select(users).where(_u.login == login)).mappings().first()
        return None if row is None else _to_user(row)

    def list(self) -> Sequence[User]:
        query = sa.select(users).order_by(_u.created_at, _u.id)
        return [_to_user(row) for row in self._conn.execute(query).mappings()]

    def save(self, user: User) -> None:
        values = _user_values(user)
        del values["id"], values["created_at"], values["created_by"]
        self._conn.execute(users.update().where(_u.id == user.id).values(values))

    def count_failure(self, user_id: str) -> int:
        # One statement, so concurrent wrong guesses never count from the same number.
        query = (
            users.update()
            .where(_u.id == user_id)
            .values(failed_logins=_u.failed_logins + 1)
            .returning(_u.failed_logins)
        )
        return int(self._conn.execute(query).scalar_one())

    def add_session(self, session: ConsoleSession) -> None:
        self._conn.execute(console_sessions.insert().values(_session_values(session)))

    def session(self, id_hash: str) -> ConsoleSession | None:
        query = sa.select(console_sessions).where(_s.id_hash == id_hash)
        row = self._conn.execute(query).mappings().first()
        return None if row is None else _to_session(row)

    def touch_session(self, id_hash: str, at: datetime) -> None:
        query = console_sessions.update().where(_s.id_hash == id_hash, _s.revoked_at.is_(None))
        self._conn.execute(query.values(last_seen_at=at))

    def revoke_session(self, id_hash: str, at: datetime) -> bool:
        query = console_sessions.update().where(_s.id_hash == id_hash, _s.revoked_at.is_(None))
        return self._conn.execute(query.values(revoked_at=at)).rowcount > 0

    def revoke_sessions(self, user_id: str, at: datetime, keep: str | None = None) -> int:
        query = console_sessions.update().where(
            _s.user_id == user_id, _s.revoked_at.is_(None), _s.expires_at > at
        )
        if keep is not None:
            query = query.where(_s.id_hash != keep)
        return int(self._conn.execute(query.values(revoked_at=at)).rowcount)

    def prune_sessions(self, user_id: str, now: datetime) -> int:
        query = console_sessions.delete().where(
            _s.user_id == user_id, sa.or_(_s.revoked_at.is_not(None), _s.expires_at <= now)
        )
        return int(self._conn.execute(query).rowcount)


def _user_values(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "login": user.login,
        "role": user.role.value,
        "password_hash": user.password_hash,
        "created_at": user.created_at,
        "created_by": user.created_by,
        "password_changed_at": user.password_changed_at,
        "failed_logins": user.failed_logins,
        "locked_until": user.locked_until,
        "disabled_at": user.disabled_at,
    }


def _to_user(row: RowMapping) -> User:
    return User(
        id=row["id"],
        login=row["login"],
        role=Role(row["role"]),
        password_hash=row["password_hash"],
        created_at=row["created_at"],
        created_by=row["created_by"],
        password_changed_at=row["password_changed_at"],
        failed_logins=int(row["failed_logins"]),
        locked_until=row["locked_until"],
        disabled_at=row["disabled_at"],
    )


def _session_values(session: ConsoleSession) -> dict[str, Any]:
    return {name: getattr(session, name) for name in _SESSION_COLUMNS}


def _to_session(row: RowMapping) -> ConsoleSession:
    return ConsoleSession(**{name: row[name] for name in _SESSION_COLUMNS})


class SqlPeopleUnitOfWork(AuditedTransaction):
    """People and the audit trail over one connection and transaction (services.users.
    PeopleUnitOfWork). Leaving without commit() rolls back."""

    users: SqlUserRepository

    def _bind(self, connection: Connection) -> None:
        self.users = SqlUserRepository(connection)


class SqlPeopleUnitOfWorkFactory:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self) -> SqlPeopleUnitOfWork:
        return SqlPeopleUnitOfWork(self.engine)
