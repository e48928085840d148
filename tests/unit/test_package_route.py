"""GET /privacy-requests/{id}/package streams the package, audited; damage is caught early."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from rightsflow.domain.errors import RightsflowError
from rightsflow.domain.requests import RequestType
from rightsflow.services import package
from rightsflow.storage.vault import FileVault
from tests.unit.fakes import ApiHarness, FakePackages, api_harness, make_platform
from tests.unit.package_support import (
    add_request,
    app_platform,
    complete,
    entries,
    store_rows,
    stored_zip,
)

URL = "/api/v1/privacy-requests"


@pytest.fixture
def api(tmp_path: Path) -> Iterator[ApiHarness]:
    with api_harness(tmp_path) as harness:
        yield harness


def built(api: ApiHarness, kind: RequestType, rows: int = 3_000) -> str:
    """A completed request of `kind` with a built package (same store, vault and packages as
    the app, on the app data map)."""
    platform = app_platform(api.platform)
    rid = add_request(platform, kind)
    store_rows(platform, rid, "app:events", [
        {"id": i, "user_email": "ada@example.com", "ip": f"10.1.{i // 256}.{i % 256}"}
        for i in range(rows)
    ])  # fmt: skip
    package.build(platform, rid)
    complete(platform, rid)
    return rid


@pytest.mark.parametrize("kind", [RequestType.ACCESS, RequestType.PORTABILITY])
def test_the_package_is_streamed_in_chunks_and_audited(api: ApiHarness, kind: RequestType) -> None:
    rid = built(api, kind)
    expected = stored_zip(api.platform, rid)
    packages = api.platform.packages
    assert isinstance(packages, FakePackages)
    assert len(packages.stored[rid]) > 4 * packages.chunk_size  # read back in several chunks
    with api.client.stream("GET", f"{URL}/{rid}/package") as response:
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/zip"
        assert response.headers["content-disposition"] == (
            f'attachment; filename="rightsflow-{rid}.zip"'
        )
        assert response.headers["cache-control"] == "no-store"
        assert "content-length" not in response.headers  # streamed, not buffered
        body = b"".join(response.iter_bytes())
    assert body == expected
    files = entries(body)
    assert len(json.loads(files["data.json"])["app:events"]) == 3_000
    assert ("manifest.json" in files) is (kind is RequestType.PORTABILITY)
    downloads = [e for e in api.store.state.audit if e.action == "package.downloaded"]
    assert [(e.request_id, e.actor) for e in downloads] == [(rid, "bootstrap:owner")]


def test_problems_come_before_any_byte(api: ApiHarness) -> None:
    platform = app_platform(api.platform)
    erasure = add_request(platform, RequestType.ERASURE)
    complete(platform, erasure)
    answer = api.client.get(f"{URL}/{erasure}/package")
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    unbuilt = add_request(platform, RequestType.PORTABILITY)
    assert api.client.get(f"{URL}/{unbuilt}/package").status_code == 409  # still executing
    complete(platform, unbuilt)
    assert api.client.get(f"{URL}/{unbuilt}/package").status_code == 404
    assert not [e for e in api.store.state.audit if e.action == "package.downloaded"]


def test_a_damaged_package_fails_before_the_download_is_recorded() -> None:
    fake, store = make_platform()
    platform = replace(app_platform(fake), vault=FileVault.from_secret(b"s" * 32))
    rid = add_request(platform, RequestType.ACCESS)
    store_rows(platform, rid, "app:users", [{"id": 1, "email": "ada@example.com"}])
    package.build(platform, rid)
    complete(platform, rid)
    assert entries(package.download(platform, rid, "ops"))["data.json"]
    packages = platform.packages
    assert isinstance(packages, FakePackages)
    damaged = bytearray(packages.stored[rid])
    damaged[40] ^= 0x01  # inside the first frame
    packages.stored[rid] = bytes(damaged)
    with pytest.raises(RightsflowError, match="cannot be opened"):
        package.open_package(platform, rid, "ops")
    downloads = [e for e in store.state.audit if e.action == "package.downloaded"]
    assert len(downloads) == 1  # the good download only
