"""The bulk chunk engine on real shop databases (SQLite and PostgreSQL): a chunk of 50
customers erased set-based leaves none of their data, touches no other customer, and ends
exactly where 50 single requests through the per-request steps end (same rows, same counts).
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rightsflow.connectors.sql import SqlConfig
from rightsflow.domain.bulk import BulkSubject, SubjectOutcome
from rightsflow.domain.planner import plan_request
from rightsflow.sample.shop import (
    SYSTEMS_TEMPLATE,
    create_shop_sqlite,
    email_for,
    shop_dataset_yaml,
)
from rightsflow.services import receipt, requests
from rightsflow.services.bulk_engine import run_chunk
from rightsflow.services.inline import run_inline
from rightsflow.services.platform import Platform
from tests.support.erasure_checks import platform_for
from tests.support.postgres import PostgresServer

WORKLOAD = Path(__file__).resolve().parents[3] / "shared" / "workloads" / "shop"
CUSTOMERS = 200
CHOSEN = list(range(3, CUSTOMERS, 4))[:50]  # 50 customers spread over the table
TABLES = (
    "customers",
    "addresses",
    "orders",
    "order_items",
    "payment_cards",
    "login_events",
    "support_tickets",
)


@dataclass(frozen=True)
class Shop:
    """Two identical copies of a shop: one erased in bulk, one request by request."""

    dataset: str  # the fideslang dataset YAML
    bulk_url: str
    single_url: str

    def files(self, url: str) -> dict[str, str]:
        return {"shop.yml": self.dataset, "systems.yml": SYSTEMS_TEMPLATE.format(url=url)}


def _sqlite_shop(tmp_path: Path) -> Shop:
    create_shop_sqlite(tmp_path / "bulk.db", customers=CUSTOMERS)
    shutil.copy(tmp_path / "bulk.db", tmp_path / "single.db")
    return Shop(
        shop_dataset_yaml(), f"sqlite:///{tmp_path}/bulk.db", f"sqlite:///{tmp_path}/single.db"
    )


def _postgres_shop(server: PostgresServer) -> Shop:
    urls = []
    for name in ("bulk_shop", "single_shop"):
        server.create_database(name)
        subprocess.run(
            [sys.executable, str(WORKLOAD / "generate.py"), "-n", str(CUSTOMERS),
             "--dsn", server.url(name)],
            check=True, capture_output=True,
        )  # fmt: skip
        urls.append(server.url(name))
    return Shop((WORKLOAD / "shop.yml").read_text(), urls[0], urls[1])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def shop(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Shop]:
    if request.param == "sqlite":
        yield _sqlite_shop(tmp_path)
        return
    server: PostgresServer = request.getfixturevalue("sql_pg_server")
    yield _postgres_shop(server)
    engine = sa.create_engine(SqlConfig(url=server.url()).engine_url())
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for name in ("bulk_shop", "single_shop"):
            conn.exec_driver_sql(f"DROP DATABASE {name} WITH (FORCE)")
    engine.dispose()


def dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every shop table, by id, as the database holds it."""
    engine = sa.create_engine(SqlConfig(url=url).engine_url())
    try:
        with engine.connect() as conn:
            return {
                t: [tuple(r) for r in conn.exec_driver_sql(f"SELECT * FROM {t} ORDER BY id")]
                for t in TABLES
            }
    finally:
        engine.dispose()


def erase_in_bulk(platform: Platform) -> list[SubjectOutcome]:
    plan = plan_request(platform.datamap, platform.policies["default_erasure"], ("email",))
    chunk = [BulkSubject(n, {"email": email_for(i)}) for n, i in enumerate(CHOSEN, start=1)]
    return run_chunk(platform, plan, chunk)


