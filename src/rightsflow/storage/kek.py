"""Key-encryption keys (KEKs): what wraps the per-request data keys, and where the master key
comes from.

A `KeyEncryptionKey` wraps and unwraps data keys (with associated data binding each wrapped key
to its request). KEKs are versioned: every wrapped key in the key database names the version
that wrapped it, `rightsflow keys rotate` adds a version and re-wraps, and a `KekRing` resolves
versions to KEKs through a `KekProvider`.

The built-in provider is local: version N's KEK is derived (HKDF-SHA256) from the master secret.
Version 1 uses the derivation that wrapped every key before versions existed, so those keys
stay valid as they are. The master secret also derives the sealing key of legacy blobs, the
masking key and the lookup (HMAC) key; those derivations never change with a rotation (they are
pinned to the master secret: masked values, idempotency keys, subject tokens and identity
lookups stay valid). Rotation changes only what wraps the data keys.

A cloud KMS plugs in with the `kek_provider` setting, "package.module:ClassName": the class is
built with the process environment (`Class(env)`) and implements `KekProvider`:
`new_key_id(version)` names (or creates) the KMS key for a new version, e.g. an AWS KMS key ARN,
a GCP CryptoKeyVersion name or a Vault transit key; `kek(key_id)` returns a KEK whose `wrap` and
`unwrap` call the KMS (AWS Encrypt/Decrypt with the associated data as encryption context, GCP
additional authenticated data, Vault transit `context`). Key ids beginning with "local:" always
resolve locally, so switching to a KMS and running `keys rotate` moves every key onto the KMS.
No cloud SDK is a dependency of Rightsflow; the adapter brings its own.
"""

from __future__ import annotations

import base64
import binascii
import importlib
import secrets
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol, cast

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from rightsflow.domain.errors import RightsflowError
from rightsflow.storage.private_files import write_private_file

SECRET_BYTES = 32
RING_REFRESH_S = 30.0  # how soon every process sees a KEK version another one added
DEFAULT_MASTER_KEY_ENV = "RIGHTSFLOW_MASTER_KEY"
LOCAL_PREFIX = "local:"
_INFO_KEK_V1 = b"rightsflow/v1/data-key-wrapping"  # the KEK from before versions: version 1
_WRAP_FORMAT = 1
_NONCE = 12


class KeyEncryptionKey(Protocol):
    """Wraps data keys; `aad` binds a wrapped key to its request (unwrap refuses another)."""

    @property
    def key_id(self) -> str: ...
    def wrap(self, data_key: bytes, aad: bytes) -> bytes: ...
    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        """The data key; raises RightsflowError if `wrapped` or `aad` is not what was wrapped."""
        ...


class KekProvider(Protocol):
    """Makes the KEK of each version (see the module docstring for cloud KMS adapters)."""

    def new_key_id(self, version: int) -> str:
        """The key id for a new KEK version (a KMS adapter may create the key here)."""
        ...

    def kek(self, key_id: str) -> KeyEncryptionKey: ...


def derive(secret: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret)


class LocalKek:
    """AES-256-GCM under a key derived from the master secret. Format: 0x01 | nonce | ct+tag."""

    def __init__(self, key_id: str, key: bytes) -> None:
        self._id = key_id
        self._aead = AESGCM(key)

    def __repr__(self) -> str:
        return f"LocalKek({self._id!r})"

    @property
    def key_id(self) -> str:
        return self._id

    def wrap(self, data_key: bytes, aad: bytes) -> bytes:
        nonce = secrets.token_bytes(_NONCE)
        return bytes([_WRAP_FORMAT]) + nonce + self._aead.encrypt(nonce, data_key, aad)

    def unwrap(self, wrapped: bytes, aad: bytes) -> bytes:
        if wrapped[:1] != bytes([_WRAP_FORMAT]):
            raise RightsflowError("the request's data key is stored in an unknown format")
        try:
            return self._aead.decrypt(wrapped[1 : 1 + _NONCE], wrapped[1 + _NONCE :], aad)
        except InvalidTag:
            raise RightsflowError(
                "the request's data key cannot be unwrapped: it was altered, belongs to another "
                "request, or was wrapped under another master secret"
            ) from None


class LocalKekProvider:
    """KEK versions derived from the master secret ("local:v1", "local:v2", ...)."""

    LEGACY_KEY_ID = f"{LOCAL_PREFIX}v1"  # what wrapped every key before versions existed

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def __repr__(self) -> str:
        return "LocalKekProvider()"

    def new_key_id(self, version: int) -> str:
        return f"{LOCAL_PREFIX}v{version}"

    def kek(self, key_id: str) -> KeyEncryptionKey:
        suffix = key_id.removeprefix(LOCAL_PREFIX + "v")
        if not key_id.startswith(LOCAL_PREFIX + "v") or not suffix.isdigit():
            raise RightsflowError("unknown local key-encryption key id")
        version = int(suffix)
        info = _INFO_KEK_V1 if version == 1 else f"rightsflow/kek/v{version}".encode()
        return LocalKek(key_id, derive(self._secret, info))


