"""The packaged "shop" sample: deterministic SQLite database and its data map files."""

from __future__ import annotations

import re
import sqlite3
from contextlib import closing
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from fideslang.models import Dataset

from rightsflow.sample import shop
from rightsflow.sample.shop import (
    TABLES,
    create_shop_sqlite,
    email_for,
    shop_dataset_yaml,
    write_shop_datamap,
)


def _dump(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    with closing(sqlite3.connect(db)) as conn:
        return {t: conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall() for t in TABLES}


@pytest.fixture(scope="module")
def shop_db(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, int]]:
    path = tmp_path_factory.mktemp("shop") / "shop.db"
    return path, create_shop_sqlite(path, customers=1000, seed=42)


def test_email_for() -> None:
    assert email_for(1) == "customer0000001@shop.example"
    assert email_for(1234567) == "customer1234567@shop.example"


def test_same_customers_and_seed_give_identical_contents(tmp_path: Path) -> None:
    first = create_shop_sqlite(tmp_path / "a.db", customers=300, seed=5)
    second = create_shop_sqlite(tmp_path / "b.db", customers=300, seed=5)
    assert first == second
    assert _dump(tmp_path / "a.db") == _dump(tmp_path / "b.db")
    create_shop_sqlite(tmp_path / "c.db", customers=300, seed=6)
    assert _dump(tmp_path / "c.db") != _dump(tmp_path / "a.db")


def test_counts_are_about_twenty_rows_per_customer(shop_db: tuple[Path, dict[str, int]]) -> None:
    path, counts = shop_db
    assert list(counts) == list(TABLES)
    assert {t: len(rows) for t, rows in _dump(path).items()} == counts
    assert counts["customers"] == 1000
    assert 18 <= sum(counts.values()) / 1000 <= 23


def test_foreign_keys_are_declared_and_valid(shop_db: tuple[Path, dict[str, int]]) -> None:
    path, _ = shop_db
    with closing(sqlite3.connect(path)) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        refs = {
            (t, row[3], row[2], row[4])
            for t in TABLES
            for row in conn.execute(f"PRAGMA foreign_key_list({t})")
        }
        indexes = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert refs == {
        ("addresses", "customer_id", "customers", "id"),
        ("orders", "customer_id", "customers", "id"),
        ("order_items", "order_id", "orders", "id"),
        ("payment_cards", "customer_id", "customers", "id"),
    }
    assert "login_events_customer_email_idx" in indexes
    assert "orders_customer_id_idx" in indexes


def test_values_have_the_benchmark_shapes(shop_db: tuple[Path, dict[str, int]]) -> None:
    rows = _dump(shop_db[0])
    for cid, email, name, phone, created, restricted in rows["customers"]:
        assert restricted == 0
        assert email == email_for(cid)
        assert re.fullmatch(r"[A-Z][a-z]+ [A-Z][A-Za-z-]+", name)
        assert re.fullmatch(r"\+44 7\d{9}", phone)
        assert datetime.fromisoformat(created).tzinfo is not None
    emails = {r[1] for r in rows["customers"]}
    for _, email, ip, _ts in rows["login_events"]:
        assert email in emails
        assert re.fullmatch(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}", ip)
    assert all(re.search(r"\(ref \d{6}\)$", r[2]) for r in rows["support_tickets"])
    assert all(isinstance(r[2], float | int) for r in rows["orders"])


def test_a_failed_build_leaves_the_old_file_and_no_scratch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "shop.db"
    create_shop_sqlite(path, customers=10)
    before = path.read_bytes()

    def boom(*_: object) -> None:
        raise RuntimeError("crash while inserting")

    monkeypatch.setattr(shop, "_insert", boom)
    with pytest.raises(RuntimeError, match="crash"):
        create_shop_sqlite(path, customers=20)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["shop.db"]


def test_write_shop_datamap(tmp_path: Path) -> None:
    mapdir, db = tmp_path / "map", tmp_path / "data" / "shop.db"
    write_shop_datamap(mapdir, db)
    assert sorted(p.name for p in mapdir.iterdir()) == ["shop.yml", "systems.yml"]
    assert (mapdir / "systems.yml").read_text() == (
        "systems:\n"
        "  - key: shop\n"
        "    connector: sql\n"
        "    datasets: [shop]\n"
        "    config:\n"
        f"      url: sqlite:///{db.resolve()}\n"
    )
    text = (mapdir / "shop.yml").read_text()
    assert text == shop_dataset_yaml()
    datasets = [Dataset.model_validate(d) for d in yaml.safe_load(text)["dataset"]]
    assert [d.fides_key for d in datasets] == ["shop"]
    assert sorted(c.name for c in datasets[0].collections) == sorted(TABLES)


def test_systems_url_survives_an_awkward_path(tmp_path: Path) -> None:
    db = tmp_path / "odd #dir: x" / "shop.db"
    write_shop_datamap(tmp_path, db)
    systems = yaml.safe_load((tmp_path / "systems.yml").read_text())["systems"]
    assert systems[0]["config"]["url"] == f"sqlite:///{db.resolve()}"
