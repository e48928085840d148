"""The receipt signing key pair in the data dir: created once, private 0600, never replaced."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from rightsflow.domain.errors import RightsflowError
from rightsflow.domain.signature import key_id, load_public_key, public_key_pem, verify_document
from rightsflow.storage.signing_keys import PRIVATE_KEY_FILE, PUBLIC_KEY_FILE, FileSigningKey


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_nothing_is_written_until_first_use(tmp_path: Path) -> None:
    signer = FileSigningKey(tmp_path / "data")
    assert not (tmp_path / "data").exists()
    assert not signer.exists()
    signer.key_id()
    assert signer.exists()


def test_files_and_modes_on_first_use(tmp_path: Path) -> None:
    data = tmp_path / "data"
    signer = FileSigningKey(data)
    signed = signer.sign({"request_id": "r1", "rows": 3})
    private, public = data / PRIVATE_KEY_FILE, data / PUBLIC_KEY_FILE
    assert _mode(data) == 0o700
    assert _mode(private) == 0o600
    assert _mode(public) == 0o644
    assert private.read_text().startswith("-----BEGIN PRIVATE KEY-----")  # PKCS8
    assert public.read_text() == signer.public_key_pem()
    assert sorted(p.name for p in data.iterdir()) == [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]
    trusted = load_public_key(public.read_bytes())
    assert key_id(trusted) == signer.key_id() == signed["signature"]["key_id"]
    assert verify_document(signed, [trusted]).valid
    assert str(data) in repr(signer)
    assert "PRIVATE" not in repr(signer)


def test_reload_gives_the_same_key(tmp_path: Path) -> None:
    first = FileSigningKey(tmp_path)
    signed = first.sign({"n": 1})
    again = FileSigningKey(tmp_path)
    assert again.key_id() == first.key_id()
    assert again.public_key_pem() == first.public_key_pem()
    assert verify_document(signed, [load_public_key(again.public_key_pem())]).valid


def test_a_missing_public_file_is_written_again(tmp_path: Path) -> None:
    first = FileSigningKey(tmp_path)
    pem = first.public_key_pem()
    (tmp_path / PUBLIC_KEY_FILE).unlink()
    assert FileSigningKey(tmp_path).public_key_pem() == pem
    assert (tmp_path / PUBLIC_KEY_FILE).read_text() == pem


def test_racing_first_uses_share_one_key(tmp_path: Path) -> None:
    signers = [FileSigningKey(tmp_path) for _ in range(8)]
    ids: list[str] = []
    barrier = threading.Barrier(len(signers))

    def first_use(signer: FileSigningKey) -> None:
        barrier.wait()
        ids.append(signer.key_id())

    threads = [threading.Thread(target=first_use, args=(s,)) for s in signers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1
    assert ids[0] == FileSigningKey(tmp_path).key_id()
    assert sorted(p.name for p in tmp_path.iterdir()) == [PRIVATE_KEY_FILE, PUBLIC_KEY_FILE]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a key at all\n", "does not hold an unencrypted PKCS8 PEM private key"),
        (b"", "does not hold an unencrypted PKCS8 PEM private key"),
        (
            X25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            "holds a key that is not Ed25519",
        ),
        (
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.BestAvailableEncryption(b"pw"),
            ),
            "does not hold an unencrypted PKCS8 PEM private key",
        ),
    ],
)
def test_a_corrupt_private_key_is_an_error_naming_the_file(
    tmp_path: Path, content: bytes, message: str
) -> None:
    private = tmp_path / PRIVATE_KEY_FILE
    private.write_bytes(content)
    with pytest.raises(RightsflowError) as caught:
        FileSigningKey(tmp_path).sign({"n": 1})
    assert str(private) in str(caught.value)
    assert message in str(caught.value)
    assert private.read_bytes() == content  # never replaced
    assert not (tmp_path / PUBLIC_KEY_FILE).exists()


def test_a_public_file_that_does_not_match_is_an_error(tmp_path: Path) -> None:
    FileSigningKey(tmp_path).key_id()
    public = tmp_path / PUBLIC_KEY_FILE
    public.write_text(public_key_pem(Ed25519PrivateKey.generate()))
    with pytest.raises(RightsflowError, match="does not match") as caught:
        FileSigningKey(tmp_path).key_id()
    assert str(public) in str(caught.value)
    public.write_text("garbage")
    with pytest.raises(RightsflowError, match="does not hold an Ed25519 PEM public key"):
        FileSigningKey(tmp_path).key_id()
