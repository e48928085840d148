"""The key database (SQLite keys.db, or PostgreSQL) and KEK rotation on a real platform:
re-wrapping in batches while other vaults keep reading, resuming after a crash, a key destroyed
meanwhile staying destroyed, derivations untouched, retirement, the CLI and its audit trail;
and the upgrade that moves data keys out of an app database at revision 0006."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from typer.testing import CliRunner

from rightsflow.bootstrap import Runtime, build_runtime, make_vault
from rightsflow.cli.main import app
from rightsflow.config import Settings
from rightsflow.domain.errors import RightsflowError
from rightsflow.services import identity_lookup
from rightsflow.services.requests import NewRequest, submit
from rightsflow.storage import kek_rotation
from rightsflow.storage.data_keys import StoredKey
from rightsflow.storage.kek import KekRing, LocalKekProvider, master_secret
from rightsflow.storage.key_store import SqlKeyStore, kek_versions
from rightsflow.storage.migrate import alembic_config, make_engine, upgrade_database
from rightsflow.storage.tables import audit_events
from rightsflow.storage.vault import FileVault
from tests.support.postgres import PostgresServer, start_postgres
from tests.support.stack import make_shop

DESTROYED = "data key was destroyed"


@pytest.fixture(scope="module")
def pg_server() -> Iterator[PostgresServer]:
    server = start_postgres()
    yield server
    server.stop()


def make_settings(root: Path, key_database_url: str | None = None) -> Settings:
    _, mapdir = make_shop(root, customers=3)
    return Settings(data_dir=root / "data", datamap_dir=mapdir, key_database_url=key_database_url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    url = None
    if request.param == "postgres":
        server: PostgresServer = request.getfixturevalue("pg_server")
        name = f"rf_keys_{uuid.uuid4().hex[:10]}"
        server.create_database(name)
        url = server.url(name)
    runtime = build_runtime(make_settings(tmp_path, url))
    yield runtime
    runtime.close()


def submitted(runtime: Runtime, count: int) -> list[tuple[str, bytes]]:
    """`count` requests, each with a blob sealed under its data key: (id, sealed)."""
    out = []
    for n in range(count):
        new = NewRequest("access", {"email": f"key.holder.{n}@example.com"}, "gdpr")
        request, _ = submit(runtime.platform, new)
        out.append((request.id, runtime.platform.vault.seal(request.id, f"row {n}".encode())))
    return out


def other_process(runtime: Runtime) -> FileVault:
    """A vault as another process has it: its own cache and KEK ring."""
    return make_vault(runtime.settings, runtime.engine, runtime.keys)


def keys_of(runtime: Runtime) -> SqlKeyStore:
    assert runtime.keys is not None
    return runtime.keys


def test_keys_live_in_the_key_database_and_not_in_the_app_database(runtime: Runtime) -> None:
    [(rid, sealed)] = submitted(runtime, 1)
    assert keys_of(runtime).counts() == {1: 1}
    assert "request_keys" not in sa.inspect(runtime.engine).get_table_names()
    assert "data_keys" not in sa.inspect(runtime.engine).get_table_names()
    assert other_process(runtime).open(rid, sealed) == b"row 0"


def test_rotation_rewraps_every_key_while_readers_keep_working(runtime: Runtime) -> None:
    store, platform = keys_of(runtime), runtime.platform
    sealed = submitted(runtime, 5)
    before = platform.vault.lookup_hash("x"), platform.vault.masking_key()
    stale = other_process(runtime)  # loaded its ring before the rotation
    provider = LocalKekProvider(_secret(runtime))
    ring = KekRing(provider, store.versions)

    report = kek_rotation.begin(store, provider, ring)
    batches: list[int] = []
    kek_rotation.rewrap(store, ring, report, batch=2, on_batch=batches.append)

    assert (report.version, report.started, report.rewrapped, report.skipped) == (2, True, 5, 0)
    assert batches == [2, 2, 1]
    assert store.counts() == {2: 5}
    for opener in (stale, other_process(runtime), platform.vault):
        assert [opener.open(rid, blob) for rid, blob in sealed] == [
            f"row {n}".encode() for n in range(5)
        ]
    new = other_process(runtime)
    assert (new.lookup_hash("x"), new.masking_key()) == before  # derivations are pinned
    found = identity_lookup.requests_for_identity(platform, "email", "key.holder.3@example.com")
    assert [r.id for r in found] == [sealed[3][0]]
    # The platform's ring predates the rotation: until it refreshes (RING_REFRESH_S) its new
    # keys still go under version 1. Hence the sweep before retiring (see kek_rotation.py).
    fresh = submitted(runtime, 1)
    assert store.counts() == {1: 1, 2: 5}
    kek_rotation.rewrap(store, ring, report)
    assert store.counts() == {2: 6}
    assert stale.open(*fresh[0]) == b"row 0"


def test_an_interrupted_rotation_is_resumed_not_restarted(runtime: Runtime) -> None:
    store = keys_of(runtime)
    submitted(runtime, 5)
    provider = LocalKekProvider(_secret(runtime))
    ring = KekRing(provider, store.versions)
    report = kek_rotation.begin(store, provider, ring)

    def crash(_n: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        kek_rotation.rewrap(store, ring, report, batch=2, on_batch=crash)
    assert store.counts() == {1: 3, 2: 2}
    assert kek_rotation.pending(store) == 3

    again = kek_rotation.begin(store, provider, ring)
    kek_rotation.rewrap(store, ring, again)
    assert (again.version, again.started, again.rewrapped) == (2, False, 3)
    assert store.counts() == {2: 5}
    assert kek_rotation.begin(store, provider, ring).version == 3  # finished: a new rotation


def test_a_key_destroyed_during_rotation_stays_destroyed(runtime: Runtime) -> None:
    store = keys_of(runtime)
    [(rid, sealed)] = submitted(runtime, 1)
    old = store.get(rid)
    assert old is not None
    assert runtime.platform.vault.destroy_key(rid)
    provider = LocalKekProvider(_secret(runtime))
    wrapped = provider.kek("local:v2").wrap(b"k" * 32, b"whatever")
    assert store.rewrap([(rid, old, wrapped)], 2) == 0
    assert store.get(rid) == StoredKey(b"", None)
    with pytest.raises(RightsflowError, match=DESTROYED):
        other_process(runtime).open(rid, sealed)


def test_old_versions_are_retired_only_when_empty_and_seen_by_every_process(
    runtime: Runtime,
) -> None:
    store = keys_of(runtime)
    sealed = submitted(runtime, 2)
    provider = LocalKekProvider(_secret(runtime))
    ring = KekRing(provider, store.versions)
    report = kek_rotation.begin(store, provider, ring)
    with pytest.raises(RightsflowError, match="2 data keys are still wrapped"):
        kek_rotation.retire_older(store, refresh_s=30)
    kek_rotation.rewrap(store, ring, report)
    with pytest.raises(RightsflowError, match="retire in"):
        kek_rotation.retire_older(store, refresh_s=30)
    created = store.versions()[-1].created_at
    assert kek_rotation.retire_older(store, 30, now=created + timedelta(seconds=31)) == (1,)

    with pytest.raises(RightsflowError, match="retired or unknown"):
        KekRing(provider, store.versions).for_version(1)
    assert [other_process(runtime).open(rid, blob) for rid, blob in sealed] == [b"row 0", b"row 1"]


def test_keys_cli_status_rotate_retire_and_audit(runtime: Runtime) -> None:
    submitted(runtime, 3)
    settings = runtime.settings
    env = {"RIGHTSFLOW_KEY_DATABASE_URL": settings.key_db_url}
    cli, data = CliRunner(), ["--data-dir", str(settings.data_dir)]

    rotated = cli.invoke(app, ["keys", "rotate", "--batch-size", "2", *data], env=env)
    assert rotated.exit_code == 0, rotated.output
    assert "rotated to version 2: 3 keys re-wrapped" in rotated.output
    early = cli.invoke(app, ["keys", "retire", *data], env=env)
    assert early.exit_code == 1
    assert "retire in" in early.output
    _age_versions(runtime, seconds=60)
    retired = cli.invoke(app, ["keys", "retire", *data], env=env)
    assert retired.exit_code == 0, retired.output
    assert "retired versions: 1" in retired.output
    status = cli.invoke(app, ["keys", "status", *data], env=env)
    assert status.exit_code == 0, status.output
    assert "local:v2" in status.output
    assert "destroyed keys (tombstones): 0" in status.output

    with runtime.engine.connect() as conn:
        query = sa.select(audit_events.c.action, audit_events.c.detail, audit_events.c.actor)
        events = conn.execute(query.where(audit_events.c.request_id == "keys")).all()
    assert [(a, actor) for a, _, actor in events] == [
        ("keys.rotated", "cli"),
        ("keys.retired", "cli"),
    ]
    assert events[0][1] == {"version": 2, "started": True, "rewrapped": 3, "skipped": 0}
    assert events[1][1] == {"version": 2, "retired": [1]}


def test_upgrade_moves_data_keys_out_of_an_app_database_at_0006(tmp_path: Path) -> None:
    settings = make_settings(tmp_path)
    settings.data_dir.mkdir(parents=True)
    rid, tombstoned = str(uuid.uuid4()), str(uuid.uuid4())
    memory = MemoryStore()
    old = FileVault(settings.secret_key_file, keys=memory)  # keys as revision 0006 made them
    sealed = old.seal(rid, b"sealed before the upgrade")
    engine = make_engine(settings.app_database_url)
    with engine.begin() as conn:
        command.upgrade(alembic_config(conn), "0006")
        legacy = sa.table("request_keys", sa.column("request_id"), sa.column("wrapped_key"),
                          sa.column("created_at"))  # fmt: skip
        rows = [(rid, memory.rows[rid]), (tombstoned, b"")]
        conn.execute(
            legacy.insert(),
            [
                {"request_id": r, "wrapped_key": w, "created_at": "2026-01-01 00:00:00"}
                for r, w in rows
            ],
        )
    with pytest.raises(RuntimeError, match="still holds 2 data keys"):
        upgrade_database(settings.app_database_url)  # on its own, 0007 would lose them

    runtime = build_runtime(settings)
    try:
        assert "request_keys" not in sa.inspect(runtime.engine).get_table_names()
        assert keys_of(runtime).counts() == {1: 1, None: 1}
        assert runtime.platform.vault.open(rid, sealed) == b"sealed before the upgrade"
        with pytest.raises(RightsflowError, match=DESTROYED):
            runtime.platform.vault.seal(tombstoned, b"x")
    finally:
        runtime.close()
        engine.dispose()


class MemoryStore:
    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}

    def get(self, request_id: str) -> StoredKey | None:
        wrapped = self.rows.get(request_id)
        return None if wrapped is None else StoredKey(wrapped, 1)

    def add(self, request_id: str, wrapped: bytes, kek_version: int) -> StoredKey:
        self.rows.setdefault(request_id, wrapped)
        return StoredKey(self.rows[request_id], kek_version)

    def destroy(self, request_id: str) -> bool:
        raise NotImplementedError


def _secret(runtime: Runtime) -> bytes:
    settings = runtime.settings
    return master_secret(None, settings.secret_key_file, settings.master_key_env, {})[0]


def _age_versions(runtime: Runtime, seconds: float) -> None:
    """As if the versions had been added `seconds` earlier."""
    store = keys_of(runtime)
    with store.engine.begin() as conn:
        for version in store.versions():
            conn.execute(
                kek_versions.update()
                .where(kek_versions.c.version == version.version)
                .values(created_at=version.created_at - timedelta(seconds=seconds))
            )