def erase_one_by_one(platform: Platform) -> list[dict[str, tuple[int, int, int]]]:
    """Each customer's receipt lines: collection -> (found, masked, deleted)."""
    out = []
    for i in CHOSEN:
        new = requests.NewRequest(
            type="erasure", identities={"email": email_for(i)}, regime="gdpr",
            policy="default_erasure", verified=True,
        )  # fmt: skip
        request, _ = requests.submit(platform, new)
        assert run_inline(platform, request.id) == "completed"
        lines = receipt.build(platform, request.id).lines
        out.append({x.collection: (x.rows_found, x.rows_masked, x.rows_deleted) for x in lines})
    return out


@pytest.mark.slow
def test_a_chunk_of_50_ends_where_50_single_requests_end(shop: Shop, tmp_path: Path) -> None:
    before = dump(shop.bulk_url)
    with platform_for(tmp_path / "bulk", shop.files(shop.bulk_url)) as platform:
        outcomes = erase_in_bulk(platform)
    with platform_for(tmp_path / "single", shop.files(shop.single_url)) as platform:
        singles = erase_one_by_one(platform)
    assert all(o.ok for o in outcomes), [o.problem for o in outcomes if o.problem]
    bulk_counts = [
        {c.address: (c.rows_found, c.rows_masked, c.rows_deleted) for c in o.collections}
        for o in outcomes
    ]
    assert bulk_counts == singles
    assert sum(o.rows_written for o in outcomes) > 50 * 5
    after = dump(shop.bulk_url)
    assert after == dump(shop.single_url)  # the same changes, value for value
    _only_the_chosen_changed(before, after)


def _only_the_chosen_changed(
    before: dict[str, list[tuple[Any, ...]]], after: dict[str, list[tuple[Any, ...]]]
) -> None:
    """Rows of other customers are as they were; the chosen ones hold no personal data."""
    chosen, emails = set(CHOSEN), {email_for(i) for i in CHOSEN}
    ids = {"customers": 0, "addresses": 1, "payment_cards": 1}  # column holding customer id
    for table in TABLES:
        changed = [(b, a) for b, a in zip(before[table], after[table], strict=True) if b != a]
        for old, new in changed:
            owner = old[ids[table]] in chosen if table in ids else old[1] in emails
            assert owner, f"{table}: a row of another customer changed"
            assert not emails & set(new)
        if table in ("orders", "order_items"):
            assert not changed  # purchase history is kept
    customers = {row[0]: row for row in after["customers"]}
    assert all(customers[i][1:4] == (None, "MASKED", None) for i in CHOSEN)
    assert not any(r[1] in emails for r in after["login_events"] + after["support_tickets"])


def test_a_row_the_database_refuses_fails_only_its_customer(tmp_path: Path) -> None:
    shop = _sqlite_shop(tmp_path)
    db = tmp_path / "bulk.db"
    conn = sqlite3.connect(db)
    with conn:
        (refused,) = conn.execute(
            "SELECT min(id) FROM addresses WHERE customer_id = ?", (CHOSEN[7],)
        ).fetchone()
        conn.execute(
            "CREATE TRIGGER keep_one BEFORE UPDATE ON addresses WHEN OLD.id = "
            f"{int(refused)} BEGIN SELECT RAISE(ABORT, 'address is locked'); END"
        )
    conn.close()
    with platform_for(tmp_path / "bulk", shop.files(shop.bulk_url)) as platform:
        outcomes = erase_in_bulk(platform)
    failed = [o for o in outcomes if o.problem]
    assert [o.seq for o in failed] == [8]
    assert failed[0].problem is not None
    assert failed[0].problem.startswith("shop:addresses: ")
    assert "@" not in failed[0].problem
    assert all(o.ok for o in outcomes if o.seq != 8)
    conn = sqlite3.connect(db)
    customers = dict(conn.execute("SELECT id, email FROM customers").fetchall())
    conn.close()
    assert customers[CHOSEN[7]] == email_for(CHOSEN[7])  # left out of later writes
    assert all(customers[i] is None for i in CHOSEN if i != CHOSEN[7])
