"""FileVault with per-request data keys: envelope encryption, the old formats still open,
crypto-shredding, and the key cache."""

from __future__ import annotations

import os
import uuid
from datetime import UTC, datetime

import pytest

from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.data_keys import TOMBSTONE, DataKeys, StoredKey
from rightsflow.storage.kek import KekRing, KekVersion, LocalKekProvider
from rightsflow.storage.sealed_stream import HEADER_SIZE
from rightsflow.storage.vault import FileVault

SECRET = b"s" * 32
DESTROYED = "data key was destroyed"


class MemoryKeyStore:
    """The KeyStore protocol in dicts, counting reads."""

    def __init__(self) -> None:
        self.rows: dict[str, bytes] = {}
        self.versions: dict[str, int] = {}
        self.gets = 0

    def get(self, request_id: str) -> StoredKey | None:
        self.gets += 1
        return self._stored(request_id)

    def _stored(self, request_id: str) -> StoredKey | None:
        wrapped = self.rows.get(request_id)
        if wrapped is None:
            return None
        return StoredKey(wrapped, self.versions.get(request_id, 1) if wrapped else None)

    def add(self, request_id: str, wrapped: bytes, kek_version: int) -> StoredKey:
        if request_id not in self.rows:
            self.rows[request_id], self.versions[request_id] = wrapped, kek_version
        stored = self._stored(request_id)
        assert stored is not None
        return stored

    def destroy(self, request_id: str) -> bool:
        live = bool(self.rows.get(request_id))
        self.rows[request_id] = TOMBSTONE
        return live


def rid() -> str:
    return str(uuid.uuid4())


@pytest.fixture
def store() -> MemoryKeyStore:
    return MemoryKeyStore()


@pytest.fixture
def vault(store: MemoryKeyStore) -> FileVault:
    return FileVault.from_secret(SECRET, keys=store)


def sealed_stream(vault: FileVault, request_id: str, data: bytes) -> bytes:
    return b"".join(vault.seal_stream(request_id, [data], chunk_size=64))


def test_each_request_gets_its_own_wrapped_key(vault: FileVault, store: MemoryKeyStore) -> None:
    a, b = rid(), rid()
    sealed_a, sealed_b = vault.seal(a, b"alpha"), vault.seal(b, b"beta")
    assert sealed_a[0] == sealed_b[0] == 2
    assert vault.open(a, sealed_a) == b"alpha"
    assert vault.open(b, sealed_b) == b"beta"
    assert set(store.rows) == {a, b}
    assert store.rows[a] != store.rows[b]
    assert all(len(w) == 1 + 12 + 32 + 16 for w in store.rows.values())
    vault.seal(a, b"again")
    assert len(store.rows) == 2


def test_a_fresh_vault_on_the_same_store_and_secret_opens_everything(
    vault: FileVault, store: MemoryKeyStore
) -> None:
    request = rid()
    blob, stream = vault.seal(request, b"data"), sealed_stream(vault, request, os.urandom(200))
    other = FileVault.from_secret(SECRET, keys=store)
    assert other.open(request, blob) == b"data"
    assert len(b"".join(other.open_stream(request, [stream]))) == 200
    assert vault.open(request, other.seal(request, b"x")) == b"x"  # the same key, not a new one


def test_another_master_secret_cannot_unwrap(store: MemoryKeyStore, vault: FileVault) -> None:
    request = rid()
    blob = vault.seal(request, b"data")
    with pytest.raises(RightsflowError, match="cannot be unwrapped"):
        FileVault.from_secret(b"o" * 32, keys=store).open(request, blob)


def test_a_wrapped_key_moved_to_another_request_is_refused(
    vault: FileVault, store: MemoryKeyStore
) -> None:
    a, b = rid(), rid()
    blob = vault.seal(a, b"data")
    store.rows[b] = store.rows[a]
    with pytest.raises(RightsflowError, match="cannot be unwrapped"):
        FileVault.from_secret(SECRET, keys=store).open(b, blob)


def test_master_sealed_blobs_and_streams_still_open(vault: FileVault) -> None:
    old = FileVault.from_secret(SECRET)  # before data keys: versions 1 (blob) and 2 (stream)
    request = rid()
    blob, stream = old.seal(request, b"legacy"), sealed_stream(old, request, b"legacy file")
    assert (blob[0], stream[0]) == (1, 2)
    assert vault.open(request, blob) == b"legacy"
    assert b"".join(vault.open_stream(request, [stream])) == b"legacy file"


