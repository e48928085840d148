"""/api/v1/consent/purposes, /api/v1/consent/notices and /.well-known/gpc.json on the real app
over a real runtime (SQLite; the standard purposes seeded by the start itself): answers,
problem+json 404/422 naming what is wrong, audit without texts, and the public GPC resource."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsflow.api.rest.gpc import MAX_AGE_S
from tests.support.access_stack import AccessStack, access_stack

PURPOSES = "/api/v1/consent/purposes"
NOTICES = "/api/v1/consent/notices"
PROBLEM = "application/problem+json"
TEXT = "# Cookies\nWe measure visits. Write to privacy@example.test"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[AccessStack]:
    with access_stack(tmp_path) as stack:
        yield stack


def test_the_standard_purposes_are_there_from_the_start(stack: AccessStack) -> None:
    items = stack.http.get(PURPOSES, headers=stack.owner).json()["items"]
    by_key = {p["key"]: p for p in items}
    assert sorted(by_key) == [
        "advertising",
        "analytics",
        "essential",
        "personalisation",
        "sale_sharing",
    ]
    assert by_key["essential"]["essential"] is True
    assert by_key["sale_sharing"]["gpc"] is True
    assert "Art. 6(1)(a)" in by_key["analytics"]["legal_bases"]["gdpr"]
    assert "Art. 7 I" in by_key["advertising"]["legal_bases"]["lgpd"]
    assert "4.3" in by_key["advertising"]["legal_bases"]["pipeda"]


def test_put_get_and_retire_a_purpose(stack: AccessStack) -> None:
    http, owner = stack.http, stack.owner
    body = {"name": "Product news", "legal_bases": {"gdpr": "Art. 6(1)(a) consent"}}
    created = http.put(f"{PURPOSES}/product_news", json=body, headers=owner)
    assert created.status_code == 201, created.text
    assert created.json()["retired"] is False
    updated = http.put(f"{PURPOSES}/product_news", json={**body, "name": "News"}, headers=owner)
    assert (updated.status_code, updated.json()["name"]) == (200, "News")
    assert http.get(f"{PURPOSES}/product_news", headers=owner).json()["name"] == "News"
    retired = http.post(f"{PURPOSES}/product_news/retire", headers=owner)
    assert (retired.status_code, retired.json()["retired"]) == (200, True)
    listed = [p["key"] for p in http.get(PURPOSES, headers=owner).json()["items"]]
    assert "product_news" not in listed
    everything = http.get(PURPOSES, params={"include_retired": "true"}, headers=owner).json()
    assert "product_news" in [p["key"] for p in everything["items"]]
    missing = http.post(f"{PURPOSES}/nothing_here/retire", headers=owner)
    assert (missing.status_code, missing.headers["content-type"]) == (404, PROBLEM)
    assert http.get(f"{PURPOSES}/nothing_here", headers=owner).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "legal_bases": {"narnia": "consent"}}, "legal_bases"),
        ({"name": "x", "gpc": True, "essential": True}, "gpc"),
        ({"name": ""}, "name"),
        ({"name": "x", "legal_bases": {"gdpr": ""}}, "legal_bases.gdpr"),
        ({"name": "x", "essential": 0}, "essential"),
        ({"name": "x", "extra": 1}, "extra"),
    ],
)
def test_a_bad_purpose_is_a_422_naming_the_field(
    stack: AccessStack, body: dict[str, object], field: str
) -> None:
    answer = stack.http.put(f"{PURPOSES}/bad_one", json=body, headers=stack.owner)
    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM)
    assert field in [e["field"] for e in answer.json()["errors"]]
    assert stack.http.get(f"{PURPOSES}/bad_one", headers=stack.owner).status_code == 404


def test_a_bad_key_is_a_422(stack: AccessStack) -> None:
    answer = stack.http.put(f"{PURPOSES}/Bad-Key", json={"name": "x"}, headers=stack.owner)
    assert answer.status_code == 422


def test_publish_and_read_notice_versions(stack: AccessStack) -> None:
    http, owner = stack.http, stack.owner
    first = http.post(
        f"{NOTICES}/banner/versions",
        json={"text": TEXT, "purposes": ["analytics", "advertising"]},
        headers=owner,
    )
    assert first.status_code == 201, first.text
    assert (first.json()["version"], first.json()["text"]) == (1, TEXT)
    second = http.post(
        f"{NOTICES}/banner/versions",
        json={"text": "v2", "purposes": ["analytics"], "language": "pt-BR"},
        headers=owner,
    )
    assert (second.json()["version"], second.json()["language"]) == (2, "pt-BR")
    versions = http.get(f"{NOTICES}/banner/versions", headers=owner).json()["items"]
    assert [v["version"] for v in versions] == [1, 2]
    assert "text" not in versions[0]
    assert versions[0]["sha256"] == first.json()["sha256"]
    assert http.get(f"{NOTICES}/banner/versions/1", headers=owner).json()["text"] == TEXT
    assert http.get(f"{NOTICES}/banner/versions/3", headers=owner).status_code == 404
    assert http.get(f"{NOTICES}/footer/versions", headers=owner).status_code == 404
    latest = http.get(NOTICES, headers=owner).json()["items"]
    assert [(n["key"], n["version"]) for n in latest] == [("banner", 2)]
    audit = http.get(
        "/api/v1/audit", params={"action": "consent.notice_published"}, headers=owner
    ).text
    assert first.json()["sha256"] in audit
    assert "privacy@example.test" not in audit
    assert "We measure" not in audit


@pytest.mark.parametrize(
    ("purposes", "named"),
    [
        (["analytics", "telemetry"], "unknown purpose 'telemetry'"),
        (["old_thing"], "purpose 'old_thing' is retired"),
        (["analytics", "analytics"], "purpose 'analytics' is listed twice"),
    ],
)
def test_a_notice_with_an_unknown_or_retired_purpose_is_a_422(
    stack: AccessStack, purposes: list[str], named: str
) -> None:
    http, owner = stack.http, stack.owner
    http.put(f"{PURPOSES}/old_thing", json={"name": "Old"}, headers=owner)
    http.post(f"{PURPOSES}/old_thing/retire", headers=owner)
    answer = http.post(
        f"{NOTICES}/banner/versions", json={"text": "t", "purposes": purposes}, headers=owner
    )
    assert (answer.status_code, answer.headers["content-type"]) == (422, PROBLEM)
    assert answer.json()["detail"] == named
    assert answer.json()["errors"] == [{"field": "purposes", "message": named}]
    assert http.get(f"{NOTICES}/banner/versions", headers=owner).status_code == 404


def test_gpc_json_is_public_and_cacheable(stack: AccessStack) -> None:
    answer = stack.http.get("/.well-known/gpc.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    assert answer.json() == {"gpc": True, "lastUpdate": "2026-11-25"}
    assert answer.headers["cache-control"] == f"public, max-age={MAX_AGE_S}"


def test_gpc_json_last_update_is_a_setting(tmp_path: Path) -> None:
    with access_stack(tmp_path, gpc_last_update="2027-01-31") as stack:
        assert stack.http.get("/.well-known/gpc.json").json()["lastUpdate"] == "2027-01-31"
