"""Decoding the IAB's consent strings kept with a consent record: TCF v2.2 and GPP.

A string that cannot be decoded is still stored exactly as received, flagged invalid with a
short reason; decoding never raises into intake. The formats live in consent_tcf.py and
consent_gpp.py (our own checked bit reader, consent_bits.py; why no library: see those).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rightsflow.domain.consent_bits import Malformed
from rightsflow.domain.consent_gpp import decode_gpp_string
from rightsflow.domain.consent_tcf import decode_tc_string


@dataclass(frozen=True)
class Decoded:
    """`fields` is JSON-ready (no bytes, no datetimes: ISO strings). `problem` says, without
    echoing the input, why a string is invalid."""

    valid: bool
    fields: Mapping[str, Any] = field(default_factory=dict)
    problem: str | None = None


def decode_tcf(text: str) -> Decoded:
    """A TCF v2.x TC string (core segment and any disclosed/publisher segments)."""
    return _decode(decode_tc_string, text, "TC string")


def decode_gpp(text: str) -> Decoded:
    """A GPP string: its header (section ids) always, and the US sections decoded."""
    return _decode(lambda value: decode_gpp_string(value, decode_tc_string), text, "GPP string")


def _decode(decoder: Callable[[str], Mapping[str, Any]], text: object, what: str) -> Decoded:
    if not isinstance(text, str) or not text.strip():
        return Decoded(valid=False, problem=f"{what} is empty")
    try:
        return Decoded(valid=True, fields=decoder(text))
    except Malformed as exc:
        return Decoded(valid=False, problem=str(exc))
    except Exception:  # intake must never crash on a consent string (a bug here included)
        return Decoded(valid=False, problem=f"{what} could not be decoded")
