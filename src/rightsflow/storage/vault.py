"""Encryption of personal data at rest with one master secret kept in a key file.

Subkeys are derived from the master secret with HKDF-SHA256, one per purpose:
- sealing: AES-256-GCM, 12-byte random nonce, associated data bound to the request id, so a
  sealed blob cannot be replayed under another request. Format: version | nonce | ciphertext+tag.
- masking: the key of the keyed-hash masking strategy.
- lookup: HMAC-SHA256 for finding a record by a personal value without storing the value.
Files of any size (access packages) are sealed in chunks with the sealing key, bound to the
request id the same way; see sealed_stream.py for the format.
The secret is never logged, printed or put in an error message or repr.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.private_files import write_private_file
from rightsflow.storage.sealed_stream import CHUNK_SIZE, open_chunks, seal_chunks

SECRET_BYTES = 32
_VERSION = 1
_NONCE_BYTES = 12
_TAG_BYTES = 16
_INFO_SEAL = b"rightsflow/v1/seal"
_INFO_MASKING = b"rightsflow/v1/masking"
_INFO_LOOKUP = b"rightsflow/v1/lookup"


@dataclass(frozen=True, repr=False)
class _Keys:
    aead: AESGCM
    masking: bytes
    lookup: bytes


def _derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


def _keys_from(secret: bytes) -> _Keys:
    if len(secret) < SECRET_BYTES:
        raise RightsflowError(f"the master secret must be at least {SECRET_BYTES} bytes")
    return _Keys(
        aead=AESGCM(_derive(secret, _INFO_SEAL)),
        masking=_derive(secret, _INFO_MASKING),
        lookup=_derive(secret, _INFO_LOOKUP),
    )


class FileVault:
    """The Vault port backed by a master secret in `key_file` (created on first use, 0600)."""

    def __init__(self, key_file: Path) -> None:
        self._key_file: Path | None = key_file
        self._keys: _Keys | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_secret(cls, secret: bytes) -> FileVault:
        """A vault on an injected secret (e.g. from RIGHTSFLOW_SECRET_KEY); no file involved."""
        vault = cls.__new__(cls)
        vault._key_file = None
        vault._keys = _keys_from(secret)
        vault._lock = threading.Lock()
        return vault

    def __repr__(self) -> str:
        return f"FileVault(key_file={self._key_file!r})"

    def seal(self, request_id: str, plaintext: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        header = bytes([_VERSION])
        sealed = self._loaded().aead.encrypt(nonce, plaintext, _aad(header, request_id))
        return header + nonce + sealed

    def open(self, request_id: str, sealed: bytes) -> bytes:
        if len(sealed) < 1 + _NONCE_BYTES + _TAG_BYTES or sealed[0] != _VERSION:
            raise RightsflowError("sealed data is malformed or of an unknown version")
        header, nonce, body = sealed[:1], sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return self._loaded().aead.decrypt(nonce, body, _aad(header, request_id))
        except InvalidTag:
            raise RightsflowError(
                "sealed data cannot be opened: it was altered, belongs to another request, "
                "or was sealed with another key"
            ) from None

    def seal_stream(
        self, request_id: str, chunks: Iterable[bytes], chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Seal a file of any size, `chunk_size` plaintext bytes per authenticated frame."""
        return seal_chunks(self._loaded().aead, request_id, chunks, chunk_size)

    def open_stream(self, request_id: str, sealed: Iterable[bytes]) -> Iterator[bytes]:
        return open_chunks(self._loaded().aead, request_id, sealed)

    def masking_key(self) -> bytes:
        return self._loaded().masking

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._loaded().lookup, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def _loaded(self) -> _Keys:
        keys = self._keys
        if keys is not None:
            return keys
        with self._lock:
            if self._keys is None:
                if self._key_file is None:
                    raise RightsflowError("vault has neither a key file nor a secret")
                self._keys = _keys_from(load_or_create_secret(self._key_file))
            return self._keys


def _aad(header: bytes, request_id: str) -> bytes:
    return header + b"|" + request_id.encode("utf-8")


def load_or_create_secret(key_file: Path) -> bytes:
    """Read the master secret (base64 text), creating it atomically (mode 0600) if missing."""
    if not key_file.exists():
        _create_secret_file(key_file)
    text = key_file.read_text(encoding="ascii", errors="replace").strip()
    try:
        secret = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise RightsflowError(f"key file {key_file} does not hold a base64 secret") from None
    if len(secret) < SECRET_BYTES:
        raise RightsflowError(f"key file {key_file} holds fewer than {SECRET_BYTES} bytes")
    return secret


def _create_secret_file(key_file: Path) -> None:
    """A fresh secret; if another process created the file first, theirs is kept."""
    encoded = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)) + b"\n"
    write_private_file(key_file, encoded, overwrite=False)
