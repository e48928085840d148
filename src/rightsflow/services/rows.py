"""Rows in and out of sealed JSON. Only this module knows how rows are serialised.

A retrieve result is stored as pages of at most PAGE_ROWS rows, each sealed on its own, so
rows can be written and read one page at a time whatever the size of a collection."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import date, datetime, time
from decimal import Decimal
from itertools import islice
from typing import Any
from uuid import UUID

from rightsflow.domain.connector import Row
from rightsflow.services.ports import ResultRepository, Vault

PAGE_ROWS = 1_000


def _plain(value: object) -> Any:
    if isinstance(value, Decimal):
        # Exact, as text, without the column's padding zeros: 193.9500000000 -> "193.95".
        return format(value.normalize(), "f")
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"cannot store a value of type {type(value).__name__}")


def to_json(rows: Sequence[Any] | dict[str, Any]) -> bytes:
    return json.dumps(rows, default=_plain, separators=(",", ":"), sort_keys=True).encode()


def seal_rows(vault: Vault, request_id: str, rows: Sequence[Row]) -> bytes:
    return vault.seal(request_id, to_json(rows))


def open_rows(vault: Vault, request_id: str, sealed: bytes | None) -> list[Row]:
    if not sealed:
        return []
    rows: list[Row] = json.loads(vault.open(request_id, sealed))
    return rows


def seal_page(vault: Vault, request_id: str, rows: Sequence[Row]) -> bytes:
    """One page of a retrieve result (see ResultRepository.put_page)."""
    return seal_rows(vault, request_id, rows)


def iter_rows(vault: Vault, request_id: str, sealed_pages: Iterable[bytes]) -> Iterator[Row]:
    """The rows of sealed pages, opening one page at a time."""
    for sealed in sealed_pages:
        yield from open_rows(vault, request_id, sealed)


def paged(rows: Iterable[Row], size: int = PAGE_ROWS) -> Iterator[list[Row]]:
    """Cut a stream of rows into pages of `size` rows (the last may be shorter)."""
    if size < 1:
        raise ValueError("page size must be at least 1")
    source = iter(rows)
    while page := list(islice(source, size)):
        yield page


def stored_pages(results: ResultRepository, request_id: str, address: str) -> Iterator[bytes]:
    """The sealed pages of a retrieve result; a result stored before pages existed (one blob in
    `NodeResult.sealed_rows`) comes back as a single page. Lazy: use it inside the unit of work.
    """
    pages = results.pages(request_id, address)
    first = next(pages, None)
    if first is not None:
        yield first
        yield from pages
        return
    found = results.get(request_id, address, "retrieve")
    if found is not None and found.sealed_rows:
        yield found.sealed_rows
