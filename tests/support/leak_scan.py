"""Find personal values in files, as they are and in the encodings a leak usually takes.

Each value becomes a set of needles (exact byte strings): plain UTF-8, lowercase, base64
(standard and URL-safe, at each of the three alignments a value can have inside longer
encoded text), URL-encoded, JSON-escaped and UTF-16-LE. Files are searched as raw bytes, so
the scan sees SQLite free pages, WAL files and binary blobs as well as text. A hit names the
file, the offset and the encoding, never the file's content.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, quote_plus

# A shorter base64 needle (a value of under ~8 bytes at a bad alignment) would match by chance.
MIN_NEEDLE = 8


@dataclass(frozen=True)
class Needle:
    label: str  # which value (a name chosen by the test, e.g. "email")
    encoding: str  # e.g. "base64-urlsafe+1": URL-safe base64, value starting 1 byte into a group
    data: bytes


@dataclass(frozen=True)
class Hit:
    path: Path
    offset: int
    label: str
    encoding: str

    def __str__(self) -> str:
        return f"{self.path} @ {self.offset}: {self.label} as {self.encoding}"


def _base64_needles(raw: bytes) -> Iterator[tuple[str, bytes]]:
    """The part of the encoding that depends on `raw` alone, wherever it starts in a group of 3.

    Inside longer text the value starts at some offset mod 3; the first (3 - offset) % 3 bytes
    share a group with the bytes before them, and the tail shares one with the bytes after.
    Dropping those leaves characters that are the same whatever surrounds the value.
    """
    for skip in range(3):
        body = raw[skip:]
        body = body[: len(body) // 3 * 3]
        for name, encode in (
            ("base64", base64.b64encode),
            ("base64-urlsafe", base64.urlsafe_b64encode),
        ):
            yield f"{name}+{(3 - skip) % 3}", encode(body)


def _text_needles(value: str) -> Iterator[tuple[str, bytes]]:
    yield "plain", value.encode()
    yield "url-quote", quote(value, safe="").encode()
    yield "url-quote-path", quote(value).encode()
    yield "url-quote-plus", quote_plus(value).encode()
    yield "json", json.dumps(value, ensure_ascii=False)[1:-1].encode()
    yield "json-ascii", json.dumps(value)[1:-1].encode()
    yield "utf-16-le", value.encode("utf-16-le")
    yield from _base64_needles(value.encode())


def needles(label: str, value: str) -> list[Needle]:
    """Every needle for `value` and for its lowercase form; duplicates are kept once."""
    found: dict[bytes, Needle] = {}
    for form, text in (("", value), ("lower ", value.lower())):
        for encoding, data in _text_needles(text):
            if len(data) >= MIN_NEEDLE and data not in found:
                found[data] = Needle(label, form + encoding, data)
    return list(found.values())


def scan_bytes(path: Path, content: bytes, wanted: Iterable[Needle]) -> list[Hit]:
    hits = []
    for needle in wanted:
        at = content.find(needle.data)
        while at != -1:
            hits.append(Hit(path, at, needle.label, needle.encoding))
            at = content.find(needle.data, at + 1)
    return hits


def files_under(*roots: Path, skip: Callable[[Path], bool] = lambda _: False) -> list[Path]:
    """Regular files under each root (a root may itself be a file), minus those `skip` names."""
    out: list[Path] = []
    for root in roots:
        candidates = [root] if root.is_file() else sorted(root.rglob("*"))
        out.extend(p for p in candidates if p.is_file() and not p.is_symlink() and not skip(p))
    return out


def scan(files: Iterable[Path], values: dict[str, str]) -> list[Hit]:
    """Every place any value occurs, in any encoding, in any of `files`."""
    wanted = [n for label, value in values.items() for n in needles(label, value)]
    hits: list[Hit] = []
    for path in files:
        hits.extend(scan_bytes(path, path.read_bytes(), wanted))
    return hits
