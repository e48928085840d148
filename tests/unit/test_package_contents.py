"""Access and portability packages built from result pages: data.json, CSV, HTML, manifest."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from typing import Any

import pytest

from rightsflow.domain.errors import Conflict, NotFound
from rightsflow.domain.records import NodeResult
from rightsflow.domain.requests import RequestType
from rightsflow.services import package
from rightsflow.services.platform import Platform
from rightsflow.services.rows import seal_rows
from tests.unit.fakes import FakeStore, make_platform
from tests.unit.package_support import (
    GENERATED,
    add_request,
    app_platform,
    complete,
    entries,
    store_rows,
    stored_zip,
)

USERS, EVENTS = "app:users", "app:events"
USER_ROWS: list[dict[str, Any]] = [
    {
        "id": 1,
        "email": "ada@example.com",
        # SQL keeps a document as JSON text; a document store hands over a dict.
        "profile": json.dumps({"nickname": 'Ada, "the" first', "contact": {"phone": "+44 20"}}),
        "internal_score": 99,
    },
    {
        "id": 2,
        "email": "ada@example.com",
        "profile": {"nickname": "Zoë <b>\nsecond line", "contact": {"phone": None}},
        "internal_score": 7,
    },
    {"id": 3, "email": "ada@example.com", "profile": None, "internal_score": 0},
]
PROJECTED_USERS = [
    {"email": "ada@example.com", "id": 1,
     "profile": {"contact": {"phone": "+44 20"}, "nickname": 'Ada, "the" first'}},
    {"email": "ada@example.com", "id": 2,
     "profile": {"contact": {"phone": None}, "nickname": "Zoë <b>\nsecond line"}},
    {"email": "ada@example.com", "id": 3,
     "profile": {"contact": {"phone": None}, "nickname": None}},
]  # fmt: skip
CSV_USERS = [
    {"email": "ada@example.com", "id": "1", "profile.contact.phone": "+44 20",
     "profile.nickname": 'Ada, "the" first'},
    {"email": "ada@example.com", "id": "2", "profile.contact.phone": "",
     "profile.nickname": "Zoë <b>\nsecond line"},
    {"email": "ada@example.com", "id": "3", "profile.contact.phone": "", "profile.nickname": ""},
]  # fmt: skip
EVENT_COUNT = 2_500  # three pages; more than index.html shows


def event_rows() -> list[dict[str, Any]]:
    return [
        {"id": i, "user_email": "ada@example.com", "ip": f"10.0.{i // 256}.{i % 256}"}
        for i in range(EVENT_COUNT)
    ]


def prepared(kind: RequestType) -> tuple[Platform, FakeStore, str]:
    platform, store = make_platform()
    platform = app_platform(platform)
    rid = add_request(platform, kind)
    store_rows(platform, rid, USERS, USER_ROWS)
    store_rows(platform, rid, EVENTS, event_rows())
    return platform, store, rid


def read_csv(body: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body.decode("utf-8"), newline="")))


def test_access_package_holds_json_csv_and_html() -> None:
    platform, _, rid = prepared(RequestType.ACCESS)
    assert package.build(platform, rid) == len(USER_ROWS) + EVENT_COUNT
    files = entries(stored_zip(platform, rid))
    assert list(files) == [
        "data.json", "csv/app.events.csv", "csv/app.users.csv", "index.html",
    ]  # fmt: skip
    data = json.loads(files["data.json"])
    assert list(data) == [EVENTS, USERS]
    assert data[USERS] == PROJECTED_USERS
    assert data[EVENTS] == [{"ip": r["ip"], "user_email": r["user_email"]} for r in event_rows()]
    assert read_csv(files["csv/app.users.csv"]) == CSV_USERS
    assert files["csv/app.users.csv"].startswith(
        b"email,id,profile.contact.phone,profile.nickname\r\n"
    )
    assert b'"Ada, ""the"" first"' in files["csv/app.users.csv"]  # RFC 4180 quoting
    events_csv = read_csv(files["csv/app.events.csv"])
    assert events_csv == [{"ip": r["ip"], "user_email": r["user_email"]} for r in event_rows()]
    assert b"internal_score" not in b"".join(files.values())  # untargeted fields never leave


def test_csv_parses_back_to_the_json_rows() -> None:
    platform, _, rid = prepared(RequestType.PORTABILITY)
    package.build(platform, rid)
    files = entries(stored_zip(platform, rid))
    data = json.loads(files["data.json"])

    def flat(doc: dict[str, Any], prefix: str = "") -> dict[str, str]:
        out: dict[str, str] = {}
        for key, value in doc.items():
            if isinstance(value, dict):
                out |= flat(value, f"{prefix}{key}.")
            else:
                out[prefix + key] = "" if value is None else str(value)
        return out

    for address, name in ((USERS, "csv/app.users.csv"), (EVENTS, "csv/app.events.csv")):
        assert read_csv(files[name]) == [flat(row) for row in data[address]]


def test_index_html_escapes_and_shows_the_first_thousand_rows() -> None:
    platform, _, rid = prepared(RequestType.ACCESS)
    package.build(platform, rid)
    page = entries(stored_zip(platform, rid))["index.html"].decode()
    assert page.startswith("<!doctype html>")
    assert "<h2>app:users (3)</h2>" in page
    assert "Zoë &lt;b&gt;" in page
    assert "<b>" not in page
    assert "<h2>app:events (2500)</h2>" in page
    assert "The first 1,000 of 2,500 records" in page
    assert "csv/app.events.csv" in page
    assert page.count("<tr>") == 1 + 3 + 1 + 1000  # header rows + users + events preview
    assert "10.0.3.231" in page  # row 999
    assert "10.0.3.232" not in page  # row 1000 is in data.json and the CSV only


def test_portability_package_has_a_manifest() -> None:
    platform, _, rid = prepared(RequestType.PORTABILITY)
    package.build(platform, rid)
    files = entries(stored_zip(platform, rid))
    assert list(files) == [
        "data.json", "csv/app.events.csv", "csv/app.users.csv", "index.html", "manifest.json",
    ]  # fmt: skip
    assert json.loads(files["manifest.json"]) == {
        "format": "rightsflow.package",
        "version": 1,
        "request_type": "portability",
        "generated_at": GENERATED.isoformat(),
        "data": "data.json",
        "collections": [
            {"address": EVENTS, "dataset": "app", "collection": "events", "rows": EVENT_COUNT,
             "fields": ["ip", "user_email"], "csv": "csv/app.events.csv"},
            {"address": USERS, "dataset": "app", "collection": "users", "rows": 3,
             "fields": ["email", "id", "profile.contact.phone", "profile.nickname"],
             "csv": "csv/app.users.csv"},
        ],
    }  # fmt: skip


def test_the_same_data_gives_the_same_zip() -> None:
    platform, _, rid = prepared(RequestType.PORTABILITY)
    package.build(platform, rid)
    first = stored_zip(platform, rid)
    package.build(platform, rid)
    assert stored_zip(platform, rid) == first
    with zipfile.ZipFile(io.BytesIO(first)) as archive:
        assert {i.date_time for i in archive.infolist()} == {(2020, 1, 1, 0, 0, 0)}
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_DEFLATED}


def test_package_is_stored_sealed() -> None:
    platform, store, rid = prepared(RequestType.ACCESS)
    package.build(platform, rid)
    sealed = b"".join(platform.packages.read(rid) or [])
    assert b"ada@example.com" not in sealed
    assert b"data.json" not in sealed
    built = [e for e in store.state.audit if e.action == "package.built"]
    assert len(built) == 1
    assert built[0].detail == {"rows": len(USER_ROWS) + EVENT_COUNT, "bytes": len(sealed)}


def test_results_stored_as_one_blob_are_still_packaged() -> None:
    """Results written before result pages (node_results.sealed_rows) are read as one page."""
    platform, _ = make_platform()
    platform = app_platform(platform)
    rid = add_request(platform, RequestType.ACCESS)
    with platform.uow() as uow:
        sealed = seal_rows(platform.vault, rid, USER_ROWS)
        uow.results.put(NodeResult(rid, USERS, "retrieve", rows_found=3, sealed_rows=sealed))
        uow.commit()
    assert package.build(platform, rid) == 3
    files = entries(stored_zip(platform, rid))
    assert json.loads(files["data.json"]) == {EVENTS: [], USERS: PROJECTED_USERS}
    assert files["csv/app.events.csv"] == b"ip,user_email\r\n"
    assert "<h2>app:events (0)</h2><p>No records.</p>" in files["index.html"].decode()


def test_download_needs_a_completed_access_or_portability_request() -> None:
    platform, store, rid = prepared(RequestType.PORTABILITY)
    with pytest.raises(Conflict, match="ready when the request completes"):
        package.download(platform, rid, "ops")
    package.build(platform, rid)
    complete(platform, rid)
    assert package.download(platform, rid, "ops") == stored_zip(platform, rid)
    downloads = [e for e in store.state.audit if e.action == "package.downloaded"]
    assert [(e.request_id, e.actor) for e in downloads] == [(rid, "ops")]

    erasure = add_request(platform, RequestType.ERASURE)
    with pytest.raises(Conflict, match="only access and portability"):
        package.download(platform, erasure, "ops")
    unbuilt = add_request(platform, RequestType.ACCESS)
    complete(platform, unbuilt)
    with pytest.raises(NotFound, match="package not found"):
        package.download(platform, unbuilt, "ops")
