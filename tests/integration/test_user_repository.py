"""The people service over SQL on SQLite and PostgreSQL: accounts, the atomic failure count
and lockout, sessions revoked and pruned, and audit in the same transaction."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from rightsflow.domain.access import Role
from rightsflow.domain.errors import Conflict
from rightsflow.domain.people import LoginRefused, SessionRules
from rightsflow.services import users
from rightsflow.services.passwords import Passwords
from rightsflow.services.users import People
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.tables import audit_events, console_sessions
from rightsflow.storage.tables import users as users_table
from rightsflow.storage.user_repository import SqlPeopleUnitOfWork, SqlPeopleUnitOfWorkFactory
from tests.support.postgres import PostgresServer

T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
PASSWORD = "a long enough passphrase"
RULES = SessionRules(max_failed_logins=4)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('people') / 'app.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("sql_pg_server")
        name = f"rf_people_{request.node.name.split('[')[0][-20:]}".lower()
        server.create_database(name)
        url = server.url(name)
    upgrade_database(url)
    built = make_engine(url)
    yield built
    built.dispose()


def people(engine: Engine, at: datetime = T0) -> People:
    return People(SqlPeopleUnitOfWorkFactory(engine), lambda: at, Passwords(), RULES)


def test_a_login_is_taken_once(engine: Engine) -> None:
    users.create(people(engine), "ann@ops.example", Role.VIEWER, PASSWORD, "cli")
    with pytest.raises(Conflict):
        users.create(people(engine), "ANN@ops.example", Role.OWNER, PASSWORD, "cli")
    assert [u.login for u in users.list_users(people(engine))] == ["ann@ops.example"]


def test_concurrent_wrong_guesses_all_count(engine: Engine) -> None:
    created = users.create(people(engine), "ann@ops.example", Role.VIEWER, PASSWORD, "cli")

    def guess(_: int) -> None:
        with pytest.raises(LoginRefused):
            users.login(people(engine), "ann@ops.example", "wrong password!")

    with ThreadPoolExecutor(3) as pool:
        list(pool.map(guess, range(3)))
    with engine.connect() as conn:
        count = conn.execute(sa.select(users_table.c.failed_logins)).scalar_one()
    assert count == 3
    guess(0)  # the fourth locks
    user = users.get_user(people(engine), created.id)
    assert user.locked_until == T0 + RULES.lockout
    assert user.failed_logins == 0


def test_sessions_are_revoked_and_pruned(engine: Engine) -> None:
    created = users.create(people(engine), "ann@ops.example", Role.VIEWER, PASSWORD, "cli")
    first = users.login(people(engine), "ann@ops.example", PASSWORD)
    users.login(people(engine), "ann@ops.example", PASSWORD)
    signed_in = users.authenticate(people(engine), first.token)
    assert signed_in is not None
    assert users.authenticate(people(engine), first.token + "x") is None
    users.logout(people(engine), signed_in)
    assert users.authenticate(people(engine), first.token) is None
    users.update(people(engine), created.id, "cli", disabled=True)
    users.update(people(engine), created.id, "cli", disabled=False)
    users.login(people(engine, T0 + timedelta(hours=13)), "ann@ops.example", PASSWORD)
    with engine.connect() as conn:
        live = conn.execute(sa.select(console_sessions.c.revoked_at)).all()
    assert [row.revoked_at for row in live] == [None]  # the two old ones were pruned


def test_a_refused_change_writes_neither_row_nor_audit(engine: Engine) -> None:
    created = users.create(people(engine), "ann@ops.example", Role.VIEWER, PASSWORD, "cli")
    with SqlPeopleUnitOfWork(engine) as uow:
        user = uow.users.get(created.id)
        user.role = Role.OWNER
        uow.users.save(user)
        uow.audit.append(users.AuditEvent("", "user.role_changed", T0, "cli"))
    # no commit: rolled back
    assert users.get_user(people(engine), created.id).role is Role.VIEWER
    with engine.connect() as conn:
        actions = conn.execute(sa.select(audit_events.c.action)).scalars().all()
    assert actions == ["user.created"]
