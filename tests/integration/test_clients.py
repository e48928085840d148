"""OAuth2 clients over the real app and a real SQLite database: the token endpoint (RFC 6749
§4.4 and §5.2), scopes, rotation with a grace period, revocation, the owner API and the audit
trail; access tokens checked strictly (expiry, signature, algorithm, audience)."""

from __future__ import annotations

import base64
import json
import stat
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
import sqlalchemy as sa

from rightsflow.bootstrap import client_service
from rightsflow.cli.clients_cmd import CLI_OWNER
from rightsflow.domain.access import Principal, PrincipalKind, Role, Scope
from rightsflow.domain.errors import InvalidInput
from rightsflow.storage.access_tokens import KEYS_FILE
from rightsflow.storage.tables import audit_events
from tests.support.access_stack import AccessStack, access_stack, basic

REQUESTS = "/api/v1/privacy-requests"
TOKEN = "/oauth/token"
GRANT = {"grant_type": "client_credentials"}


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[AccessStack]:
    with access_stack(tmp_path) as built:
        yield built


def _client(stack: AccessStack, *scopes: str) -> tuple[str, str]:
    made = stack.clients.create("billing", list(scopes), CLI_OWNER)
    return made.client.id, made.secret


def _signing_key(stack: AccessStack) -> tuple[str, bytes]:
    key = json.loads((stack.settings.data_dir / KEYS_FILE).read_text())["keys"][0]
    return key["kid"], base64.urlsafe_b64decode(key["k"] + "=" * (-len(key["k"]) % 4))


def _forge(stack: AccessStack, **changes: Any) -> str:
    """A token signed with the real key, with claims changed."""
    kid, key = _signing_key(stack)
    now = int(time.time())
    base_url = stack.settings.api_base_url
    claims = {"iss": base_url, "aud": f"{base_url}/api", "sub": changes.pop("sub", "x"),
              "iat": now, "exp": now + 60, "jti": "j", "scope": "requests:read"}  # fmt: skip
    claims.update(changes)
    return jwt.encode(claims, key, algorithm="HS256", headers={"kid": kid, "typ": "at+jwt"})


def test_a_token_from_basic_credentials_opens_the_routes_of_its_scopes(stack: AccessStack) -> None:
    client_id, secret = _client(stack, "requests:read")
    response = stack.http.post(TOKEN, data=GRANT, headers=basic(client_id, secret))
    assert response.status_code == 200
    body = response.json()
    assert (body["token_type"], body["expires_in"], body["scope"]) == (
        "Bearer",
        600,
        "requests:read",
    )
    assert response.headers["cache-control"] == "no-store"
    token = body["access_token"]
    assert stack.http.get(REQUESTS, headers=stack.bearer(token)).status_code == 200
    denied = stack.http.get("/api/v1/audit", headers=stack.bearer(token))
    assert (denied.status_code, denied.json()["required_scope"]) == (403, "audit:read")


def test_the_token_carries_the_claims_a_resource_server_expects(stack: AccessStack) -> None:
    client_id, secret = _client(stack, "requests:read", "tasks:read")
    token = stack.token_for(client_id, secret)
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert (header["alg"], header["typ"], header["kid"]) == (
        "HS256",
        "at+jwt",
        _signing_key(stack)[0],
    )
    assert claims["sub"] == client_id
    assert claims["exp"] - claims["iat"] == 600
    assert claims["scope"] == "requests:read tasks:read"
    assert {"iss", "aud", "jti"} <= claims.keys()


def test_credentials_in_the_body_work_too(stack: AccessStack) -> None:
    client_id, secret = _client(stack, "requests:read")
    form = {**GRANT, "client_id": client_id, "client_secret": secret}
    assert stack.http.post(TOKEN, data=form).status_code == 200


def test_a_token_may_ask_for_a_subset_of_the_scopes(stack: AccessStack) -> None:
    client_id, secret = _client(stack, "requests:read", "audit:read")
    token = stack.token_for(client_id, secret, scope="audit:read")
    assert stack.http.get(REQUESTS, headers=stack.bearer(token)).status_code == 403
    assert stack.http.get("/api/v1/audit", headers=stack.bearer(token)).status_code == 200


@pytest.mark.parametrize("scope", ["requests:write", "no:such", ""])
def test_a_scope_beyond_the_grant_is_invalid_scope(stack: AccessStack, scope: str) -> None:
    client_id, secret = _client(stack, "requests:read")
    form = {**GRANT, "scope": scope}
    response = stack.http.post(TOKEN, data=form, headers=basic(client_id, secret))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_scope")


