"""The retention purge on a real SQLite file and a real PostgreSQL server: after it, the raw
bytes a request left behind (sealed identities and pages read from the database, the package
file) cannot be opened; everything else is untouched; a dry run changes nothing; every purge
is audited once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.cli.main import app
from rightsflow.config import Settings
from rightsflow.domain.errors import RightsflowError
from rightsflow.domain.requests import RequestStatus
from rightsflow.services import retention
from rightsflow.storage.key_store import SqlKeyStore
from rightsflow.storage.vault import FileVault
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.retention import (
    IDENTITIES,
    PACKAGE,
    PAGE,
    Seeded,
    owned_rows,
    package_path,
    request_row,
    row_counts,
    seed,
    wrapped_key,
)
from tests.support.stack import make_shop

DESTROYED = "data key was destroyed"
DAYS = 730


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


def make_settings(root: Path, database_url: str | None = None) -> Settings:
    _, mapdir = make_shop(root, customers=5)
    return Settings(data_dir=root / "data", datamap_dir=mapdir, database_url=database_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    if request.param == "sqlite":
        return make_settings(tmp_path)
    server: PostgresServer = request.getfixturevalue("pg_server")
    name = f"rf_retention_{uuid.uuid4().hex[:10]}"
    server.create_database(name)
    return make_settings(tmp_path, server.url(name))


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    runtime = build_runtime(settings)
    yield runtime
    runtime.close()


def fresh_vault(runtime: Runtime) -> FileVault:
    """A vault as another process would have it: same secret and database, empty cache."""
    assert runtime.keys is not None
    return FileVault(runtime.settings.secret_key_file, keys=SqlKeyStore(runtime.keys.engine))


def purge(runtime: Runtime) -> retention.PurgeReport:
    return retention.purge(runtime.platform, retention.cutoff_for(runtime.platform.clock(), DAYS))


def assert_opens(vault: FileVault, seeded: Seeded) -> None:
    assert vault.open(seeded.id, seeded.sealed_identities) == IDENTITIES
    assert vault.open(seeded.id, seeded.sealed_page) == PAGE
    assert b"".join(vault.open_stream(seeded.id, [seeded.package])) == PACKAGE


def assert_shredded(vault: FileVault, seeded: Seeded) -> None:
    for sealed in (seeded.sealed_identities, seeded.sealed_page):
        with pytest.raises(RightsflowError, match=DESTROYED):
            vault.open(seeded.id, sealed)
    with pytest.raises(RightsflowError, match=DESTROYED):
        b"".join(vault.open_stream(seeded.id, [seeded.package]))
    with pytest.raises(RightsflowError, match=DESTROYED):
        vault.seal(seeded.id, b"anything new")


def purged_events(runtime: Runtime, request_id: str) -> list[dict[str, object]]:
    with runtime.platform.uow() as uow:
        events = uow.audit.for_request(request_id)
    return [{"actor": e.actor, **e.detail} for e in events if e.action == retention.PURGED]


def test_purge_shreds_old_requests_and_touches_nothing_else(runtime: Runtime) -> None:
    old = seed(runtime, closed_days_ago=DAYS + 70)
    denied = seed(runtime, closed_days_ago=DAYS + 1, status=RequestStatus.DENIED)
    recent = seed(runtime, closed_days_ago=DAYS - 1)
    failed = seed(runtime, closed_days_ago=DAYS + 300, status=RequestStatus.FAILED)  # still owed
    assert old.sealed_identities[0] == 2
    assert old.package[0] == 3
    before = row_counts(runtime)
    kept_rows = {r.id: owned_rows(runtime, r.id) for r in (recent, failed)}

    report = purge(runtime)

    assert (report.requests, report.keys_destroyed, report.packages) == (2, 2, 2)
    assert report.rows == {
        "result_pages": 2, "node_results": 2, "system_calls": 2, "verifications": 2
    }  # fmt: skip
    for gone in (old, denied):
        for vault in (runtime.platform.vault, fresh_vault(runtime)):
            assert_shredded(vault, gone)
        assert not package_path(runtime, gone.id).exists()
        assert set(owned_rows(runtime, gone.id).values()) == {0}
        assert wrapped_key(runtime, gone.id) == b""
        row = request_row(runtime, gone.id)
        assert (row["sealed_identities"], row["plan"]) == (b"", None)
        assert (row["extension_reason"], row["idempotency_key"]) == (None, None)
        assert row["type"] == "access"
        assert row["source"] == "operator:alice"
        [event] = purged_events(runtime, gone.id)
        assert event["actor"] == "system"
        assert event["data_key"] == "destroyed"
        assert event["package"] is True
        assert event["rows"] == {
            "node_results": 1, "result_pages": 1, "system_calls": 1, "verifications": 1
        }  # fmt: skip
        assert "ada" not in str(event)
    for kept in (recent, failed):
        assert_opens(fresh_vault(runtime), kept)
        assert owned_rows(runtime, kept.id) == kept_rows[kept.id]
        assert purged_events(runtime, kept.id) == []
    after = row_counts(runtime)
    assert after["privacy_requests"] == before["privacy_requests"] == 4
    assert after["audit_events"] == before["audit_events"] + 2


def test_dry_run_counts_and_changes_nothing(runtime: Runtime) -> None:
    old = seed(runtime, closed_days_ago=DAYS + 5)
    seed(runtime, closed_days_ago=10)
    before = row_counts(runtime)

    report = retention.survey(
        runtime.platform, retention.cutoff_for(runtime.platform.clock(), DAYS)
    )

    assert (report.requests, report.packages, report.dry_run) == (1, 1, True)
    assert report.rows == {
        "result_pages": 1,
        "node_results": 1,
        "system_calls": 1,
        "verifications": 1,
    }
    assert row_counts(runtime) == before
    assert_opens(fresh_vault(runtime), old)
    assert package_path(runtime, old.id).exists()


def test_purge_is_idempotent_and_resumes_after_a_crash(runtime: Runtime) -> None:
    crashed, other = seed(runtime, DAYS + 40), seed(runtime, DAYS + 41)
    # A run that stopped right after destroying one key and deleting its package.
    assert runtime.platform.vault.destroy_key(crashed.id) is True
    assert runtime.platform.packages.delete(crashed.id) is True

    first = purge(runtime)
    again = purge(runtime)

    assert (first.requests, first.keys_destroyed, first.packages) == (2, 1, 1)
    assert (again.requests, again.rows, again.keys_destroyed) == (0, {}, 0)
    [event] = purged_events(runtime, crashed.id)
    assert (event["data_key"], event["package"]) == ("none", False)
    assert len(purged_events(runtime, other.id)) == 1
    assert_shredded(fresh_vault(runtime), crashed)


def test_legacy_requests_sealed_with_the_master_key_are_purged_too(runtime: Runtime) -> None:
    legacy = seed(runtime, DAYS + 100, legacy=True)  # closed_at unset: completed_at counts
    canceled = seed(runtime, DAYS + 100, RequestStatus.CANCELED, legacy=True)  # neither: updated_at
    assert legacy.sealed_identities[0] == 1
    assert legacy.package[0] == 2
    assert wrapped_key(runtime, legacy.id) is None

    report = purge(runtime)

    # A canceled legacy row was updated just now (seeded): only the completed one is due.
    assert report.requests == 1
    assert report.keys_destroyed == 0
    assert_shredded(fresh_vault(runtime), legacy)
    assert wrapped_key(runtime, legacy.id) == b""  # tombstone: nothing new sealed for it
    assert request_row(runtime, legacy.id)["sealed_identities"] == b""
    assert_opens(fresh_vault(runtime), canceled)


def test_sqlite_file_keeps_no_copy_of_the_purged_bytes(tmp_path: Path) -> None:
    """secure_delete and the WAL checkpoint: the bytes are gone from the file, not just
    unreachable. (On PostgreSQL old row versions stay until VACUUM; the destroyed key is what
    makes them unreadable there.)"""
    runtime = build_runtime(make_settings(tmp_path))
    try:
        _check_no_copy_left(runtime)
    finally:
        runtime.close()


def _check_no_copy_left(runtime: Runtime) -> None:
    gone = seed(runtime, DAYS + 3)
    key = wrapped_key(runtime, gone.id)
    assert key
    databases = [
        Path(url.removeprefix("sqlite:///"))
        for url in (runtime.settings.app_database_url, runtime.settings.key_db_url)
    ]

    def on_disk() -> bytes:
        wals = [db.with_name(db.name + "-wal") for db in databases]
        return b"".join(f.read_bytes() for f in [*databases, *wals] if f.exists())

    assert key in on_disk()
    assert gone.sealed_identities in on_disk()
    purge(runtime)
    raw = on_disk()
    for secret in (key, gone.sealed_identities, gone.sealed_page):
        assert secret not in raw


def test_cli_dry_run_then_purge(runtime: Runtime, settings: Settings) -> None:
    seed(runtime, DAYS + 2)
    seed(runtime, 3)
    args = ["retention", "purge", "--data-dir", str(settings.data_dir)]
    args += ["--datamap", str(settings.datamap_dir)]
    env = {"RIGHTSFLOW_DATABASE_URL": settings.app_database_url}
    cli = CliRunner()

    dry = cli.invoke(app, [*args, "--dry-run"], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would purge 1 request(s)" in dry.output
    assert "nothing was changed" in dry.output
    wider = cli.invoke(app, [*args, "--dry-run", "--older-than-days", "1"], env=env)
    assert "would purge 2 request(s)" in wider.output

    done = cli.invoke(app, args, env=env)
    assert done.exit_code == 0, done.output
    assert "purged 1 request(s)" in done.output
    assert "data keys destroyed" in done.output
    assert "purged 0 request(s)" in cli.invoke(app, args, env=env).output
