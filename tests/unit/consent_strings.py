"""Test-side encoders for hand-built TCF and GPP strings (the production code only decodes)."""

from __future__ import annotations

from collections.abc import Sequence

ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


def to_base64url(bits: str) -> str:
    bits += "0" * (-len(bits) % 6)
    return "".join(ALPHABET[int(bits[i : i + 6], 2)] for i in range(0, len(bits), 6))


def uint(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def bitfield(ids: Sequence[int], width: int) -> str:
    return "".join("1" if position in ids else "0" for position in range(1, width + 1))


def letters(code: str) -> str:
    return "".join(uint(ord(char) - ord("A"), 6) for char in code)


def fibonacci(value: int) -> str:
    """Zeckendorf representation, lowest term first, then the terminating '1'."""
    terms = [1, 2]
    while terms[-1] <= value:
        terms.append(terms[-1] + terms[-2])
    bits = ["0"] * len(terms)
    for index in range(len(terms) - 1, -1, -1):
        if terms[index] <= value:
            bits[index] = "1"
            value -= terms[index]
    return "".join(bits).rstrip("0") + "1"


def gpp_header(section_ids: Sequence[int]) -> str:
    """A GPP header listing each id as a single Fibonacci entry (no ranges), padded to whole
    bytes first as the IAB's encoder does (decoders ignore trailing zero bits)."""
    bits = uint(3, 6) + uint(1, 6) + uint(len(section_ids), 12)
    previous = 0
    for section_id in sorted(section_ids):
        bits += "0" + fibonacci(section_id - previous)
        previous = section_id
    return to_base64url(bits + "0" * (-len(bits) % 8))


def two_bit_fields(version: int, values: Sequence[int]) -> str:
    """A US section core: 6-bit version then 2-bit values, in specification order."""
    return to_base64url(uint(version, 6) + "".join(uint(value, 2) for value in values))
