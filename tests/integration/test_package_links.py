"""Signed package links over the real app, SQLite app database, vault and package files: made
by an operator or the subject, good for one request until they expire, audited per download."""

from __future__ import annotations

import dataclasses
import hmac
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import build_runtime
from rightsflow.config import Settings
from rightsflow.domain.requests import RequestType
from rightsflow.services import lifecycle, package
from rightsflow.services.platform import Platform
from tests.support.lifecycle_stack import MovableClock
from tests.support.principals import role_tokens
from tests.support.stack import make_shop
from tests.unit.fakes import RecordingStarter, TestClient, all_ok
from tests.unit.package_support import add_request, complete, store_rows, stored_zip

OPERATOR = {"Authorization": "Bearer privacy_operator"}
TTL_MINUTES = 30


@dataclasses.dataclass
class Links:
    client: TestClient
    platform: Platform
    clock: MovableClock

    def completed(self, kind: RequestType = RequestType.ACCESS) -> str:
        rid = add_request(self.platform, kind)
        row = {"id": 7, "email": "ada@example.com", "name": "Ada", "phone": "+1 555 0100"}
        store_rows(self.platform, rid, "shop:customers", [row])
        package.build(self.platform, rid)
        complete(self.platform, rid)
        return rid

    def link(self, rid: str) -> str:
        answer = self.client.post(f"/api/v1/privacy-requests/{rid}/package-link", headers=OPERATOR)
        assert answer.status_code == 200, answer.text
        url: str = answer.json()["url"]
        return url.removeprefix(self.platform.public_url)

    def audit(self, rid: str, action: str) -> list[Any]:
        with self.platform.uow() as uow:
            return [e for e in uow.audit.for_request(rid) if e.action == action]


@pytest.fixture
def links(tmp_path: Path) -> Iterator[Links]:
    _, mapdir = make_shop(tmp_path, customers=5)
    settings = Settings(
        data_dir=tmp_path / "data", datamap_dir=mapdir, package_link_ttl_minutes=TTL_MINUTES
    )
    runtime = build_runtime(settings)
    clock = MovableClock()
    platform = dataclasses.replace(runtime.platform, clock=clock)
    deps = ApiDeps(
        platform=platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, "owner-token"),
        readiness=all_ok,
        tokens=role_tokens(),
    )
    try:
        with TestClient(create_app(settings, deps)) as client:
            yield Links(client, platform, clock)
    finally:
        runtime.close()


def test_an_operators_link_downloads_the_package_without_credentials(links: Links) -> None:
    rid = links.completed()
    answer = links.client.post(f"/api/v1/privacy-requests/{rid}/package-link", headers=OPERATOR)
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    expires_at = answer.json()["expires_at"]
    assert expires_at.startswith(
        (links.clock.now + timedelta(minutes=TTL_MINUTES)).isoformat()[:16]
    )
    path = answer.json()["url"].removeprefix(links.platform.public_url)
    assert path.startswith(f"/api/v1/packages/{rid}?expires=")
    download = links.client.get(path)
    assert download.status_code == 200
    assert download.content == stored_zip(links.platform, rid)
    assert download.headers["content-type"] == "application/zip"
    assert download.headers["cache-control"] == "no-store"
    assert download.headers["referrer-policy"] == "no-referrer"
    made = links.audit(rid, "package.link_created")
    assert [(e.actor, e.detail["expires_at"][:16]) for e in made] == [
        ("client:privacy_operator", expires_at[:16])
    ]
    assert [e.actor for e in links.audit(rid, "package.downloaded")] == ["package-link"]


def test_each_download_is_audited(links: Links) -> None:
    rid = links.completed()
    path = links.link(rid)
    assert [links.client.get(path).status_code for _ in range(3)] == [200, 200, 200]
    assert len(links.audit(rid, "package.downloaded")) == 3


def test_the_subject_makes_a_link_with_their_token(links: Links) -> None:
    rid = links.completed()
    url = f"/api/v1/subject/requests/{rid}/package-link"
    token = lifecycle.subject_token(links.platform, rid)
    other = links.completed()
    wrong = lifecycle.subject_token(links.platform, other)
    assert links.client.post(url, headers={"Subject-Token": wrong}).status_code == 401
    assert links.client.post(url).status_code == 401
    answer = links.client.post(url, headers={"Subject-Token": token})
    assert answer.status_code == 200
    path = answer.json()["url"].removeprefix(links.platform.public_url)
    assert links.client.get(path).content == stored_zip(links.platform, rid)
    assert [e.actor for e in links.audit(rid, "package.link_created")] == ["subject"]


def test_only_callers_with_packages_read_make_links(links: Links) -> None:
    rid = links.completed()
    url = f"/api/v1/privacy-requests/{rid}/package-link"
    assert links.client.post(url).status_code == 401
    for role in ("viewer", "reviewer"):
        answer = links.client.post(url, headers={"Authorization": f"Bearer {role}"})
        assert answer.status_code == 403
        assert answer.json()["required_scope"] == "packages:read"
    assert links.audit(rid, "package.link_created") == []


def altered(path: str, **changes: str) -> str:
    parts = urlsplit(path)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | changes
    rest = "&".join(f"{k}={v}" for k, v in query.items())
    return f"{parts.path}?{rest}"


def test_altered_or_foreign_links_are_refused(links: Links) -> None:
    rid, other = links.completed(), links.completed()
    path = links.link(rid)
    sig = parse_qs(urlsplit(path).query)["sig"][0]
    expires = parse_qs(urlsplit(path).query)["expires"][0]
    flipped = ("A" if sig[0] != "A" else "B") + sig[1:]
    refused = [
        altered(path, sig=flipped),
        altered(path, expires=str(int(expires) + 3600)),  # a longer life is not ours to give
        path.replace(rid, other),  # another request's package with this link
        f"/api/v1/packages/{rid}",
        f"/api/v1/packages/{rid}?expires={expires}",
        altered(path, expires="-1"),
    ]
    for bad in refused:
        answer = links.client.get(bad)
        assert answer.status_code == 403, bad
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["type"].endswith("/link-invalid")
    assert links.audit(rid, "package.downloaded") == []
    assert links.audit(other, "package.downloaded") == []


def test_an_expired_link_is_gone(links: Links) -> None:
    rid = links.completed()
    path = links.link(rid)
    links.clock.advance(minutes=TTL_MINUTES - 1)
    assert links.client.get(path).status_code == 200
    links.clock.advance(minutes=1)
    answer = links.client.get(path)
    assert answer.status_code == 410
    assert answer.json()["type"].endswith("/link-expired")
    assert answer.headers["cache-control"] == "no-store"
    assert len(links.audit(rid, "package.downloaded")) == 1


def test_links_are_made_only_for_packages_that_exist(links: Links) -> None:
    erased = links.completed(RequestType.ERASURE)
    url = f"/api/v1/privacy-requests/{erased}/package-link"
    assert links.client.post(url, headers=OPERATOR).status_code == 409
    running = add_request(links.platform, RequestType.ACCESS)
    answer = links.client.post(f"/api/v1/privacy-requests/{running}/package-link", headers=OPERATOR)
    assert answer.status_code == 409
    unknown = "00000000-0000-4000-8000-000000000000"
    answer = links.client.post(f"/api/v1/privacy-requests/{unknown}/package-link", headers=OPERATOR)
    assert answer.status_code == 404
