"""FileVault: authenticated encryption bound to a request id, and keyed hashes."""

from __future__ import annotations

import base64
import os
import stat
import uuid
from pathlib import Path

import pytest

from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.vault import FileVault

RID = str(uuid.uuid4())


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    return tmp_path / "keys" / "master.key"


def test_seal_open_roundtrip_with_a_fresh_nonce_each_time(key_file: Path) -> None:
    vault = FileVault(key_file)
    plaintext = b'{"email": "ada@example.com"}'
    first, second = vault.seal(RID, plaintext), vault.seal(RID, plaintext)
    assert first != second
    assert first[0] == 1
    assert plaintext not in first
    assert vault.open(RID, first) == plaintext
    assert vault.open(RID, second) == plaintext
    assert vault.open(RID, vault.seal(RID, b"")) == b""


def test_key_file_is_created_once_private_and_reused(key_file: Path) -> None:
    assert not key_file.exists()
    sealed = FileVault(key_file).seal(RID, b"data")
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert len(base64.urlsafe_b64decode(key_file.read_bytes().strip())) == 32
    content = key_file.read_bytes()
    assert FileVault(key_file).open(RID, sealed) == b"data"
    assert key_file.read_bytes() == content
    assert [p.name for p in key_file.parent.iterdir()] == [key_file.name]


def test_nothing_is_created_before_first_use(key_file: Path) -> None:
    vault = FileVault(key_file)
    assert not key_file.exists()
    assert str(key_file) in repr(vault)
    vault.masking_key()
    assert key_file.exists()


@pytest.mark.parametrize("position", [0, 1, 12, 13, -1])
def test_tampered_data_is_refused(key_file: Path, position: int) -> None:
    vault = FileVault(key_file)
    sealed = bytearray(vault.seal(RID, b"personal data"))
    sealed[position] ^= 0x01
    with pytest.raises(RightsflowError):
        vault.open(RID, bytes(sealed))


def test_truncated_data_is_refused(key_file: Path) -> None:
    vault = FileVault(key_file)
    sealed = vault.seal(RID, b"personal data")
    for cut in (0, 1, 13, 28, len(sealed) - 1):
        with pytest.raises(RightsflowError):
            vault.open(RID, sealed[:cut])


def test_sealed_data_is_bound_to_its_request(key_file: Path) -> None:
    vault = FileVault(key_file)
    sealed = vault.seal(RID, b"personal data")
    with pytest.raises(RightsflowError, match="another request") as raised:
        vault.open(str(uuid.uuid4()), sealed)
    assert b"personal data".decode() not in str(raised.value)


def test_another_key_cannot_open(key_file: Path, tmp_path: Path) -> None:
    sealed = FileVault(key_file).seal(RID, b"personal data")
    with pytest.raises(RightsflowError):
        FileVault(tmp_path / "other.key").open(RID, sealed)


def test_lookup_hash_is_stable_and_keyed(key_file: Path) -> None:
    vault = FileVault(key_file)
    digest = vault.lookup_hash("ada@example.com")
    assert len(digest) == 64
    assert int(digest, 16) >= 0
    assert digest == FileVault(key_file).lookup_hash("ada@example.com")
    assert digest != vault.lookup_hash("bob@example.com")
    assert digest != FileVault.from_secret(os.urandom(32)).lookup_hash("ada@example.com")


def test_subkeys_are_separate_from_each_other_and_the_secret() -> None:
    secret = os.urandom(32)
    vault = FileVault.from_secret(secret)
    masking = vault.masking_key()
    assert len(masking) == 32
    assert masking not in (secret, FileVault.from_secret(os.urandom(32)).masking_key())
    assert masking == FileVault.from_secret(secret).masking_key()
    assert vault.lookup_hash("x") != FileVault.from_secret(masking).lookup_hash("x")
    assert secret.hex() not in repr(vault)


def test_injected_secret_matches_the_file_it_came_from(key_file: Path) -> None:
    sealed = FileVault(key_file).seal(RID, b"data")
    secret = base64.urlsafe_b64decode(key_file.read_bytes().strip())
    assert FileVault.from_secret(secret).open(RID, sealed) == b"data"


def test_bad_secrets_are_refused_without_showing_them(key_file: Path) -> None:
    with pytest.raises(RightsflowError, match="at least 32 bytes"):
        FileVault.from_secret(b"short")
    key_file.parent.mkdir(parents=True)
    key_file.write_text("not base64 at all!!\n")
    with pytest.raises(RightsflowError, match="base64") as raised:
        FileVault(key_file).seal(RID, b"x")
    assert "not base64" not in str(raised.value)
    key_file.write_text(base64.urlsafe_b64encode(b"x" * 16).decode())
    with pytest.raises(RightsflowError, match="fewer than 32 bytes"):
        FileVault(key_file).seal(RID, b"x")
