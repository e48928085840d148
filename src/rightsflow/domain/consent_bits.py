"""A bit reader for the IAB's consent strings (TCF v2 and GPP): base64url text, read MSB first.

Both formats pack fixed-width integers, booleans and bit fields into base64url characters, six
bits a character, with no padding. Every read checks that enough bits are left, so a truncated
string fails with `Malformed` instead of silently reading zeros (the PyPI `iab-tcf` reader's
behaviour, one reason we do not use it: see consent_tcf.py).
"""

from __future__ import annotations

import re

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_SIX_BITS = {char: format(index, "06b") for index, char in enumerate(_ALPHABET)}
_BASE64URL = re.compile(r"[A-Za-z0-9_-]+")

# A consent string far larger than any real one is refused before decoding (a TC string with
# every vendor of today's list in a bit field is ~2 KB; GPP with every section ~4 KB).
MAX_TEXT = 64 * 1024
# Fibonacci-coded values are offsets between sorted ids: bounding them bounds the expansion.
MAX_FIBONACCI_BITS = 40


class Malformed(ValueError):
    """A consent string that cannot be decoded; the message never contains the input."""


class BitReader:
    """Sequential reads over a string of '0'/'1' characters (simple, and fast enough for
    strings of a few kilobytes: one slice and one int() per field)."""

    def __init__(self, bits: str) -> None:
        self._bits = bits
        self._pos = 0

    @classmethod
    def from_base64url(cls, text: str, what: str) -> BitReader:
        # TC strings are sometimes sent with '=' padding (base64 of bytes); it carries no bits.
        stripped = text.rstrip("=")
        if not stripped or _BASE64URL.fullmatch(stripped) is None:
            raise Malformed(f"{what} is not base64url")
        return cls("".join(_SIX_BITS[char] for char in stripped))

    @property
    def remaining(self) -> int:
        return len(self._bits) - self._pos

    def _take(self, count: int) -> str:
        if count > self.remaining:
            raise Malformed("truncated: the string ends before its last field")
        chunk = self._bits[self._pos : self._pos + count]
        self._pos += count
        return chunk

    def uint(self, width: int) -> int:
        return int(self._take(width), 2) if width else 0

    def flag(self) -> bool:
        return self._take(1) == "1"

    def ints(self, count: int, width: int) -> list[int]:
        """A list of `count` fixed-width integers (GPP's "N-bit integer list")."""
        return [self.uint(width) for _ in range(count)]

    def bitfield_ids(self, count: int) -> list[int]:
        """The 1-based positions set in a bit field of `count` bits."""
        chunk = self._take(count)
        return [index + 1 for index, bit in enumerate(chunk) if bit == "1"]

    def letters(self, count: int) -> str:
        """Two-letter codes (languages, countries): six bits a letter, 0 = 'A'."""
        values = [self.uint(6) for _ in range(count)]
        if any(value > 25 for value in values):
            raise Malformed("a letter code is outside A-Z")
        return "".join(chr(ord("A") + value) for value in values)

    def fibonacci(self) -> int:
        """One Fibonacci-coded positive integer (Zeckendorf, lowest term first, ended by '11')."""
        total, previous_bit = 0, False
        terms = [1, 2]
        for position in range(MAX_FIBONACCI_BITS):
            bit = self.flag()
            if bit and previous_bit:
                return total
            while len(terms) <= position:
                terms.append(terms[-1] + terms[-2])
            if bit:
                total += terms[position]
            previous_bit = bit
        raise Malformed("a Fibonacci-coded number is too long")

    def fibonacci_range(self, max_ids: int) -> list[int]:
        """GPP's Fibonacci range: 12-bit count, then per entry a range flag and Fibonacci-coded
        offsets from the previous value (so the ids come out sorted and distinct)."""
        ids: list[int] = []
        offset = 0
        for _ in range(self.uint(12)):
            is_range = self.flag()
            start = offset + self.fibonacci()
            end = start + self.fibonacci() if is_range else start
            if len(ids) + (end - start + 1) > max_ids:
                raise Malformed("too many ids in a range")
            ids.extend(range(start, end + 1))
            offset = end
        return ids


def merge_ranges(ranges: list[tuple[int, int]], limit: int) -> list[int]:
    """Sorted distinct ids covered by inclusive ranges, refusing ids above `limit`. Merging
    first keeps the work proportional to the ids, not to overlapping entries (4,095 entries
    of 65,535 ids each would otherwise be 268 M steps)."""
    covered: list[int] = []
    next_free = 0
    for start, end in sorted(ranges):
        if start < 1 or start > end or end > limit:
            raise Malformed("a range entry is out of order or beyond its maximum id")
        covered.extend(range(max(start, next_free), end + 1))
        next_free = max(next_free, end + 1)
    return covered
