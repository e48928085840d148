"""The files inside a package, each produced as a stream of bytes from a stream of rows.

Only the fields whose categories the policy targets leave (nested paths kept nested in JSON,
dotted columns in CSV). Nothing here holds more than a page of rows at a time.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from itertools import islice
from typing import Any

from rightsflow.domain.connector import Row
from rightsflow.domain.plan import PlanNode
from rightsflow.services.rows import PAGE_ROWS, paged, to_json

HTML_ROWS = 1_000  # index.html shows at most this many rows per collection
MANIFEST_VERSION = 1

# The rows of one collection, read afresh on each call (each file makes its own pass).
RowSource = Callable[[PlanNode], Iterator[Row]]


def csv_name(node: PlanNode) -> str:
    return f"csv/{node.dataset}.{node.collection}.csv"


def columns(node: PlanNode) -> list[str]:
    """The targeted field paths, sorted: the CSV header and the HTML table's columns."""
    return sorted({target.path for target in node.targets})


def project(node: PlanNode, row: Row) -> dict[str, Any]:
    """Only the fields whose categories the policy targets (nested paths kept nested)."""
    out: dict[str, Any] = {}
    for target in node.targets:
        top, _, rest = target.path.partition(".")
        value: Any = row.get(top)
        if rest:
            doc = json.loads(value) if isinstance(value, str) else value
            for part in rest.split("."):
                doc = doc.get(part) if isinstance(doc, dict) else None
            _set_path(out, target.path.split("."), doc)
        else:
            out[top] = value
    return out


def _set_path(out: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        out = out.setdefault(part, {})
    out[path[-1]] = value


def _at_path(doc: dict[str, Any], path: str) -> Any:
    value: Any = doc
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def cell(value: Any) -> str:
    """A value as CSV/HTML text: None is empty, JSON spelling for the rest except plain text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return to_json(value).decode() if isinstance(value, dict | list) else json.dumps(value)


def data_json(
    nodes: Iterable[PlanNode], rows: RowSource, counts: dict[str, int]
) -> Iterator[bytes]:
    """{address: [projected rows]}, byte for byte what json.dumps(sort_keys) would give for
    addresses in sorted order; fills `counts` (rows per address) as it goes."""
    yield b"{"
    for i, node in enumerate(nodes):
        yield (b"," if i else b"") + json.dumps(node.address).encode() + b":["
        count = 0
        for page in paged(project(node, row) for row in rows(node)):
            yield (b"," if count else b"") + b",".join(to_json(r) for r in page)
            count += len(page)
        counts[node.address] = count
        yield b"]"
    yield b"}"


def csv_file(node: PlanNode, rows: Iterable[Row]) -> Iterator[bytes]:
    """RFC 4180 (CRLF, quoting as needed), UTF-8, a header row of dotted field paths."""
    header = columns(node)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for page in paged(rows, PAGE_ROWS):
        for row in page:
            projected = project(node, row)
            writer.writerow([cell(_at_path(projected, path)) for path in header])
        yield buffer.getvalue().encode("utf-8")
        buffer.seek(0)
        buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def index_html(nodes: Iterable[PlanNode], rows: RowSource, counts: dict[str, int]) -> Iterator[str]:
    """Human-readable; a large collection shows its first HTML_ROWS rows and says where the
    rest is. `counts` must already be filled (data.json is written first)."""
    yield (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<title>Your data</title></head><body><h1>Your data</h1>"
        "<p>Every record we hold about you, by system and collection. "
        "The same data is in data.json and, one file per collection, in the csv folder.</p>"
    )
    for node in nodes:
        total = counts.get(node.address, 0)
        yield f"<h2>{html.escape(node.address)} ({total})</h2>"
        if not total:
            yield "<p>No records.</p>"
            continue
        if total > HTML_ROWS:
            yield (
                f"<p>The first {HTML_ROWS:,} of {total:,} records. All of them are in data.json "
                f"and in {html.escape(csv_name(node))}.</p>"
            )
        header = columns(node)
        head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in header)
        yield f"<table><thead><tr>{head}</tr></thead><tbody>"
        for row in islice(rows(node), HTML_ROWS):
            projected = project(node, row)
            cells = "".join(f"<td>{html.escape(cell(_at_path(projected, c)))}</td>" for c in header)
            yield f"<tr>{cells}</tr>"
        yield "</tbody></table>"
    yield "</body></html>"


def manifest(
    nodes: Iterable[PlanNode], counts: dict[str, int], request_type: str, generated_at: datetime
) -> bytes:
    return to_json(
        {
            "format": "rightsflow.package",
            "version": MANIFEST_VERSION,
            "request_type": request_type,
            "generated_at": generated_at.isoformat(),
            "data": "data.json",
            "collections": [
                {
                    "address": node.address,
                    "dataset": node.dataset,
                    "collection": node.collection,
                    "rows": counts.get(node.address, 0),
                    "fields": columns(node),
                    "csv": csv_name(node),
                }
                for node in nodes
            ],
        }
    )
