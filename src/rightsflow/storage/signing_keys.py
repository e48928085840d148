"""The receipt signing key: an Ed25519 key pair in the data dir, created on first use.

- `receipt-signing.key`: the private key, PKCS8 PEM, mode 0600, written atomically; if two
  processes race to create it, the first one's is kept and both use it.
- `receipt-signing.pub`: the public key, SubjectPublicKeyInfo PEM, world-readable: what a
  company publishes so that anyone can check its receipts offline.

A key file that cannot be read as what it should hold is an error naming the file; it is never
replaced, since a new key would silently disown every receipt signed before.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from rightsflow.domain.errors import RightsflowError
from rightsflow.domain.signature import (
    key_id,
    load_public_key,
    public_key_pem,
    raw_public_key,
    sign_document,
)
from rightsflow.storage.private_files import write_private_file

PRIVATE_KEY_FILE = "receipt-signing.key"
PUBLIC_KEY_FILE = "receipt-signing.pub"


@dataclass(frozen=True, repr=False)
class _Loaded:
    private: Ed25519PrivateKey
    pem: str
    key_id: str


class FileSigningKey:
    """The Signer port over a key pair in `data_dir`. Nothing is read or written until the
    first call, so building one (in a composition root) touches no file."""

    def __init__(self, data_dir: Path) -> None:
        self.private_file = data_dir / PRIVATE_KEY_FILE
        self.public_file = data_dir / PUBLIC_KEY_FILE
        self._loaded: _Loaded | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"FileSigningKey(private_file={self.private_file!r})"

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        return sign_document(document, self._key().private)

    def public_key_pem(self) -> str:
        return self._key().pem

    def key_id(self) -> str:
        return self._key().key_id

    def exists(self) -> bool:
        """Whether the key pair was created already (without creating it)."""
        return self.private_file.exists()

    def _key(self) -> _Loaded:
        loaded = self._loaded
        if loaded is not None:
            return loaded
        with self._lock:
            if self._loaded is None:
                self._loaded = self._load_or_create()
            return self._loaded

    def _load_or_create(self) -> _Loaded:
        if not self.private_file.exists():
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
            write_private_file(self.private_file, pem, overwrite=False)
        private = _read_private_key(self.private_file)
        pem_text = public_key_pem(private)
        self._check_or_write_public(pem_text)
        return _Loaded(private, pem_text, key_id(raw_public_key(private)))

    def _check_or_write_public(self, pem_text: str) -> None:
        if not self.public_file.exists():
            _write_public_file(self.public_file, pem_text.encode("ascii"))
            return
        try:
            published = load_public_key(self.public_file.read_bytes())
        except RightsflowError:
            raise RightsflowError(
                f"public key file {self.public_file} does not hold an Ed25519 PEM public key"
            ) from None
        if published != load_public_key(pem_text):
            raise RightsflowError(
                f"public key file {self.public_file} does not match {self.private_file}"
            )


def _read_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise RightsflowError(
            f"signing key file {path} does not hold an unencrypted PKCS8 PEM private key"
        ) from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise RightsflowError(f"signing key file {path} holds a key that is not Ed25519")
    return loaded


def _write_public_file(path: Path, data: bytes) -> None:
    """Atomically, mode 0644: the public key is meant to be read (and published)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o644)  # the umask may have taken bits away
        tmp.replace(path)
    finally:
        with contextlib.suppress(OSError):
            tmp.unlink()