@pytest.mark.parametrize(
    ("credentials", "form"),
    [
        ("wrong-secret", GRANT),
        ("other-client", GRANT),
        ("none", GRANT),
        ("bearer", GRANT),
        ("garbled", GRANT),
    ],
)
def test_bad_client_credentials_are_invalid_client_with_401(
    stack: AccessStack, credentials: str, form: dict[str, str]
) -> None:
    client_id, secret = _client(stack, "requests:read")
    other_id, _ = _client(stack, "requests:read")
    headers = {
        "wrong-secret": basic(client_id, secret + "x"),
        "other-client": basic(other_id, secret),
        "none": {},
        "bearer": stack.owner,
        "garbled": {"Authorization": "Basic ***"},
    }[credentials]
    response = stack.http.post(TOKEN, data=form, headers=headers)
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_client",
        "error_description": "client authentication failed",
    }
    assert response.headers["www-authenticate"].startswith("Basic")


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"grant_type": "password"}, "unsupported_grant_type"),
        ({}, "invalid_request"),
        ({"grant_type": "client_credentials", "client_id": "x"}, "invalid_request"),
    ],
)
def test_a_bad_grant_is_a_400_for_an_authenticated_client(
    stack: AccessStack, form: dict[str, str], error: str
) -> None:
    client_id, secret = _client(stack, "requests:read")
    response = stack.http.post(TOKEN, data=form, headers=basic(client_id, secret))
    assert (response.status_code, response.json()["error"]) == (400, error)


def test_a_repeated_parameter_is_invalid_request(stack: AccessStack) -> None:
    client_id, secret = _client(stack, "requests:read")
    body = "grant_type=client_credentials&grant_type=client_credentials"
    headers = {**basic(client_id, secret), "Content-Type": "application/x-www-form-urlencoded"}
    response = stack.http.post(TOKEN, content=body, headers=headers)
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")


def test_rotation_keeps_the_old_secret_for_the_grace_period_only(stack: AccessStack) -> None:
    client_id, old = _client(stack, "requests:read")
    rotated = stack.http.post(
        f"/api/v1/clients/{client_id}/secrets", json={"grace_s": 3600}, headers=stack.owner
    )
    assert rotated.status_code == 201
    new = rotated.json()["client_secret"]
    assert [s["expires_at"] is None for s in rotated.json()["secrets"]] == [False, True]
    assert stack.token_for(client_id, old)
    assert stack.token_for(client_id, new)
    stack.http.post(
        f"/api/v1/clients/{client_id}/secrets", json={"grace_s": 0}, headers=stack.owner
    )
    refused = stack.http.post(TOKEN, data=GRANT, headers=basic(client_id, old))
    assert refused.status_code == 401
    assert stack.http.post(TOKEN, data=GRANT, headers=basic(client_id, new)).status_code == 401


def test_revoking_a_client_ends_its_secrets_and_tokens_at_once(stack: AccessStack) -> None:
    client_id, secret = _client(stack, "requests:read")
    token = stack.token_for(client_id, secret)
    assert stack.http.get(REQUESTS, headers=stack.bearer(token)).status_code == 200
    assert stack.http.delete(f"/api/v1/clients/{client_id}", headers=stack.owner).status_code == 204
    assert stack.http.get(REQUESTS, headers=stack.bearer(token)).status_code == 401
    assert stack.http.post(TOKEN, data=GRANT, headers=basic(client_id, secret)).status_code == 401
    listed = stack.http.get("/api/v1/clients", headers=stack.owner).json()["items"]
    assert listed[0]["revoked_at"] is not None
    assert listed[0]["secrets"] == []


def test_another_process_sees_a_revocation_once_its_cache_expires(tmp_path: Path) -> None:
    with access_stack(tmp_path, client_status_cache_s=0.2) as stack:
        client_id, secret = _client(stack, "requests:read")
        token = stack.token_for(client_id, secret)
        assert stack.http.get(REQUESTS, headers=stack.bearer(token)).status_code == 200
        # Revoked through another service instance, as another API process would.
        client_service(stack.settings, stack.runtime.engine).revoke(client_id, CLI_OWNER)
        time.sleep(0.3)
        assert stack.http.get(REQUESTS, headers=stack.bearer(token)).status_code == 401