def test_streams_use_the_data_key(vault: FileVault) -> None:
    request = rid()
    data = os.urandom(300)
    stream = sealed_stream(vault, request, data)
    assert stream[0] == 3
    assert b"".join(vault.open_stream(request, [stream])) == data
    master_only = FileVault.from_secret(SECRET)
    with pytest.raises(RightsflowError, match="unknown version"):
        b"".join(master_only.open_stream(request, [stream]))
    with pytest.raises(RightsflowError, match="unknown version"):
        master_only.open(request, vault.seal(request, b"x"))


def test_a_stream_header_cannot_switch_keys(vault: FileVault) -> None:
    """The version picks the key and is authenticated: flipping 3 to 2 is refused."""
    request = rid()
    stream = bytearray(sealed_stream(vault, request, b"data"))
    stream[0] = 2
    with pytest.raises(RightsflowError, match="cannot be opened"):
        b"".join(vault.open_stream(request, [bytes(stream)]))
    assert len(stream) > HEADER_SIZE


def test_destroyed_key_nothing_opens_and_nothing_more_is_sealed(
    vault: FileVault, store: MemoryKeyStore
) -> None:
    request, kept = rid(), rid()
    legacy = FileVault.from_secret(SECRET).seal(request, b"legacy")
    blob, stream = vault.seal(request, b"data"), sealed_stream(vault, request, b"file")
    other_blob = vault.seal(kept, b"kept")
    assert vault.destroy_key(request) is True
    assert vault.destroy_key(request) is False
    for opener in (vault, FileVault.from_secret(SECRET, keys=store)):  # this and a new process
        for sealed in (blob, legacy, b""):
            with pytest.raises(RightsflowError, match=DESTROYED):
                opener.open(request, sealed)
        with pytest.raises(RightsflowError, match=DESTROYED):
            b"".join(opener.open_stream(request, [stream]))
        with pytest.raises(RightsflowError, match=DESTROYED):
            opener.seal(request, b"new")
        with pytest.raises(RightsflowError, match=DESTROYED):
            opener.seal_stream(request, [b"new"])
        assert opener.open(kept, other_blob) == b"kept"
    assert store.rows[request] == TOMBSTONE


def test_destroying_a_key_never_made_leaves_a_tombstone(
    vault: FileVault, store: MemoryKeyStore
) -> None:
    request = rid()
    assert vault.destroy_key(request) is False
    assert store.rows[request] == TOMBSTONE
    with pytest.raises(RightsflowError, match=DESTROYED):
        FileVault.from_secret(SECRET, keys=store).seal(request, b"x")


def test_a_vault_without_key_store_behaves_as_before() -> None:
    vault = FileVault.from_secret(SECRET)
    request = rid()
    assert vault.seal(request, b"x")[0] == 1
    assert vault.destroy_key(request) is False
    assert vault.ensure_keys([request]) == 0
    assert vault.open(request, vault.seal(request, b"x")) == b"x"


def test_ensure_keys_makes_keys_ahead_of_the_first_seal(
    vault: FileVault, store: MemoryKeyStore
) -> None:
    ids = [rid(), rid()]
    assert vault.ensure_keys(ids) == 2
    assert set(store.rows) == set(ids)
    before = dict(store.rows)
    vault.seal(ids[0], b"x")
    assert store.rows == before


def test_keys_are_cached_bounded_and_refreshed_after_their_ttl(store: MemoryKeyStore) -> None:
    now = [0.0]
    only = [KekVersion(1, "local:v1", datetime.now(UTC))]
    ring = KekRing(LocalKekProvider(os.urandom(32)), lambda: only)
    keys = DataKeys(store, ring, capacity=2, ttl_s=10, clock=lambda: now[0])
    a, b, c = rid(), rid(), rid()
    keys.for_sealing(a)
    reads = store.gets
    for _ in range(100):
        keys.for_sealing(a)
    assert store.gets == reads  # hot path: no store access
    keys.for_sealing(b)
    keys.for_sealing(c)  # capacity 2: `a` is evicted
    reads = store.gets
    keys.for_opening(a)
    assert store.gets == reads + 1
    store.destroy(a)  # by another process: seen once the cached entry expires
    keys.for_opening(a)
    now[0] = 11.0
    with pytest.raises(RightsflowError, match=DESTROYED):
        keys.for_opening(a)


def test_a_cached_absence_does_not_hide_a_key_made_elsewhere(store: MemoryKeyStore) -> None:
    request = rid()
    here, there = (FileVault.from_secret(SECRET, keys=store) for _ in range(2))
    legacy = FileVault.from_secret(SECRET).seal(request, b"legacy")
    assert here.open(request, legacy) == b"legacy"  # caches "no key yet"
    blob = there.seal(request, b"new")
    assert here.open(request, blob) == b"new"
