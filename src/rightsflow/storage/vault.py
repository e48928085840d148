"""Encryption of personal data at rest: a master secret (key file or environment, see
kek.master_secret), and a data key per request.

Subkeys are derived from the master secret with HKDF-SHA256, one per purpose:
- sealing: AES-256-GCM, 12-byte random nonce, associated data bound to the request id, so a
  sealed blob cannot be replayed under another request. Format: version | nonce | ciphertext+tag.
- key wrapping: the key-encryption keys (KEKs) of the per-request data keys, one per KEK
  version (see kek.py, data_keys.py); a KMS adapter may hold them instead.
- masking: the key of the keyed-hash masking strategy.
- lookup: HMAC-SHA256 for finding a record by a personal value without storing the value.
The sealing, masking and lookup derivations are pinned to the master secret: rotating the KEK
(`rightsflow keys rotate`) never changes them.

With a key store (the key database), everything sealed for a request uses that request's own
data key (blob version 2, stream version 3), so destroying the key at the end of the request's
retention makes all of it unreadable. Version 1 blobs and version 2 streams (sealed with the
master-derived key, before data keys existed or by a vault built without a key store) are still
opened, but not once the request's key was destroyed. Files of any size (access packages) are
sealed in chunks, bound to the request id the same way; see sealed_stream.py for the format.
The secret is never logged, printed or put in an error message or repr.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.data_keys import DataKeys, KeyStore, destroyed_error
from rightsflow.storage.kek import (
    DEFAULT_MASTER_KEY_ENV,
    SECRET_BYTES,
    KekRing,
    KekVersion,
    KeyEncryptionKey,
    LocalKekProvider,
    derive,
    master_secret,
)
from rightsflow.storage.sealed_stream import (
    CHUNK_SIZE,
    DATA_KEY_STREAM_VERSION,
    STREAM_VERSION,
    malformed_stream,
    open_chunks,
    seal_chunks,
)

_VERSION = 1  # sealed with the master-derived key
_DATA_KEY_VERSION = 2  # sealed with the request's data key
_NONCE_BYTES = 12
_TAG_BYTES = 16
_INFO_SEAL = b"rightsflow/v1/seal"
_INFO_MASKING = b"rightsflow/v1/masking"
_INFO_LOOKUP = b"rightsflow/v1/lookup"


@dataclass(frozen=True, repr=False)
class _Keys:
    secret: bytes
    aead: AESGCM
    masking: bytes
    lookup: bytes


def _keys_from(secret: bytes) -> _Keys:
    if len(secret) < SECRET_BYTES:
        raise RightsflowError(f"the master secret must be at least {SECRET_BYTES} bytes")
    return _Keys(
        secret=secret,
        aead=AESGCM(derive(secret, _INFO_SEAL)),
        masking=derive(secret, _INFO_MASKING),
        lookup=derive(secret, _INFO_LOOKUP),
    )


class FileVault:
    """The Vault port backed by a master secret in `key_file` (created on first use, 0600).

    With `keys` (a KeyStore), each request's data is sealed under its own data key, wrapped by
    the KEK versions of `ring` (default: the local version 1 only); without, everything is
    sealed under the master-derived key (version 1) as before."""

    def __init__(
        self, key_file: Path, keys: KeyStore | None = None, ring: KekRing | None = None
    ) -> None:
        self._key_file: Path | None = key_file
        self._keys: _Keys | None = None
        self._lock = threading.Lock()
        self._data_keys = self._data_keys_on(keys, ring)

    @classmethod
    def from_secret(
        cls, secret: bytes, keys: KeyStore | None = None, ring: KekRing | None = None
    ) -> FileVault:
        """A vault on an injected secret (e.g. from RIGHTSFLOW_MASTER_KEY); no file involved."""
        vault = cls.__new__(cls)
        vault._key_file = None
        vault._keys = _keys_from(secret)
        vault._lock = threading.Lock()
        vault._data_keys = vault._data_keys_on(keys, ring)
        return vault

    def _data_keys_on(self, keys: KeyStore | None, ring: KekRing | None) -> DataKeys | None:
        if keys is None:
            return None
        local = _LazyLocal(lambda: self._loaded().secret)
        return DataKeys(keys, ring or KekRing(local, _only_legacy_version))

    def __repr__(self) -> str:
        return f"FileVault(key_file={self._key_file!r})"

    def seal(self, request_id: str, plaintext: bytes) -> bytes:
        if self._data_keys is None:
            version, aead = _VERSION, self._loaded().aead
        else:
            version, aead = _DATA_KEY_VERSION, self._data_keys.for_sealing(request_id)
        nonce = secrets.token_bytes(_NONCE_BYTES)
        header = bytes([version])
        return header + nonce + aead.encrypt(nonce, plaintext, _aad(header, request_id))

    def open(self, request_id: str, sealed: bytes) -> bytes:
        if len(sealed) < 1 + _NONCE_BYTES + _TAG_BYTES or sealed[0] not in (
            _VERSION,
            _DATA_KEY_VERSION,
        ):
            if self._destroyed(request_id):  # e.g. the emptied identities of a purged request
                raise destroyed_error()
            raise RightsflowError("sealed data is malformed or of an unknown version")
        aead = self._aead_for(request_id, sealed[0], _DATA_KEY_VERSION)
        header, nonce, body = sealed[:1], sealed[1 : 1 + _NONCE_BYTES], sealed[1 + _NONCE_BYTES :]
        try:
            return aead.decrypt(nonce, body, _aad(header, request_id))
        except InvalidTag:
            raise RightsflowError(
                "sealed data cannot be opened: it was altered, belongs to another request, "
                "or was sealed with another key"
            ) from None

    def seal_stream(
        self, request_id: str, chunks: Iterable[bytes], chunk_size: int = CHUNK_SIZE
    ) -> Iterator[bytes]:
        """Seal a file of any size, `chunk_size` plaintext bytes per authenticated frame."""
        if self._data_keys is None:
            return seal_chunks(self._loaded().aead, request_id, chunks, chunk_size)
        aead = self._data_keys.for_sealing(request_id)
        return seal_chunks(aead, request_id, chunks, chunk_size, DATA_KEY_STREAM_VERSION)

    def open_stream(self, request_id: str, sealed: Iterable[bytes]) -> Iterator[bytes]:
        def aead_for(version: int) -> AESGCM:
            if version not in (STREAM_VERSION, DATA_KEY_STREAM_VERSION):
                raise malformed_stream()
            return self._aead_for(request_id, version, DATA_KEY_STREAM_VERSION)

        return open_chunks(aead_for, request_id, sealed)

    def destroy_key(self, request_id: str) -> bool:
        """Destroy the request's data key (crypto-shredding); True if a live key was destroyed.

        Afterwards nothing sealed for the request opens and nothing more is sealed for it.
        A vault without a key store has no per-request keys: False, nothing changes."""
        if self._data_keys is None:
            return False
        return self._data_keys.destroy(request_id)

    def ensure_keys(self, request_ids: Iterable[str]) -> int:
        """Give these requests a data key now (from now on their data is sealed under it); the
        number given. For requests received before data keys, at start (see key_store.py)."""
        if self._data_keys is None:
            return 0
        count = 0
        for request_id in request_ids:
            self._data_keys.for_sealing(request_id)
            count += 1
        return count

    def masking_key(self) -> bytes:
        return self._loaded().masking

    def lookup_hash(self, value: str) -> str:
        return hmac.new(self._loaded().lookup, value.encode("utf-8"), hashlib.sha256).hexdigest()

    def _aead_for(self, request_id: str, version: int, data_key_version: int) -> AESGCM:
        """The key a blob or stream of `version` was sealed with."""
        if version == data_key_version:
            if self._data_keys is None:  # only a vault with a key store knows this version
                raise RightsflowError(
                    "sealed data is malformed or of an unknown version (per-request data keys "
                    "need a vault with a key store)"
                )
            return self._data_keys.for_opening(request_id)
        if self._destroyed(request_id):  # master-sealed, but the request was purged since
            raise destroyed_error()
        return self._loaded().aead

    def _destroyed(self, request_id: str) -> bool:
        return self._data_keys is not None and self._data_keys.is_destroyed(request_id)

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


class _LazyLocal:
    """The local KEK provider on a vault's secret, read only when first needed."""

    def __init__(self, secret: Callable[[], bytes]) -> None:
        self._secret = secret

    def new_key_id(self, version: int) -> str:
        return f"local:v{version}"

    def kek(self, key_id: str) -> KeyEncryptionKey:
        return LocalKekProvider(self._secret()).kek(key_id)


def _only_legacy_version() -> list[KekVersion]:
    return [KekVersion(1, LocalKekProvider.LEGACY_KEY_ID, datetime(2026, 1, 1, tzinfo=UTC))]


def load_or_create_secret(key_file: Path) -> bytes:
    """Read the master secret (base64 text), creating it atomically (mode 0600) if missing."""
    return master_secret(None, key_file, DEFAULT_MASTER_KEY_ENV, env={})[0]
