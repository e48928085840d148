"""Decoding the IAB's consent strings kept with a consent record: TCF v2.2 and GPP.

A string that cannot be decoded is still stored exactly as received, flagged invalid with a
short reason; decoding never raises into intake.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Decoded:
    """`fields` is JSON-ready (no bytes, no datetimes: ISO strings). `problem` says, without
    echoing the input, why a string is invalid."""

    valid: bool
    fields: Mapping[str, Any] = field(default_factory=dict)
    problem: str | None = None


def decode_tcf(text: str) -> Decoded:
    """A TCF v2.x TC string (core segment and any disclosed/publisher segments)."""
    return Decoded(valid=False, problem="TCF decoding is not available yet")


def decode_gpp(text: str) -> Decoded:
    """A GPP string: its header (section ids) always, and the US sections decoded."""
    return Decoded(valid=False, problem="GPP decoding is not available yet")
