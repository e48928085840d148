"""The benchmarks' hand-written SQL: baselines erase what the policy says, and the check that
nothing is left behind sees data that is still there (on a small SQLite shop from generate.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from bench import shop_sql
from bench.shop_stack import WORKLOAD

ERASED = range(1, 6)
OTHERS = range(6, 11)


@pytest.fixture
def shop(tmp_path: Path) -> shop_sql.ShopDb:
    path = tmp_path / "shop.db"
    subprocess.run(
        [sys.executable, str(WORKLOAD / "generate.py"), "-n", "40", "--sqlite", str(path)],
        check=True, capture_output=True,
    )  # fmt: skip
    return shop_sql.ShopDb("sqlite", str(path))


def test_render_writes_each_dialect_per_subject_and_set_based() -> None:
    template = "DELETE FROM t WHERE a {ids} AND b {emails}"
    assert shop_sql.render(template, "postgres", many=True) == (
        "DELETE FROM t WHERE a = ANY(%(ids)s) AND b = ANY(%(emails)s)"
    )
    assert shop_sql.render(template, "postgres", many=False) == (
        "DELETE FROM t WHERE a = %(ids)s AND b = %(emails)s"
    )
    assert shop_sql.render(template, "sqlite", many=True) == (
        "DELETE FROM t WHERE a IN (SELECT value FROM json_each(:ids)) "
        "AND b IN (SELECT value FROM json_each(:emails))"
    )
    assert shop_sql.params("sqlite", {"ids": [1, 2]}, many=True) == {"ids": "[1, 2]"}
    assert shop_sql.params("postgres", {"ids": [7]}, many=False) == {"ids": 7}


@pytest.mark.parametrize("how", ["each", "set"])
def test_an_erasure_leaves_nothing_behind_and_touches_no_one_else(
    shop: shop_sql.ShopDb, how: str
) -> None:
    rows = shop_sql.row_ids(shop, ERASED)
    before = shop_sql.left_behind(shop, ERASED, rows)
    assert before["customers"] == len(ERASED)
    assert before["addresses"] > 0
    assert before["payment_cards"] > 0
    others_rows = shop_sql.row_ids(shop, OTHERS)
    others = shop_sql.left_behind(shop, OTHERS, others_rows)

    if how == "each":
        shop_sql.erase_each(shop, ERASED)
    else:
        shop_sql.erase_set(shop, ERASED, chunk=2)

    assert set(shop_sql.left_behind(shop, ERASED, rows).values()) == {0}
    assert shop_sql.left_behind(shop, OTHERS, others_rows) == others
    with shop.session() as conn:  # nobody else's rows lost their email
        assert shop_sql.access_one(shop, conn, OTHERS[0]) > 1


def test_added_login_events_belong_to_the_subject(shop: shop_sql.ShopDb) -> None:
    with shop.session() as conn:
        before = shop_sql.access_one(shop, conn, 3)
    shop_sql.add_login_events(shop, 3, 500)
    with shop.session() as conn:
        assert shop_sql.access_one(shop, conn, 3) == before + 500
