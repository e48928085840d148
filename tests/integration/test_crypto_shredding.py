"""Crypto-shredding, proven on raw bytes: an access request runs end to end (real workflow,
worker and Temporal dev server, SQLite app database, key database, package file) for a
subject with distinctive values; a backup of the app database is taken (sqlite3 backup API)
and the packages are copied; the request is purged. Then neither the live files nor the backup
nor the copied package hold a value in plain text (or a common encoding), and with the live
key database and the master key nothing sealed for the request opens any more, backup
included. The Temporal history is the payload codec's part (tests/workflows)."""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from temporalio.client import Client

from rightsflow.bootstrap import make_vault
from rightsflow.domain.errors import RightsflowError
from rightsflow.services import identity_lookup, retention
from rightsflow.services.requests import NewRequest, submit_and_start
from rightsflow.storage.vault import FileVault
from rightsflow.workflows.devserver import DevServer
from tests.support.leak_scan import files_under, scan
from tests.support.stack import make_shop, running_stack, stack_settings

pytestmark = [pytest.mark.temporal, pytest.mark.slow]

SUBJECT = {
    "email": "shred-5d81c7@canary.example",
    "name": "Quorvex Shredmoore",
    "phone": "+44 7700 900771",
}
DESTROYED = "data key was destroyed"


@pytest.fixture(scope="module")
def temporal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = DevServer(Path(tmp_path_factory.mktemp("temporal")), headless=True)
    server.start()
    yield server
    server.stop()


def add_subject(shop: Path) -> None:
    with sqlite3.connect(shop) as conn:
        conn.execute(
            "INSERT INTO customers (email, name, phone, created_at) VALUES (?, ?, ?, ?)",
            (SUBJECT["email"], SUBJECT["name"], SUBJECT["phone"], "2026-01-01"),
        )


def backup(database: Path, to: Path) -> None:
    with sqlite3.connect(database) as live, sqlite3.connect(to) as copy:
        live.backup(copy)
    copy.close()


def sealed_in(database: Path, request_id: str) -> list[bytes]:
    """Every sealed value the database file holds for the request (identities, pages)."""
    with sqlite3.connect(database) as conn:
        found = conn.execute(
            "SELECT sealed_identities FROM privacy_requests WHERE id = ? UNION ALL "
            "SELECT sealed FROM result_pages WHERE request_id = ?",
            (request_id, request_id),
        ).fetchall()
    conn.close()
    return [bytes(value) for (value,) in found if value]


def outcomes(vault: FileVault, request_id: str, blobs: list[bytes], package: Path) -> set[str]:
    """What opening each blob and the package gives: "opened", "destroyed", or the error."""

    def attempt(open_one: Callable[[], object]) -> str:
        try:
            open_one()
        except RightsflowError as exc:
            return "destroyed" if DESTROYED in str(exc) else str(exc)
        return "opened"

    tried = [attempt(lambda blob=blob: vault.open(request_id, blob)) for blob in blobs]
    stream = package.read_bytes()
    tried.append(attempt(lambda: b"".join(vault.open_stream(request_id, [stream]))))
    return set(tried)


async def test_purged_request_is_unreadable_everywhere_backups_included(
    tmp_path: Path, temporal: DevServer
) -> None:
    shop, mapdir = make_shop(tmp_path, customers=5)
    add_subject(shop)
    settings = stack_settings(tmp_path, mapdir, temporal.address)
    client = await Client.connect(temporal.address)
    database = Path(settings.app_database_url.removeprefix("sqlite:///"))
    saved = tmp_path / "saved"
    async with running_stack(settings, client) as stack:
        platform = stack.runtime.platform
        new = NewRequest("access", {"email": SUBJECT["email"]}, "gdpr", verified=True)
        request, _ = await submit_and_start(platform, stack.starter, new)
        assert await stack.wait(request.id) == "completed"
        saved.mkdir()
        backup(database, saved / "backup.db")
        shutil.copytree(settings.packages_dir, saved / "packages")
        package = saved / "packages" / f"{request.id}.bin"
        blobs = sealed_in(saved / "backup.db", request.id)
        assert len(blobs) >= 2  # the identities and at least one page of rows
        assert outcomes(platform.vault, request.id, blobs, package) == {"opened"}
        assert identity_lookup.requests_for_identity(platform, "email", SUBJECT["email"])

        purged = retention.purge(platform, platform.clock() + timedelta(days=1))
        assert (purged.requests, purged.keys_destroyed, purged.packages) == (1, 1, 1)

        assert identity_lookup.requests_for_identity(platform, "email", SUBJECT["email"]) == []
        assert outcomes(platform.vault, request.id, blobs, package) == {"destroyed"}
        another_process = make_vault(settings, stack.runtime.engine, stack.runtime.keys)
        assert outcomes(another_process, request.id, blobs, package) == {"destroyed"}
        assert sealed_in(database, request.id) == []
        keys_db = Path(settings.key_db_url.removeprefix("sqlite:///"))
        live = [f.with_name(f.name + s) for f in (database, keys_db) for s in ("", "-wal")]
        assert scan([f for f in live if f.exists()] + files_under(saved), SUBJECT) == []
        assert scan([shop], SUBJECT)  # the scan finds the values where they are in the clear
    assert not (settings.packages_dir / f"{request.id}.bin").exists()
    assert _key_database_holds_only_the_tombstone(settings.key_db_url, request.id)


def _key_database_holds_only_the_tombstone(url: str, request_id: str) -> bool:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sa.text("SELECT wrapped_key, kek_version FROM data_keys WHERE request_id = :r"),
                {"r": request_id},
            ).one()
    finally:
        engine.dispose()
    return (bytes(row[0]), row[1]) == (b"", None)