class _WithLocal:
    """A configured provider for new versions; "local:" ids still resolve locally."""

    def __init__(self, provider: KekProvider, local: LocalKekProvider) -> None:
        self._provider = provider
        self._local = local

    def new_key_id(self, version: int) -> str:
        return self._provider.new_key_id(version)

    def kek(self, key_id: str) -> KeyEncryptionKey:
        if key_id.startswith(LOCAL_PREFIX):
            return self._local.kek(key_id)
        return self._provider.kek(key_id)


def load_provider(spec: str, secret: bytes, env: Mapping[str, str]) -> KekProvider:
    """The provider `spec` names: "local", or "package.module:ClassName" built as
    `ClassName(env)` (new versions there; "local:" ids still resolve locally)."""
    local = LocalKekProvider(secret)
    if spec == "local":
        return local
    module_name, _, class_name = spec.partition(":")
    if not module_name or not class_name:
        raise RightsflowError("kek_provider takes 'local' or 'package.module:ClassName'")
    try:
        factory = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError):
        raise RightsflowError(f"kek_provider {spec} cannot be imported") from None
    return _WithLocal(cast(KekProvider, factory(env)), local)


@dataclass(frozen=True)
class KekVersion:
    version: int
    key_id: str
    created_at: datetime
    retired_at: datetime | None = None


class KekRing:
    """The KEK versions of the key database, refreshed every `refresh_s` (another process may
    have added a version), and on an unknown version at once. Wrapping uses the newest live
    version; unwrapping any live one. Retired versions are refused both ways."""

    def __init__(
        self,
        provider: KekProvider,
        versions: Callable[[], Sequence[KekVersion]],
        refresh_s: float = RING_REFRESH_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._provider = provider
        self._versions = versions
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._live: dict[int, KeyEncryptionKey] = {}
        self._loaded_at: float | None = None

    def active(self) -> tuple[int, KeyEncryptionKey]:
        live = self._current(stale=False)
        if not live:
            raise RightsflowError("the key database has no live key-encryption key version")
        version = max(live)
        return version, live[version]

    def for_version(self, version: int) -> KeyEncryptionKey:
        kek = self._current(stale=False).get(version) or self._current(stale=True).get(version)
        if kek is None:
            raise RightsflowError(
                f"key-encryption key version {version} is retired or unknown: the data key "
                "cannot be unwrapped"
            )
        return kek

    def refresh(self) -> None:
        self._current(stale=True)

    def _current(self, *, stale: bool) -> dict[int, KeyEncryptionKey]:
        with self._lock:
            now = self._clock()
            fresh = self._loaded_at is not None and now - self._loaded_at < self._refresh_s
            if stale or not fresh:
                live = {v.version: v for v in self._versions() if v.retired_at is None}
                self._live = {
                    n: self._live[n] if n in self._live else self._provider.kek(v.key_id)
                    for n, v in live.items()
                }
                self._loaded_at = now
            return self._live


def master_secret(
    key_file: Path | None,
    default_file: Path,
    env_name: str,
    env: Mapping[str, str],
) -> tuple[bytes, str]:
    """The master secret and where it came from ("environment" or "file"): the environment
    variable `env_name` (base64) or a key file (`key_file`, else `default_file`, created on
    first use). Both at once is refused: which one sealed the data would be a guess."""
    from_env = env.get(env_name, "").strip()
    file = key_file or default_file
    if from_env and (key_file is not None or default_file.exists()):
        raise RightsflowError(
            f"a master key is set in {env_name} and in the key file {file}: keep only one"
        )
    if from_env:
        return _decode(from_env, f"{env_name}"), "environment"
    if key_file is not None and not key_file.exists():
        raise RightsflowError(f"master key file {key_file} does not exist")
    if not file.exists():
        encoded = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)) + b"\n"
        write_private_file(file, encoded, overwrite=False)  # another process's file wins
    text = file.read_text(encoding="ascii", errors="replace").strip()
    return _decode(text, f"key file {file}"), "file"


def _decode(text: str, where: str) -> bytes:
    try:
        secret = base64.b64decode(text.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise RightsflowError(f"{where} does not hold a base64 master key") from None
    if len(secret) < SECRET_BYTES:
        raise RightsflowError(f"{where} holds fewer than {SECRET_BYTES} bytes of master key")
    return secret
