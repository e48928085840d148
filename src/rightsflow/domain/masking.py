"""Masking values according to a rule. Pure functions over one value."""

from __future__ import annotations

import hashlib
import hmac

from rightsflow.domain.policy import MaskRule, MaskStrategy


def masked_value(rule: MaskRule, value: object, key: bytes, length: int | None = None) -> object:
    """The value a field takes after erasure. DELETE never reaches here (the row goes)."""
    if value is None or rule.strategy is MaskStrategy.NULL:
        return None
    if rule.strategy is MaskStrategy.FIXED:
        return _fit(rule.value or "", length)
    if rule.strategy is MaskStrategy.HASH:
        digest = hmac.new(key, str(value).encode(), hashlib.sha256).hexdigest()
        return _fit(digest, length)
    raise ValueError(f"strategy {rule.strategy.value} does not produce a value")


def is_masked(rule: MaskRule, value: object, length: int | None = None) -> bool:
    """Whether a stored value is already in its erased form (used to erase exactly once).

    For HASH we cannot tell a hash from an original, so the caller compares with the row as it
    was retrieved instead.
    """
    if value is None:
        return True
    if rule.strategy is MaskStrategy.FIXED:
        return value == _fit(rule.value or "", length)
    return False


def _fit(text: str, length: int | None) -> str:
    return text[:length] if length else text
