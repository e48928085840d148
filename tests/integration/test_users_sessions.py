"""People and console sessions through the real app on a real SQLite app database: sign-in,
cookie flags, idle and absolute expiry, lockout, CSRF and Origin checks, roles through a
session, disabling, password changes, the users API, and what the audit trail keeps."""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.api.sessions import ConsoleSessions
from rightsflow.config import Settings
from rightsflow.domain.access import Role
from rightsflow.domain.people import SessionRules
from rightsflow.services import users
from rightsflow.services.passwords import Passwords
from rightsflow.services.users import People
from rightsflow.storage.migrate import make_engine, upgrade_database
from rightsflow.storage.tables import audit_events, console_sessions
from rightsflow.storage.user_repository import SqlPeopleUnitOfWorkFactory
from tests.support.lifecycle_stack import MovableClock
from tests.unit.fakes import AUTH, TOKEN, RecordingStarter, TestClient, all_ok, make_platform

SESSION = "/api/v1/session"
USERS = "/api/v1/users"
APPROVE = "/api/v1/privacy-requests/00000000-0000-4000-8000-000000000000/approve"
PASSWORD = "a long enough passphrase"
T0 = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
RULES = SessionRules(max_failed_logins=3, lockout=timedelta(minutes=15))


@dataclass
class Console:
    clock: MovableClock
    people: People
    engine: sa.Engine
    settings: Settings
    app: Any

    def client(self) -> TestClient:
        return TestClient(self.app, base_url=self.settings.api_base_url)

    def add(self, login: str, role: Role) -> str:
        return users.create(self.people, login, role, PASSWORD, "cli").id

    def sign_in(self, login: str, password: str = PASSWORD) -> tuple[TestClient, str]:
        client = self.client()
        response = client.post(SESSION, json={"login": login, "password": password})
        assert response.status_code == 200, response.text
        return client, str(response.json()["csrf_token"])

    def audit(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.id))
            return [dict(row) for row in rows.mappings()]


UI = "http://127.0.0.1:8233"  # the Temporal UI, an allowed codec origin


def build(root: Path, public_url: str) -> Console:
    settings = Settings(data_dir=root, public_url=public_url, codec_cors_origins=[UI])
    url = f"sqlite:///{root / 'app.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    clock = MovableClock(T0)
    people = People(SqlPeopleUnitOfWorkFactory(engine), clock, Passwords(), RULES)
    deps = ApiDeps(
        platform=make_platform()[0],
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=all_ok,
        sessions=ConsoleSessions(people, settings.api_base_url, codec_origins=(UI,)),
    )
    return Console(clock, people, engine, settings, create_app(settings, deps))


@pytest.fixture
def console(tmp_path: Path) -> Iterator[Console]:
    built = build(tmp_path, "http://console.test")
    yield built
    built.engine.dispose()


def set_cookie(response: Any) -> str:
    header = response.headers.get("set-cookie")
    assert header is not None
    return str(header)


