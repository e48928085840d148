"""Encryption of Temporal payloads (workflow inputs, results, signals, failures) with the vault.

A second line of defence: workflow histories should hold ids only, but whatever slips into a
payload is sealed before it leaves the process. The payloads of a request's workflow are
sealed under that request's data key, so destroying the key (crypto-shredding) makes them
unreadable in the Temporal database and its backups too; every other workflow (retention,
bulk jobs) uses a codec key of its own, kept by the vault under a pseudo request id.

This module knows nothing of Temporal: `workflows/codec.py` (the SDK's PayloadCodec) and
`api/rest/codec.py` (the codec server the Temporal UI calls) both use it, so they agree on the
format. An encrypted payload has metadata `encoding: binary/rightsflow-encrypted` and
`encryption-key-id` (`request:<uuid>` or `global`), and data = the vault's sealed blob of the
original payload (its metadata and data, packed below behind a magic prefix, which also keeps
this from opening any other blob the vault sealed for the request).
"""

from __future__ import annotations

import struct
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from rightsflow.domain.errors import RightsflowError
from rightsflow.services import audit
from rightsflow.services.platform import Platform
from rightsflow.services.ports import Vault

ENCODING = b"binary/rightsflow-encrypted"
ENCODING_KEY = "encoding"
KEY_ID = "encryption-key-id"
GLOBAL_KEY = "global"
REQUEST_WORKFLOW_PREFIX = "privacy-request-"  # workflows/contracts.py workflow_id(); tested
NO_REQUEST = ""  # the audit trail's request id for events about no request
_REQUEST_KEY_PREFIX = "request:"
_GLOBAL_VAULT_ID = "codec:global"  # never a request id: those are UUIDs
_MAGIC = b"rightsflow-payload/1\n"
_LENGTH = struct.Struct(">I")


@dataclass(frozen=True)
class RawPayload:
    """A Temporal payload without the SDK: metadata values and data are bytes."""

    metadata: Mapping[str, bytes]
    data: bytes


class PayloadUnreadable(RightsflowError):
    """A payload sealed by this codec that cannot be opened (key destroyed, altered, unknown)."""

    code = "payload-unreadable"


def request_of_workflow(workflow_id: str | None) -> str | None:
    """The request id a request workflow's id carries; None for every other workflow."""
    if not workflow_id or not workflow_id.startswith(REQUEST_WORKFLOW_PREFIX):
        return None
    return _uuid_or_none(workflow_id.removeprefix(REQUEST_WORKFLOW_PREFIX))


def key_id_for(request_id: str | None) -> str:
    return f"{_REQUEST_KEY_PREFIX}{request_id}" if request_id else GLOBAL_KEY


def is_sealed(payload: RawPayload) -> bool:
    return payload.metadata.get(ENCODING_KEY) == ENCODING


def seal(vault: Vault, key_id: str, payload: RawPayload) -> RawPayload:
    """`payload` sealed under `key_id` (already sealed ones are left as they are)."""
    if is_sealed(payload):
        return payload
    sealed = vault.seal(_vault_id(key_id), _MAGIC + _pack(payload))
    return RawPayload({ENCODING_KEY: ENCODING, KEY_ID: key_id.encode()}, sealed)


def open_payload(vault: Vault, payload: RawPayload) -> RawPayload:
    """The original of a sealed payload; anything this codec did not seal passes through."""
    if not is_sealed(payload):
        return payload
    key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", errors="replace")
    try:
        plain = vault.open(_vault_id(key_id), payload.data)
    except RightsflowError as exc:  # the vault's messages name no data: safe to pass on
        raise PayloadUnreadable(
            f"a payload sealed under {key_id} cannot be opened: {exc}"
        ) from None
    if not plain.startswith(_MAGIC):
        raise PayloadUnreadable(f"a payload sealed under {key_id} is not a Temporal payload")
    return _unpack(plain[len(_MAGIC) :])


def seal_all(vault: Vault, key_id: str, payloads: Sequence[RawPayload]) -> list[RawPayload]:
    return [seal(vault, key_id, p) for p in payloads]


def open_all(vault: Vault, payloads: Sequence[RawPayload]) -> list[RawPayload]:
    return [open_payload(vault, p) for p in payloads]


def requests_in(payloads: Sequence[RawPayload]) -> Counter[str]:
    """How many sealed payloads each request's key holds (NO_REQUEST: the global key)."""
    counts: Counter[str] = Counter()
    for payload in payloads:
        if is_sealed(payload):
            counts[_request_of_key(payload) or NO_REQUEST] += 1
    return counts


def record_decoded(
    platform: Platform, actor: str, counts: Mapping[str, int], workflow_id: str | None
) -> None:
    """One `payloads.decoded` audit event per request whose payloads were shown (ids, counts)."""
    detail = {"workflow_id": workflow_id} if workflow_id else {}
    with platform.uow() as uow:
        for request_id, count in sorted((counts or {NO_REQUEST: 0}).items()):
            at = platform.clock()
            audit.record(
                uow, request_id, "payloads.decoded", at, actor=actor, count=count, **detail
            )
        uow.commit()


def _request_of_key(payload: RawPayload) -> str | None:
    key_id = payload.metadata.get(KEY_ID, b"").decode("utf-8", errors="replace")
    if not key_id.startswith(_REQUEST_KEY_PREFIX):
        return None
    return _uuid_or_none(key_id.removeprefix(_REQUEST_KEY_PREFIX))


def _vault_id(key_id: str) -> str:
    if key_id == GLOBAL_KEY:
        return _GLOBAL_VAULT_ID
    request_id = _uuid_or_none(key_id.removeprefix(_REQUEST_KEY_PREFIX))
    if not key_id.startswith(_REQUEST_KEY_PREFIX) or request_id is None:
        raise PayloadUnreadable("a sealed payload names an unknown key")
    return request_id


def _uuid_or_none(text: str) -> str | None:
    try:
        return text if str(uuid.UUID(text)) == text else None  # the canonical form only
    except ValueError:
        return None


def _pack(payload: RawPayload) -> bytes:
    """count, then (length, key, length, value) per metadata entry, then the data."""
    parts = [_LENGTH.pack(len(payload.metadata))]
    for key, value in sorted(payload.metadata.items()):
        name = key.encode("utf-8")
        parts += [_LENGTH.pack(len(name)), name, _LENGTH.pack(len(value)), value]
    parts.append(payload.data)
    return b"".join(parts)


def _unpack(packed: bytes) -> RawPayload:
    try:
        (count,), at = _LENGTH.unpack_from(packed), _LENGTH.size
        metadata: dict[str, bytes] = {}
        for _ in range(count):
            key, at = _field(packed, at)
            value, at = _field(packed, at)
            metadata[key.decode("utf-8")] = value
    except (struct.error, UnicodeDecodeError, ValueError):
        raise PayloadUnreadable("a sealed payload is malformed") from None
    return RawPayload(metadata, packed[at:])


def _field(packed: bytes, at: int) -> tuple[bytes, int]:
    (length,) = _LENGTH.unpack_from(packed, at)
    start = at + _LENGTH.size
    if start + length > len(packed):
        raise ValueError("truncated")
    return packed[start : start + length], start + length
