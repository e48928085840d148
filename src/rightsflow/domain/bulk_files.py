"""Reading a bulk job's file of identities: CSV with a header row naming identity types, or
JSON lines (one object of identities per line). Pure and streaming: lines in, subjects out,
one at a time, so a file of any length is never held.

Rules:
- a subject's `seq` is the line its record starts on (1-based), so "seq 1234 failed" points
  at line 1234 of the uploaded file;
- empty CSV cells and blank lines are skipped; a record with no identity at all is a bad line;
- a subject whose identities (after normalising, e.g. lower-cased email) equal an earlier
  one's is a duplicate: dropped and counted, never run twice;
- bad lines are reported by number and reason, never by value (`BadLine`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import secrets
from array import array
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from rightsflow.domain.bulk import BulkSubject
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.requests import normalise_identities

# Column names people write for the built-in identity types.
ALIASES: Mapping[str, str] = {"phone": "phone_number", "userid": "user_id", "e-mail": "email"}
MAX_BAD_LINES = 20  # how many bad lines a refusal lists


class FileFormat:
    CSV = "csv"
    JSONL = "jsonl"


MEDIA_TYPES: Mapping[str, str] = {
    "text/csv": FileFormat.CSV,
    "application/csv": FileFormat.CSV,
    "application/x-ndjson": FileFormat.JSONL,
    "application/jsonl": FileFormat.JSONL,
    "application/x-jsonlines": FileFormat.JSONL,
}
# The media type of a file by the end of its name (a CLI upload, a multipart part's name).
SUFFIX_MEDIA_TYPES: Mapping[str, str] = {
    ".csv": "text/csv",
    ".jsonl": "application/x-ndjson",
    ".ndjson": "application/x-ndjson",
}


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str  # names a column or identity type, never a value


def file_format(media_type: str) -> str:
    """The file format of a Content-Type (parameters such as charset ignored)."""
    bare = media_type.split(";", 1)[0].strip().lower()
    found = MEDIA_TYPES.get(bare)
    if found is None:
        raise InvalidInput(
            f"unsupported file type; expected one of: {', '.join(MEDIA_TYPES)}", "content-type"
        )
    return found


def parse(fmt: str, lines: Iterable[str], known: frozenset[str]) -> Iterator[BulkSubject | BadLine]:
    """Subjects (or bad lines) of a file in `fmt`, in file order, duplicates included."""
    if fmt == FileFormat.CSV:
        return parse_csv(lines, known)
    if fmt == FileFormat.JSONL:
        return parse_jsonl(lines, known)
    raise InvalidInput("unknown file format", "format")


def parse_csv(lines: Iterable[str], known: frozenset[str]) -> Iterator[BulkSubject | BadLine]:
    reader = csv.reader(iter(lines))
    header: list[str] | None = None
    start = 1
    for record in reader:
        if header is None:
            header, problem = _header(record, known)
            if problem is not None:
                yield BadLine(reader.line_num, problem)
                return
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in record):
            continue  # a blank line
        if len(record) > len(header):
            yield BadLine(line, f"{len(record)} columns, the header has {len(header)}")
            continue
        raw = {header[i]: cell for i, cell in enumerate(record) if cell.strip()}
        yield _subject(line, raw, known)
    if header is None:
        yield BadLine(1, "the file is empty: a header row naming identity types comes first")


def _header(record: list[str], known: frozenset[str]) -> tuple[list[str], str | None]:
    cells = [c.strip().lstrip("\ufeff").strip().lower() for c in record]
    names = [ALIASES.get(c, c) for c in cells]
    for i, name in enumerate(names, start=1):
        if name not in known:
            # The cell is not echoed: a file without a header starts with personal data.
            expected = ", ".join(sorted(known))
            return names, f"column {i} of the header is not an identity type ({expected})"
    if len(set(names)) != len(names):
        return names, "the header names an identity type twice"
    return names, None


def parse_jsonl(lines: Iterable[str], known: frozenset[str]) -> Iterator[BulkSubject | BadLine]:
    for number, text in enumerate(lines, start=1):
        if not text.strip():
            continue
        try:
            doc = json.loads(text)
        except ValueError:
            yield BadLine(number, "not a JSON object")
            continue
        if not isinstance(doc, dict):
            yield BadLine(number, "not a JSON object")
            continue
        raw = {ALIASES.get(k, k): v for k, v in doc.items() if v not in (None, "")}
        yield _subject(number, raw, known)


def _subject(line: int, raw: Mapping[str, object], known: frozenset[str]) -> BulkSubject | BadLine:
    if not raw:
        return BadLine(line, "no identity on this line")
    try:
        return BulkSubject(line, normalise_identities(raw, known))
    except InvalidInput as exc:
        where = (exc.field or "").removeprefix("identities.")
        # Only a known type is named: an unknown key may itself be personal data.
        label = where if where in known else "a key"
        return BadLine(line, f"{label}: {exc}")


class SeenSubjects:
    """Which identity sets were seen, in bounded memory: a 64-bit keyed hash per subject in an
    open-addressing table of machine words (about 16 bytes per subject), not a set of strings
    (about 150). The hash key is random per file, so nobody can craft colliding lines; an
    accidental collision (about 3 in 100 million for a file of a million subjects) would drop
    one subject as a duplicate."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        self._key = secrets.token_bytes(16)
        self._slots = array("Q", bytes(8 * capacity))
        self._count = 0

    def __len__(self) -> int:
        return self._count

    def add(self, identities: Mapping[str, str]) -> bool:
        """Record the identity set; False if it was seen before."""
        # Types are names ([a-z0-9_]) and each value carries its length, so no two different
        # sets have the same text, whatever characters a value holds.
        text = ";".join(f"{k}={len(v)}:{v}" for k, v in sorted(identities.items()))
        digest = hashlib.blake2b(text.encode(), digest_size=8, key=self._key).digest()
        value = int.from_bytes(digest, "big") or 1  # 0 marks an empty slot
        if not self._insert(self._slots, value):
            return False
        self._count += 1
        if self._count * 2 > len(self._slots):
            self._grow()
        return True

    @staticmethod
    def _insert(slots: array[int], value: int) -> bool:
        mask = len(slots) - 1
        i = value & mask
        while slots[i]:
            if slots[i] == value:
                return False
            i = (i + 1) & mask
        slots[i] = value
        return True

    def _grow(self) -> None:
        bigger = array("Q", bytes(16 * len(self._slots)))
        for value in self._slots:
            if value:
                self._insert(bigger, value)
        self._slots = bigger