def test_sign_in_sets_an_httponly_strict_cookie(console: Console) -> None:
    console.add("ann@ops.example", Role.VIEWER)
    response = console.client().post(
        SESSION, json={"login": "ANN@ops.example", "password": PASSWORD}
    )
    assert response.status_code == 200, response.text
    cookie = set_cookie(response)
    assert cookie.startswith("rightsflow_session=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert "Secure" not in cookie  # plain http: a Secure cookie would never come back
    assert "Max-Age=43200" in cookie


def test_over_https_the_cookie_is_host_prefixed_and_secure(tmp_path: Path) -> None:
    built = build(tmp_path, "https://console.test")
    built.add("ann@ops.example", Role.VIEWER)
    client = built.client()
    response = client.post(SESSION, json={"login": "ann@ops.example", "password": PASSWORD})
    cookie = set_cookie(response)
    assert cookie.startswith("__Host-rightsflow_session=")
    assert "Secure" in cookie
    assert "Domain" not in cookie
    assert client.get(SESSION).status_code == 200
    built.engine.dispose()


def test_the_session_says_who_and_what_and_stores_only_hashes(console: Console) -> None:
    user_id = console.add("ann@ops.example", Role.REVIEWER)
    client, csrf = console.sign_in("ann@ops.example")
    me = client.get(SESSION).json()
    assert me["user_id"] == user_id
    assert me["role"] == "reviewer"
    assert "requests:approve" in me["scopes"]
    assert "access:admin" not in me["scopes"]
    assert me["csrf_token"] == csrf  # a reloaded console can ask again
    assert me["idle_expires_at"] == "2026-05-04T09:30:00Z"
    assert me["expires_at"] == "2026-05-04T21:00:00Z"
    token = client.cookies["rightsflow_session"]
    assert len(token) >= 43  # 256 bits, base64url
    with console.engine.connect() as conn:
        row = conn.execute(sa.select(console_sessions)).mappings().one()
    assert token not in json.dumps(dict(row), default=str)
    assert csrf not in json.dumps(dict(row), default=str)


def test_sign_out_ends_the_session(console: Console) -> None:
    console.add("ann@ops.example", Role.VIEWER)
    client, csrf = console.sign_in("ann@ops.example")
    token = client.cookies["rightsflow_session"]
    response = client.delete(SESSION, headers={"X-CSRF-Token": csrf})
    assert response.status_code == 204
    assert 'rightsflow_session=""' in set_cookie(response)
    stale = console.client()
    stale.cookies.set("rightsflow_session", token)
    assert stale.get(SESSION).status_code == 401


def test_an_idle_session_ends_and_use_keeps_it_alive(console: Console) -> None:
    console.add("ann@ops.example", Role.VIEWER)
    client, _ = console.sign_in("ann@ops.example")
    console.clock.advance(minutes=25)
    assert client.get(SESSION).status_code == 200  # seen: idle counts from here
    console.clock.advance(minutes=25)
    assert client.get(SESSION).status_code == 200
    console.clock.advance(minutes=30)
    response = client.get(SESSION)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


def test_a_session_in_use_ends_at_its_absolute_limit(console: Console) -> None:
    console.add("ann@ops.example", Role.VIEWER)
    client, _ = console.sign_in("ann@ops.example")
    for _ in range(35):  # 11 h 40 min of steady use
        console.clock.advance(minutes=20)
        assert client.get(SESSION).status_code == 200
    console.clock.advance(minutes=20)
    assert client.get(SESSION).status_code == 401


def refusal(client: TestClient, login: str, password: str) -> dict[str, Any]:
    response = client.post(SESSION, json={"login": login, "password": password})
    assert response.status_code == 401, response.text
    assert "set-cookie" not in response.headers
    body: dict[str, Any] = response.json()
    return body


def test_lockout_and_one_answer_for_every_refusal(console: Console) -> None:
    console.add("ann@ops.example", Role.VIEWER)
    client = console.client()
    unknown = refusal(client, "nobody@ops.example", PASSWORD)
    wrong = [refusal(client, "ann@ops.example", "wrong password!") for _ in range(3)]
    locked = refusal(client, "ann@ops.example", PASSWORD)  # the right one, but locked
    assert all(body == unknown for body in [*wrong, locked])
    assert unknown["type"].endswith("/login-refused")
    assert "ann@ops.example" not in json.dumps(unknown)
    console.clock.advance(minutes=15)
    console.sign_in("ann@ops.example")  # the lock ran out
    actions = [e["action"] for e in console.audit()]
    assert actions.count("user.login_failed") == 5
    assert actions.count("user.locked") == 1
    assert actions[-1] == "user.login_succeeded"


def test_an_unknown_login_costs_as_much_as_a_wrong_password(console: Console) -> None:
    console.add("ann@ops.example", Role.VIEWER)

    def seconds(login: str) -> float:
        started = time.perf_counter()
        with pytest.raises(users.LoginRefused):
            users.login(console.people, login, "wrong password!")
        return time.perf_counter() - started

    # The fastest of three: other work on the machine only ever adds time.
    wrong = min(seconds("ann@ops.example") for _ in range(3))
    unknown = min(seconds("nobody@ops.example") for _ in range(3))
    # Both run one argon2id check (tens of ms); skipping it would take well under a tenth.
    assert unknown > 0.5 * wrong


def test_csrf_token_is_needed_on_unsafe_methods_only(console: Console) -> None:
    console.add("olu@ops.example", Role.PRIVACY_OPERATOR)
    client, csrf = console.sign_in("olu@ops.example")
    assert client.get("/api/v1/privacy-requests").status_code == 200
    missing = client.post(APPROVE)
    assert missing.status_code == 403
    assert missing.json()["detail"] == "CSRF token missing or wrong"
    assert client.post(APPROVE, headers={"X-CSRF-Token": "guess"}).status_code == 403
    assert client.post(APPROVE, headers={"X-CSRF-Token": csrf}).status_code == 404
    assert client.delete(SESSION).status_code == 403


def test_a_cross_site_origin_is_refused(console: Console) -> None:
    console.add("olu@ops.example", Role.PRIVACY_OPERATOR)
    client, csrf = console.sign_in("olu@ops.example")
    evil = {"X-CSRF-Token": csrf, "Origin": "https://evil.example"}
    response = client.post(APPROVE, headers=evil)
    assert response.status_code == 403
    assert response.json()["detail"] == "cross-site request refused"
    fetch = {"X-CSRF-Token": csrf, "Sec-Fetch-Site": "cross-site"}
    assert client.post(APPROVE, headers=fetch).status_code == 403
    ours = {"X-CSRF-Token": csrf, "Origin": "http://console.test"}
    assert client.post(APPROVE, headers=ours).status_code == 404
    body = {"login": "olu@ops.example", "password": PASSWORD}
    login = console.client().post(SESSION, json=body, headers={"Origin": "https://evil.example"})
    assert login.status_code == 403


def test_the_temporal_ui_reaches_the_codec_with_the_session_alone(console: Console) -> None:
    console.add("olu@ops.example", Role.PRIVACY_OPERATOR)
    client, _ = console.sign_in("olu@ops.example")
    body = {"payloads": []}
    from_ui = client.post("/codec/decode", json=body, headers={"Origin": UI})
    assert from_ui.status_code == 200, from_ui.text
    assert from_ui.headers["access-control-allow-origin"] == UI
    evil = client.post("/codec/decode", json=body, headers={"Origin": "https://evil.example"})
    assert evil.status_code == 403
    # The exemption is the codec's only: the UI's origin cannot approve a request.
    assert client.post(APPROVE, headers={"Origin": UI}).status_code == 403


def test_roles_decide_through_a_session(console: Console) -> None:
    console.add("vic@ops.example", Role.VIEWER)
    console.add("olu@ops.example", Role.PRIVACY_OPERATOR)
    viewer, viewer_csrf = console.sign_in("vic@ops.example")
    refused = viewer.post(APPROVE, headers={"X-CSRF-Token": viewer_csrf})
    assert refused.status_code == 403
    assert refused.json()["required_scope"] == "requests:approve"
    operator, operator_csrf = console.sign_in("olu@ops.example")
    assert operator.post(APPROVE, headers={"X-CSRF-Token": operator_csrf}).status_code == 404
    assert operator.get(USERS).status_code == 403  # access:admin is the owner's


def test_a_disabled_person_is_signed_out_at_once(console: Console) -> None:
    user_id = console.add("vic@ops.example", Role.VIEWER)
    client, _ = console.sign_in("vic@ops.example")
    admin = console.client()
    response = admin.patch(f"{USERS}/{user_id}", json={"disabled": True}, headers=AUTH)
    assert response.status_code == 200, response.text
    assert response.json()["disabled_at"] is not None
    assert client.get(SESSION).status_code == 401
    refusal(console.client(), "vic@ops.example", PASSWORD)
    detail = [e["detail"] for e in console.audit() if e["action"] == "user.disabled"]
    assert detail == [{"user_id": user_id, "sessions_ended": 1}]


def test_a_role_change_applies_to_a_live_session(console: Console) -> None:
    user_id = console.add("vic@ops.example", Role.VIEWER)
    client, csrf = console.sign_in("vic@ops.example")
    assert client.post(APPROVE, headers={"X-CSRF-Token": csrf}).status_code == 403
    changed = console.client().patch(f"{USERS}/{user_id}", json={"role": "reviewer"}, headers=AUTH)
    assert changed.json()["role"] == "reviewer"
    assert client.post(APPROVE, headers={"X-CSRF-Token": csrf}).status_code == 404


def test_changing_the_password_ends_the_other_sessions(console: Console) -> None:
    console.add("ann@ops.example", Role.VIEWER)
    here, csrf = console.sign_in("ann@ops.example")
    elsewhere, _ = console.sign_in("ann@ops.example")
    path = f"{USERS}/me/password"
    headers = {"X-CSRF-Token": csrf}
    wrong = here.post(
        path, json={"current_password": "nope", "new_password": "x" * 12}, headers=headers
    )
    assert wrong.status_code == 422
    assert wrong.json()["errors"][0]["field"] == "current_password"
    short = here.post(
        path, json={"current_password": PASSWORD, "new_password": "short"}, headers=headers
    )
    assert short.status_code == 422
    new = "another long passphrase"
    done = here.post(
        path, json={"current_password": PASSWORD, "new_password": new}, headers=headers
    )
    assert done.status_code == 200, done.text
    assert done.json() == {"other_sessions_ended": 1}
    assert here.get(SESSION).status_code == 200
    assert elsewhere.get(SESSION).status_code == 401
    refusal(console.client(), "ann@ops.example", PASSWORD)
    console.sign_in("ann@ops.example", new)


def test_person_routes_take_no_bearer_token(console: Console) -> None:
    assert console.client().get(SESSION, headers=AUTH).status_code == 401
    assert console.client().get(SESSION).status_code == 401


def test_owners_manage_people_over_the_api(console: Console) -> None:
    client = console.client()
    body = {"login": "Kim@Ops.example", "role": "reviewer", "password": PASSWORD}
    assert client.post(USERS, json=body).status_code == 401
    created = client.post(USERS, json=body, headers=AUTH)
    assert created.status_code == 201, created.text
    assert created.json()["login"] == "kim@ops.example"
    assert PASSWORD not in json.dumps(created.json())
    assert client.post(USERS, json=body, headers=AUTH).status_code == 409
    short = client.post(USERS, json={**body, "password": "too short"}, headers=AUTH)
    assert short.status_code == 422
    assert "12 characters" in short.json()["errors"][0]["message"]
    listed = client.get(USERS, headers=AUTH).json()["items"]
    assert [u["login"] for u in listed] == ["kim@ops.example"]
    assert client.get(f"{USERS}/nobody", headers=AUTH).status_code == 404
    owner_id = console.add("own@ops.example", Role.OWNER)
    owner, csrf = console.sign_in("own@ops.example")
    own = owner.patch(
        f"{USERS}/{owner_id}", json={"disabled": True}, headers={"X-CSRF-Token": csrf}
    )
    assert own.status_code == 409  # an owner cannot lock themselves out


def test_the_audit_trail_names_people_by_id_only(console: Console) -> None:
    user_id = console.add("ann@ops.example", Role.VIEWER)
    client, csrf = console.sign_in("ann@ops.example")
    refusal(console.client(), "ann@ops.example", "wrong password!")
    refusal(console.client(), "nobody@ops.example", "wrong password!")
    client.delete(SESSION, headers={"X-CSRF-Token": csrf})
    events = console.audit()
    dumped = json.dumps(events, default=str)
    for secret in ("ann@ops.example", "nobody@ops.example", PASSWORD, "wrong password!"):
        assert secret not in dumped
    assert [(e["action"], e["actor"]) for e in events] == [
        ("user.created", "cli"),
        ("user.login_succeeded", f"user:{user_id}"),
        ("user.login_failed", "anonymous"),
        ("user.login_failed", "anonymous"),
        ("user.logged_out", f"user:{user_id}"),
    ]
    assert events[2]["detail"] == {"user_id": user_id, "reason": "wrong_password"}
    assert events[3]["detail"] == {"user_id": None, "reason": "unknown"}
