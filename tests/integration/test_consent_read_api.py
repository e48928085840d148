"""GET /api/v1/consent/{subject} and POST /api/v1/consent/bulk-read over HTTP on a real
runtime (SQLite): defaults per regime, stored choices, bulk answers keyed as given, 422s."""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.config import Settings
from rightsflow.domain.consent import SubjectKind, SubjectRef
from rightsflow.services import consent_read
from tests.support.consent_rows import at, put_state
from tests.support.http_server import serve
from tests.support.stack import make_shop
from tests.unit.fakes import AUTH, TOKEN, RecordingStarter, all_ok

BASE = "/api/v1/consent"


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    _db, mapdir = make_shop(tmp_path, customers=3)
    runtime = build_runtime(Settings(data_dir=tmp_path / "data", datamap_dir=mapdir))
    yield runtime
    runtime.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[httpx.Client]:
    deps = ApiDeps(
        platform=runtime.platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda token: hmac.compare_digest(token, TOKEN),
        readiness=all_ok,
    )
    app = create_app(Settings(data_dir=runtime.settings.data_dir), deps)
    with serve(app) as base, httpx.Client(base_url=base, headers=AUTH) as client:
        yield client


def digest(runtime: Runtime, kind: SubjectKind, value: str) -> str:
    return consent_read.subject_hash(runtime.platform, SubjectRef(kind, value))


def test_a_subject_without_choices_gets_the_regimes_defaults(client: httpx.Client) -> None:
    gdpr = client.get(f"{BASE}/user_id:u-1")
    assert gdpr.status_code == 200, gdpr.text
    assert gdpr.headers["cache-control"] == "no-store"
    assert gdpr.json()["regime"] == "gdpr"  # the platform's default regime
    ccpa = client.get(f"{BASE}/u-1", params={"regime": "ccpa"}).json()
    assert ccpa["purposes"]["analytics"] == {
        "granted": True,
        "source": None,
        "notice": None,
        "updated_at": None,
        "default": True,
        "resolution": None,
    }
    assert gdpr.json()["purposes"]["analytics"]["granted"] is False


def test_stored_choices_by_kind_of_subject(client: httpx.Client, runtime: Runtime) -> None:
    put_state(
        runtime.engine,
        digest(runtime, SubjectKind.EMAIL, "ann@example.com"),
        "analytics",
        True,
        at(1),
    )
    consent_read.refresh(runtime.platform, digest(runtime, SubjectKind.EMAIL, "ann@example.com"))
    doc = client.get(f"{BASE}/email: Ann@Example.com ").json()  # normalised like requests
    assert doc["purposes"]["analytics"]["granted"] is True
    assert doc["purposes"]["analytics"]["default"] is False
    other_kind = client.get(f"{BASE}/device_id:ann@example.com").json()
    assert other_kind["purposes"]["analytics"]["default"] is True


def test_bulk_read_keys_states_by_the_subjects_as_given(
    client: httpx.Client, runtime: Runtime
) -> None:
    put_state(
        runtime.engine, digest(runtime, SubjectKind.USER_ID, "u-2"), "analytics", False, at(1)
    )
    subjects = ["u-2", "user_id:u-2", "device_id:d-9"]
    answer = client.post(f"{BASE}/bulk-read", json={"subjects": subjects, "regime": "ccpa"})
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert list(body["states"]) == subjects
    assert body["states"]["u-2"] == body["states"]["user_id:u-2"]
    assert body["states"]["u-2"]["purposes"]["analytics"]["granted"] is False
    assert body["states"]["device_id:d-9"]["purposes"]["analytics"]["granted"] is True


def test_bad_input_is_a_422_naming_the_field_without_echoing_it(client: httpx.Client) -> None:
    empty = client.get(f"{BASE}/email:%20")
    assert empty.status_code == 422
    assert "subject" in empty.text
    regime = client.get(f"{BASE}/u-1", params={"regime": "mars"})
    assert regime.status_code == 422
    assert "regime" in regime.text
    secret = "x" * 300
    too_long = client.post(f"{BASE}/bulk-read", json={"subjects": ["ok", f"email:{secret}"]})
    assert too_long.status_code == 422
    assert secret not in too_long.text
    too_many = client.post(f"{BASE}/bulk-read", json={"subjects": ["u"] * 1001})
    assert too_many.status_code == 422


def test_reads_need_the_consent_read_scope(client: httpx.Client) -> None:
    assert client.get(f"{BASE}/u-1", headers={"Authorization": ""}).status_code == 401
