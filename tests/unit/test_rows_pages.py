"""Rows in sealed pages: paging, sealing, reading back one page at a time, the legacy blob."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from rightsflow.domain.records import NodeResult
from rightsflow.services.rows import (
    PAGE_ROWS,
    iter_rows,
    paged,
    seal_page,
    seal_rows,
    stored_pages,
)
from tests.unit.fakes import FakeVault, make_platform

RID = "6c1f4a57-0a0e-4a8e-9b7e-3f5b8f0b2a11"


def test_paged_cuts_a_stream_without_reading_ahead() -> None:
    taken: list[int] = []

    def rows() -> Iterator[dict[str, int]]:
        for i in range(7):
            taken.append(i)
            yield {"i": i}

    pages = paged(rows(), 3)
    assert next(pages) == [{"i": 0}, {"i": 1}, {"i": 2}]
    assert taken == [0, 1, 2]
    assert [len(p) for p in pages] == [3, 1]
    assert list(paged([], 3)) == []
    assert [len(p) for p in paged({"i": i} for i in range(2 * PAGE_ROWS))] == [PAGE_ROWS] * 2
    with pytest.raises(ValueError, match="at least 1"):
        next(paged([], 0))


def test_sealed_pages_read_back_as_one_stream_of_rows() -> None:
    vault = FakeVault()
    rows = [{"id": i, "total": Decimal("1.50"), "tags": ["a"]} for i in range(5)]
    sealed = [seal_page(vault, RID, page) for page in paged(rows, 2)]
    assert all(b"total" not in s for s in sealed)
    opened = iter_rows(vault, RID, iter(sealed))
    assert next(opened) == {"id": 0, "total": "1.5", "tags": ["a"]}
    assert [r["id"] for r in opened] == [1, 2, 3, 4]
    assert list(iter_rows(vault, RID, [])) == []


def test_stored_pages_prefer_pages_and_fall_back_to_the_one_blob() -> None:
    platform, _ = make_platform()
    vault = platform.vault
    with platform.uow() as uow:
        assert list(stored_pages(uow.results, RID, "shop:orders")) == []
        legacy = seal_rows(vault, RID, [{"id": 1}])
        uow.results.put(NodeResult(RID, "shop:orders", "retrieve", sealed_rows=legacy))
        assert list(stored_pages(uow.results, RID, "shop:orders")) == [legacy]
        uow.results.put_page(RID, "shop:orders", 1, seal_page(vault, RID, [{"id": 3}]), 1)
        uow.results.put_page(RID, "shop:orders", 0, seal_page(vault, RID, [{"id": 2}]), 1)
        pages = stored_pages(uow.results, RID, "shop:orders")
        assert [r["id"] for r in iter_rows(vault, RID, pages)] == [2, 3]
