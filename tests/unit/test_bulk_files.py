"""Reading bulk job files: CSV and JSON lines, bad lines, duplicates, a million lines."""

from __future__ import annotations

import tracemalloc
from collections.abc import Iterator

import pytest

from rightsflow.domain.bulk import BulkSubject
from rightsflow.domain.bulk_files import BadLine, SeenSubjects, file_format, parse
from rightsflow.domain.errors import InvalidInput

KNOWN = frozenset({"email", "phone_number", "user_id"})


def _all(fmt: str, text: str) -> list[BulkSubject | BadLine]:
    return list(parse(fmt, text.splitlines(keepends=True), KNOWN))


def test_csv_header_names_identity_types_and_seq_is_the_line() -> None:
    got = _all("csv", "Email,phone\nA@X.example,+1 555 0100\n\n,+1 555 0101\n")
    assert got == [
        BulkSubject(2, {"email": "a@x.example", "phone_number": "+1 555 0100"}),
        BulkSubject(4, {"phone_number": "+1 555 0101"}),
    ]


def test_csv_bad_lines_name_the_line_and_reason_never_the_value() -> None:
    got = _all("csv", "email\nnot-an-email\nok@x.example\n,\n")
    assert got[0] == BadLine(2, "email: not a valid email address")
    assert got[1] == BulkSubject(3, {"email": "ok@x.example"})
    assert len(got) == 2  # the blank record is skipped
    bad = _all("csv", "email\na@x.example,extra\n")
    assert bad == [BadLine(2, "2 columns, the header has 1")]


def test_a_header_that_is_data_is_refused_without_echoing_it() -> None:
    got = _all("csv", "alice@x.example\nbob@x.example\n")
    assert len(got) == 1
    assert isinstance(got[0], BadLine)
    assert got[0].line == 1
    assert "alice" not in got[0].reason
    assert _all("csv", "") == [
        BadLine(1, "the file is empty: a header row naming identity types comes first")
    ]


def test_jsonl_objects_per_line() -> None:
    text = '{"email": "A@x.example"}\n\n{"phone": "+1 555 0100", "user_id": 7}\n[1]\n{bad\n'
    got = _all("jsonl", text)
    assert got[0] == BulkSubject(1, {"email": "a@x.example"})
    assert got[1] == BulkSubject(3, {"phone_number": "+1 555 0100", "user_id": "7"})
    assert got[2] == BadLine(4, "not a JSON object")
    assert got[3] == BadLine(5, "not a JSON object")


def test_jsonl_unknown_keys_are_not_echoed() -> None:
    got = _all("jsonl", '{"alice@x.example": "1"}\n{}\n')
    assert isinstance(got[0], BadLine)
    assert "alice" not in got[0].reason
    assert got[1] == BadLine(2, "no identity on this line")


def test_media_types() -> None:
    assert file_format("text/csv; charset=utf-8") == "csv"
    assert file_format("application/x-ndjson") == "jsonl"
    assert file_format("application/jsonl") == "jsonl"
    with pytest.raises(InvalidInput):
        file_format("application/json")


def test_seen_subjects_finds_duplicates_and_grows() -> None:
    seen = SeenSubjects(capacity=4)
    assert all(seen.add({"email": f"c{i}@x.example"}) for i in range(5000))
    assert not seen.add({"email": "c42@x.example"})
    assert seen.add({"email": "c42@x.example", "user_id": "1"})
    assert len(seen) == 5001


def _million() -> Iterator[str]:
    yield "email,user_id\n"
    for i in range(1_000_000):
        yield f"customer{i:07d}@shop.example,{i}\n"


@pytest.mark.slow
def test_a_million_lines_parse_and_dedupe_in_bounded_memory() -> None:
    tracemalloc.start()
    try:
        seen, count, dupes = SeenSubjects(), 0, 0
        for item in parse("csv", _million(), KNOWN):
            assert isinstance(item, BulkSubject)
            if seen.add(item.identities):
                count += 1
            else:
                dupes += 1
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert (count, dupes) == (1_000_000, 0)
    assert peak < 50 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"