@pytest.mark.parametrize(
    "changes",
    [
        {"exp": int(time.time()) - 60},
        {"aud": "https://elsewhere.example/api"},
        {"iss": "https://elsewhere.example"},
        {"scope": "requests:read root"},
    ],
    ids=["expired", "audience", "issuer", "unknown-scope"],
)
def test_tokens_failing_a_strict_check_are_401(stack: AccessStack, changes: dict[str, Any]) -> None:
    client_id, _ = _client(stack, "requests:read")
    token = _forge(stack, sub=client_id, **changes)
    assert stack.http.get(REQUESTS, headers=stack.bearer(token)).status_code == 401


def test_forged_and_algorithm_none_tokens_are_401(stack: AccessStack) -> None:
    client_id, secret = _client(stack, "requests:read")
    good = stack.token_for(client_id, secret)
    head, body, _ = good.split(".")
    claims = jwt.decode(good, options={"verify_signature": False})
    unsigned = jwt.encode(claims, None, algorithm="none", headers={"kid": _signing_key(stack)[0]})
    other_key = jwt.encode(claims, "k" * 32, algorithm="HS256", headers={"typ": "at+jwt"})
    for token in (f"{head}.{body}.AAAA", unsigned, other_key, good + "x"):
        assert stack.http.get(REQUESTS, headers=stack.bearer(token)).status_code == 401


def test_the_signing_key_file_is_private(stack: AccessStack) -> None:
    mode = (stack.settings.data_dir / KEYS_FILE).stat().st_mode
    assert stat.S_IMODE(mode) == 0o600


def test_owner_api_creates_a_client_and_shows_the_secret_once(stack: AccessStack) -> None:
    created = stack.http.post(
        "/api/v1/clients", json={"name": "crm", "scopes": ["tasks:read"]}, headers=stack.owner
    )
    assert created.status_code == 201
    body = created.json()
    assert body["created_by"] == "bootstrap:owner"
    assert body["client_secret"].startswith("rfs_")
    listed = stack.http.get("/api/v1/clients", headers=stack.owner).text
    assert body["client_id"] in listed
    assert body["client_secret"] not in listed


def test_unknown_scopes_and_clients_are_problems(stack: AccessStack) -> None:
    bad = stack.http.post(
        "/api/v1/clients", json={"name": "crm", "scopes": ["root"]}, headers=stack.owner
    )
    assert (bad.status_code, bad.json()["errors"][0]["field"]) == (422, "scopes")
    missing = stack.http.delete("/api/v1/clients/nope", headers=stack.owner)
    assert missing.status_code == 404


def test_an_admin_client_cannot_mint_admins_or_scopes_it_lacks(stack: AccessStack) -> None:
    client_id, secret = _client(stack, "access:admin", "requests:read")
    admin = stack.bearer(stack.token_for(client_id, secret))
    for scopes in (["access:admin"], ["requests:approve"]):
        made = stack.http.post(
            "/api/v1/clients", json={"name": "x", "scopes": scopes}, headers=admin
        )
        assert made.status_code == 422, scopes
    made = stack.http.post(
        "/api/v1/clients", json={"name": "x", "scopes": ["requests:read"]}, headers=admin
    )
    assert (made.status_code, made.json()["created_by"]) == (201, f"client:{client_id}")


def test_only_an_owner_grants_access_admin(stack: AccessStack) -> None:
    reviewer = Principal(PrincipalKind.USER, "u1", frozenset(Scope), Role.REVIEWER)
    with pytest.raises(InvalidInput, match="only an owner"):
        stack.clients.create("x", ["access:admin"], reviewer)


def test_changes_are_audited_with_ids_and_never_secrets(stack: AccessStack) -> None:
    client_id, secret = _client(stack, "requests:read")
    rotated = stack.clients.rotate_secret(client_id, timedelta(0), CLI_OWNER)
    stack.clients.revoke(client_id, CLI_OWNER)
    with stack.runtime.engine.connect() as conn:
        rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.id)).all()
        stored = " ".join(
            str(tuple(r)) for r in conn.execute(sa.text("SELECT * FROM client_secrets"))
        )
    ours = [r for r in rows if r.action.startswith("client.")]
    assert [r.action for r in ours] == ["client.created", "client.secret_rotated", "client.revoked"]
    assert all(r.actor == "bootstrap:cli" and r.detail["client_id"] == client_id for r in ours)
    assert ours[0].detail["scopes"] == ["requests:read"]
    text = " ".join(str(tuple(r)) for r in rows) + stored
    assert secret not in text
    assert rotated.secret not in text
