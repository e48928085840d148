"""The master key source, the KEK interface and its local versions, and the KEK ring."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.kek import (
    KekRing,
    KekVersion,
    KeyEncryptionKey,
    LocalKek,
    LocalKekProvider,
    derive,
    load_provider,
    master_secret,
)

ENV = "RIGHTSFLOW_MASTER_KEY"
SECRET = os.urandom(32)
ENCODED = base64.b64encode(SECRET).decode()
NOW = datetime(2026, 11, 24, tzinfo=UTC)


def test_the_master_key_comes_from_the_environment_without_touching_files(
    tmp_path: Path,
) -> None:
    default = tmp_path / "secret.key"
    assert master_secret(None, default, ENV, {ENV: ENCODED}) == (SECRET, "environment")
    assert not default.exists()


def test_the_default_key_file_is_made_once_and_kept(tmp_path: Path) -> None:
    default = tmp_path / "secret.key"
    first, source = master_secret(None, default, ENV, {})
    assert source == "file"
    assert default.stat().st_mode & 0o777 == 0o600
    assert master_secret(None, default, ENV, {})[0] == first


def test_both_sources_at_once_are_refused(tmp_path: Path) -> None:
    default = tmp_path / "secret.key"
    master_secret(None, default, ENV, {})
    with pytest.raises(RightsflowError, match="keep only one") as raised:
        master_secret(None, default, ENV, {ENV: ENCODED})
    assert ENCODED not in str(raised.value)
    explicit = tmp_path / "explicit.key"
    explicit.write_text(ENCODED)
    with pytest.raises(RightsflowError, match="keep only one"):
        master_secret(explicit, tmp_path / "absent.key", ENV, {ENV: ENCODED})


def test_a_named_key_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(RightsflowError, match="does not exist"):
        master_secret(tmp_path / "missing.key", tmp_path / "secret.key", ENV, {})
    assert not (tmp_path / "secret.key").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("not base64 at all!!", "does not hold a base64"),
        (base64.b64encode(b"x" * 16).decode(), "fewer than 32 bytes"),
        ("ünïcode", "does not hold a base64"),
    ],
)
def test_malformed_keys_are_refused_without_being_shown(
    tmp_path: Path, value: str, message: str
) -> None:
    with pytest.raises(RightsflowError, match=message) as raised:
        master_secret(None, tmp_path / "secret.key", ENV, {ENV: value})
    assert value not in str(raised.value)
    assert ENV in str(raised.value)


def test_local_version_1_unwraps_what_was_wrapped_before_versions_existed() -> None:
    """The KEK before versions: AES-GCM under HKDF(secret, "rightsflow/v1/data-key-wrapping"),
    format 0x01 | nonce | ciphertext (what request_keys held in revisions 0004-0006)."""
    old_kek = AESGCM(derive(SECRET, b"rightsflow/v1/data-key-wrapping"))
    nonce, key, aad = os.urandom(12), os.urandom(32), b"rightsflow/data-key|r1"
    wrapped = b"\x01" + nonce + old_kek.encrypt(nonce, key, aad)
    assert LocalKekProvider(SECRET).kek("local:v1").unwrap(wrapped, aad) == key


def test_local_versions_differ_and_bind_the_associated_data() -> None:
    provider = LocalKekProvider(SECRET)
    v1, v2 = provider.kek("local:v1"), provider.kek(provider.new_key_id(2))
    assert v2.key_id == "local:v2"
    wrapped = v2.wrap(b"k" * 32, b"aad-1")
    assert v2.unwrap(wrapped, b"aad-1") == b"k" * 32
    for kek, aad in ((v1, b"aad-1"), (v2, b"aad-2")):
        with pytest.raises(RightsflowError, match="cannot be unwrapped"):
            kek.unwrap(wrapped, aad)
    with pytest.raises(RightsflowError, match="unknown format"):
        v2.unwrap(b"\x09" + wrapped[1:], b"aad-1")
    with pytest.raises(RightsflowError, match="unknown local"):
        provider.kek("local:vX")
    assert SECRET.hex() not in repr(provider) + repr(v1)


class StandInKms:
    """A stand-in KMS adapter: what a cloud adapter class looks like to Rightsflow."""

    def __init__(self, env: dict[str, str]) -> None:
        self.region = env.get("KMS_REGION", "none")

    def new_key_id(self, version: int) -> str:
        return f"kms:{self.region}:{version}"

    def kek(self, key_id: str) -> KeyEncryptionKey:
        return LocalKek(key_id, derive(b"kms-held-key-material-0123456789", key_id.encode()))


def test_a_kms_adapter_is_named_by_a_setting_and_local_ids_still_resolve() -> None:
    provider = load_provider(f"{__name__}:StandInKms", SECRET, {"KMS_REGION": "eu"})
    assert provider.new_key_id(3) == "kms:eu:3"
    assert provider.kek("kms:eu:3").key_id == "kms:eu:3"
    local = provider.kek("local:v1")
    wrapped = LocalKekProvider(SECRET).kek("local:v1").wrap(b"k" * 32, b"a")
    assert local.unwrap(wrapped, b"a") == b"k" * 32
    for bad, message in (("nomodule", "takes 'local'"), ("no.such.mod:X", "cannot be imported")):
        with pytest.raises(RightsflowError, match=message):
            load_provider(bad, SECRET, {})


def test_the_ring_wraps_with_the_newest_live_version_and_refuses_retired_ones() -> None:
    rows = [KekVersion(1, "local:v1", NOW)]
    now = [0.0]
    ring = KekRing(LocalKekProvider(SECRET), lambda: list(rows), refresh_s=30, clock=lambda: now[0])
    assert ring.active()[0] == 1
    rows.append(KekVersion(2, "local:v2", NOW))
    assert ring.active()[0] == 1  # not reloaded yet
    assert ring.for_version(2).key_id == "local:v2"  # an unknown version reloads at once
    assert ring.active()[0] == 2
    rows[0] = KekVersion(1, "local:v1", NOW, retired_at=NOW)
    now[0] = 31.0
    with pytest.raises(RightsflowError, match="retired or unknown"):
        ring.for_version(1)
