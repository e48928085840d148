"""Signatures on Privacy Service API calls: `Rightsflow-Signature: t=<unix time>,v1=<hex>`.

v1 is HMAC-SHA-256 under the secret the service shares with Rightsflow, over
`<t>.<raw body>`. The timestamp makes a captured call useless after `tolerance` seconds; the
receiver compares in constant time. Both sides use this module, so they cannot disagree.
"""

from __future__ import annotations

import hashlib
import hmac
import time

HEADER = "Rightsflow-Signature"
DEFAULT_TOLERANCE_S = 300


class SignatureError(Exception):
    """The call is not from the holder of the secret, or not fresh. Names no secret."""


def sign(secret: bytes, body: bytes, now: float | None = None) -> str:
    """The header value for `body`, signed now."""
    stamp = int(time.time() if now is None else now)
    return f"t={stamp},v1={_mac(secret, stamp, body)}"


def verify(
    secret: bytes,
    body: bytes,
    header: str | None,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> int:
    """Check a header; returns its timestamp. Raises SignatureError."""
    if not header:
        raise SignatureError(f"missing {HEADER} header")
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        raise SignatureError("malformed signature header") from None
    given = parts.get("v1", "")
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance_s:
        raise SignatureError("signature is too old or from the future")
    if not hmac.compare_digest(given, _mac(secret, stamp, body)):
        raise SignatureError("signature does not match")
    return stamp


def _mac(secret: bytes, stamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
