"""Signed documents (Ed25519) that anyone can check offline with the public key alone.

A signed document is the original JSON object plus one member, `signature`:

    {"algorithm": "Ed25519", "key_id": "<16 hex>", "public_key": "<base64 raw 32 bytes>",
     "value": "<base64 64-byte signature>"}

`value` signs `canonical_json(document without "signature")`. The encoding follows RFC 8785
(JCS) for the subset documents here use: objects, arrays, strings, integers, booleans and null.
Floats are refused rather than canonicalised, because receipts carry counts, and a float's
textual form is exactly where independent implementations tend to disagree.

Time is a member of the document (e.g. `issued_at`), so it is covered by the signature; the
`signature` member itself holds nothing a verifier has to trust: the key id is recomputed from
the key, and the key is checked against the trusted keys the verifier brings.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from rightsflow.domain.errors import InvalidInput, RightsflowError

ALGORITHM = "Ed25519"
SIGNATURE_MEMBER = "signature"
RAW_KEY_BYTES = 32
SIGNATURE_BYTES = 64
# I-JSON (RFC 7493) integers: what every JSON implementation reads back exactly.
MAX_SAFE_INTEGER = 2**53 - 1
SIGNATURE_KEYS = frozenset({"algorithm", "key_id", "public_key", "value"})


# --- canonical JSON -------------------------------------------------------------------------


def canonical_json(doc: Any) -> bytes:
    """The RFC 8785 form of `doc`: sorted keys, no whitespace, UTF-8.

    Raises InvalidInput (naming the member's path, never its value) for anything else than
    objects with string keys, arrays, strings, integers within +/-(2**53 - 1), booleans and null.
    """
    parts: list[str] = []
    _encode(doc, "$", parts)
    text = "".join(parts)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput("a string holds a lone surrogate, which is not valid Unicode") from None


def _encode(value: Any, path: str, out: list[str]) -> None:
    # bool before int: True is an int in Python.
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(_string(value))
    elif isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise InvalidInput(f"{path}: integer outside the range +/-(2**53 - 1)", path)
        out.append(str(int(value)))
    elif isinstance(value, float):
        raise InvalidInput(f"{path}: floats (and NaN/Infinity) are not allowed, use integers", path)
    elif isinstance(value, Mapping):
        _encode_object(value, path, out)
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, f"{path}[{index}]", out)
        out.append("]")
    else:
        raise InvalidInput(f"{path}: a {type(value).__name__} has no canonical JSON form", path)


def _encode_object(value: Mapping[Any, Any], path: str, out: list[str]) -> None:
    for key in value:
        if not isinstance(key, str):
            raise InvalidInput(f"{path}: object keys must be strings", path)
    # RFC 8785 orders members by the UTF-16 code units of their names.
    keys = sorted(value, key=lambda k: k.encode("utf-16-be", "surrogatepass"))
    out.append("{")
    for index, key in enumerate(keys):
        if index:
            out.append(",")
        out.append(_string(key))
        out.append(":")
        _encode(value[key], f"{path}.{key}", out)
    out.append("}")


def _string(text: str) -> str:
    # Python escapes exactly what RFC 8785 does: '"', backslash, \b \f \n \r \t by name, other
    # control characters as lowercase \u00xx, and nothing else (with ensure_ascii off).
    return json.dumps(text, ensure_ascii=False)


# --- keys -----------------------------------------------------------------------------------


def raw_public_key(key: Ed25519PublicKey | Ed25519PrivateKey) -> bytes:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(raw_public: bytes) -> str:
    """First 16 hex digits of SHA-256 over the raw public key: short enough to read aloud."""
    return hashlib.sha256(raw_public).hexdigest()[:16]


def public_key_pem(key: Ed25519PublicKey | Ed25519PrivateKey | bytes) -> str:
    """SubjectPublicKeyInfo PEM (what `openssl pkey -pubout` prints) of a key or raw bytes."""
    if isinstance(key, bytes):
        key = Ed25519PublicKey.from_public_bytes(_check_raw(key))
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode("ascii")


def load_public_key(pem_or_raw: str | bytes) -> bytes:
    """The raw 32-byte Ed25519 public key from PEM text or raw bytes.

    Raises RightsflowError if it is neither, or if the PEM holds another kind of key."""
    if isinstance(pem_or_raw, bytes) and len(pem_or_raw) == RAW_KEY_BYTES:
        return pem_or_raw
    data = pem_or_raw.encode("ascii", "replace") if isinstance(pem_or_raw, str) else pem_or_raw
    try:
        loaded = serialization.load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise RightsflowError("not a PEM public key (SubjectPublicKeyInfo)") from None
    if not isinstance(loaded, Ed25519PublicKey):
        raise RightsflowError(f"the public key is not Ed25519 but {type(loaded).__name__}")
    return raw_public_key(loaded)


def _check_raw(raw: bytes) -> bytes:
    if len(raw) != RAW_KEY_BYTES:
        raise RightsflowError(f"an Ed25519 public key has {RAW_KEY_BYTES} bytes")
    return raw


# --- sign and verify ------------------------------------------------------------------------


def sign_document(doc: Mapping[str, Any], private_key: Ed25519PrivateKey) -> dict[str, Any]:
    """A copy of `doc` with a `signature` member over its canonical form.

    A `signature` already in `doc` is replaced (signing a signed document re-signs it)."""
    body = {k: v for k, v in doc.items() if k != SIGNATURE_MEMBER}
    raw = raw_public_key(private_key)
    value = private_key.sign(canonical_json(body))
    return body | {
        SIGNATURE_MEMBER: {
            "algorithm": ALGORITHM,
            "key_id": key_id(raw),
            "public_key": base64.b64encode(raw).decode("ascii"),
            "value": base64.b64encode(value).decode("ascii"),
        }
    }


@dataclass(frozen=True)
class Verification:
    valid: bool
    key_id: str | None  # of the embedded key, recomputed; None if there is no usable key
    pinned: bool  # the signer was checked against keys the verifier trusts
    reason: str | None = None  # why it is not valid

    def __bool__(self) -> bool:
        return self.valid


class _Invalid(Exception):
    """Internal: the reason a signed document does not verify."""


def verify_document(
    signed: Mapping[str, Any], trusted: Sequence[bytes] | None = None
) -> Verification:
    """Check the signature of `signed`; with `trusted` raw public keys, also who signed it.

    With `trusted=None` the embedded key is taken at its word (pinned=False): the document is
    intact, but anyone could have signed it, so the caller must compare the key id with one it
    got from the signer through another channel."""
    pinned = trusted is not None
    try:
        raw, value = _signature_parts(signed)
    except _Invalid as exc:
        return Verification(False, None, pinned, str(exc))
    found_id = key_id(raw)
    reason = _mismatch(signed, raw, value, trusted)
    return Verification(reason is None, found_id, pinned, reason)


def _mismatch(
    signed: Mapping[str, Any], raw: bytes, value: bytes, trusted: Sequence[bytes] | None
) -> str | None:
    """Why a well-formed signature does not verify, or None. Tampering is reported before trust:
    a changed document is the more important news."""
    found_id = key_id(raw)
    if signed[SIGNATURE_MEMBER]["key_id"] != found_id:
        return f"the key_id does not match the embedded key ({found_id})"
    body = {k: v for k, v in signed.items() if k != SIGNATURE_MEMBER}
    try:
        message = canonical_json(body)
    except InvalidInput as exc:
        return f"the document has no canonical form: {exc}"
    try:
        Ed25519PublicKey.from_public_bytes(raw).verify(value, message)
    except InvalidSignature:
        return "the signature does not match the document: it was changed after signing"
    if trusted is not None and raw not in {bytes(k) for k in trusted}:
        return f"signed by key {found_id}, which is not a trusted key"
    return None


def _signature_parts(signed: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """(raw public key, signature) from the `signature` member, or _Invalid saying what is off."""
    if not isinstance(signed, Mapping):
        raise _Invalid("the document is not a JSON object")
    member = signed.get(SIGNATURE_MEMBER)
    if not isinstance(member, Mapping):
        raise _Invalid("the document has no signature")
    if set(member) != SIGNATURE_KEYS:
        raise _Invalid(f"the signature must have exactly: {', '.join(sorted(SIGNATURE_KEYS))}")
    if member.get("algorithm") != ALGORITHM:
        raise _Invalid(f"the signature's algorithm is not {ALGORITHM}")
    raw = _b64(member.get("public_key"), "public_key")
    if len(raw) != RAW_KEY_BYTES:
        raise _Invalid(f"the embedded public key is not {RAW_KEY_BYTES} bytes")
    value = _b64(member.get("value"), "value")
    if len(value) != SIGNATURE_BYTES:
        raise _Invalid(f"the signature value is not {SIGNATURE_BYTES} bytes")
    return raw, value


def _b64(text: object, name: str) -> bytes:
    if not isinstance(text, str):
        raise _Invalid(f"signature.{name} is missing or not a string")
    try:
        decoded = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise _Invalid(f"signature.{name} is not base64") from None
    # The decoder ignores unused low bits of the last character; one encoding per value keeps
    # every change to the signature member a change the verifier sees.
    if base64.b64encode(decoded).decode("ascii") != text:
        raise _Invalid(f"signature.{name} is not in canonical base64")
    return decoded
