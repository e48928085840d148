"""Every request type and every masking strategy, run inline on SQLite, PostgreSQL and MariaDB.

One production-style schema (tests.support.crm_example): composite keys, foreign keys ON DELETE
RESTRICT, a unique email, nullable columns, a JSON column with nested personal data, DATE and
NUMERIC columns, and an `invoices` table kept under an exemption. Each test runs one request
through a real platform and reads the database back with its own engine (not through the
connector).
"""

from __future__ import annotations

import copy
import csv
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.masking import reveal
from rightsflow.services import package, requests
from rightsflow.services.platform import Platform
from rightsflow.services.receipt import Receipt
from tests.support.crm_example import (
    BASIS,
    DATASET,
    NAMES,
    POLICIES,
    SUBJECT,
    crm_rows,
    crm_schema,
)
from tests.support.erasure_checks import (
    Outcome,
    Target,
    mariadb_target,
    platform_for,
    postgres_target,
    rows_by_key,
    run_request,
    sqlite_target,
)

Rows = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


@dataclass
class Crm:
    target: Target
    metadata: sa.MetaData
    platform: Platform

    def rows(self) -> Rows:
        """Every row by primary key, read with plain SQL."""
        return rows_by_key(self.target.engine, self.metadata)

    def run(self, kind: str, policy: str | None = None, **extra: Any) -> Outcome:
        email = next(r["email"] for r in crm_rows()["customers"] if r["id"] == SUBJECT)
        new = requests.NewRequest(kind, {"email": email}, "gdpr", policy, **extra, verified=True)
        return run_request(self.platform, new)


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param("postgres", marks=pytest.mark.postgres),
        pytest.param("mariadb", marks=pytest.mark.mariadb),
    ]
)
def crm(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Crm]:
    if request.param == "sqlite":
        target = sqlite_target(tmp_path / "crm.db")
    elif request.param == "postgres":
        target = postgres_target(request.getfixturevalue("sql_pg_server"))
    else:
        target = mariadb_target(request.getfixturevalue("sql_mariadb_server"))
    metadata = crm_schema()
    metadata.create_all(target.engine)
    with target.engine.begin() as conn:
        for table in metadata.sorted_tables:
            conn.execute(table.insert(), crm_rows()[table.name])
    system = {"key": "crm_db", "connector": "sql", "datasets": ["crm"],
              "config": {"url": target.url, "chunk_size": 2}}  # fmt: skip
    files = {"crm.yml": json.dumps(DATASET), "systems.yml": json.dumps({"systems": [system]}),
             "policies.yml": json.dumps({"policies": POLICIES})}  # fmt: skip
    try:
        with platform_for(tmp_path, files) as platform:
            yield Crm(target, metadata, platform)
    finally:
        target.close()


# -- checks ------------------------------------------------------------------------------------

Check = Callable[[Any, Any], None]


def _mine(table: str, row: dict[str, Any]) -> bool:
    return row["id" if table == "customers" else "customer_id"] == SUBJECT


def _pop(row: dict[str, Any], path: str) -> Any:
    """Remove and return the value at a dotted path (into JSON documents)."""
    *parents, leaf = path.split(".")
    for part in parents:
        row = row[part]
    return row.pop(leaf)


def assert_changes(before: Rows, after: Rows, checks: dict[str, Check], gone: set[str]) -> None:
    """Other customers' rows are untouched. The subject's rows in `gone` tables are deleted;
    the others changed only at the `table.column[.path]` places of `checks`, each as its check
    says (the check sees the old and the new value)."""
    for table, rows in before.items():
        for key, old in rows.items():
            new = after[table].get(key)
            if not _mine(table, old):
                assert new == old, f"{table}{key}: another customer's row changed"
            elif table in gone:
                assert new is None, f"{table}{key}: not deleted"
            else:
                assert new is not None, f"{table}{key}: deleted"
                was, now = copy.deepcopy(old), copy.deepcopy(new)
                for where, check in checks.items():
                    name, _, path = where.partition(".")
                    if name == table:
                        check(_pop(was, path), _pop(now, path))
                assert now == was, f"{table}{key}: changed where the policy does not reach"


def _line(receipt: Receipt | None, collection: str) -> Any:
    assert receipt is not None
    return next(ln for ln in receipt.lines if ln.collection == f"crm:{collection}")


def _completed(outcome: Outcome) -> None:
    assert outcome.status == "completed", outcome.failure
    if outcome.receipt is not None:
        assert outcome.receipt.verified, outcome.receipt


def _is(value: Any) -> Check:
    def check(old: Any, new: Any) -> None:
        assert new == (None if old is None else value), (old, new)

    return check


def _text_check(pattern: str, *, same_length: bool = False) -> Check:
    def check(old: Any, new: Any) -> None:
        if old is None:
            assert new is None
            return
        assert new != old
        assert re.fullmatch(pattern, new), new
        assert len(new) <= 80
        assert not same_length or len(new) == len(old)

    return check


NAMES_AT = ("customers.name", "customers.profile.nickname", "orders.ship_name")


# -- request types -----------------------------------------------------------------------------


def _package(crm: Crm, outcome: Outcome) -> dict[str, bytes]:
    archive = package.download(crm.platform, outcome.request_id, "test")
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        return {name: zipped.read(name) for name in zipped.namelist()}


def test_access_returns_the_subjects_rows_only(crm: Crm) -> None:
    before = crm.rows()
    outcome = crm.run("access")
    _completed(outcome)
    files = _package(crm, outcome)
    data = json.loads(files["data.json"])
    assert set(data) == {"crm:customers", "crm:orders", "crm:invoices"}
    (me,) = data["crm:customers"]
    assert (me["email"], me["name"]) == ("grace@crm.example", NAMES[2])
    assert me["phone"] == "+44 7700 900122"
    assert me["profile"] == {"nickname": "Gra", "address": {"city": "Zürich"}}
    assert date.fromisoformat(me["birth_date"]) == date(1982, 4, 12)
    assert Decimal(str(me["credit_limit"])) == Decimal("2234.50")
    assert sorted(o.get("ship_name") or "" for o in data["crm:orders"]) == ["", NAMES[2]]
    assert [i["billing_name"] for i in data["crm:invoices"]] == [NAMES[2]] * 2
    everything = b"".join(files.values())
    assert not any(n.encode() in everything for n in ("Ada", "Alan", "ada@", "alan@"))
    assert crm.rows() == before


def test_portability_has_data_json_and_a_csv_per_collection(crm: Crm) -> None:
    outcome = crm.run("portability")
    _completed(outcome)
    files = _package(crm, outcome)
    assert {"data.json", "manifest.json", "csv/crm.customers.csv", "csv/crm.orders.csv",
            "csv/crm.invoices.csv"} <= set(files)  # fmt: skip
    table = list(csv.DictReader(io.StringIO(files["csv/crm.customers.csv"].decode())))
    assert len(table) == 1
    assert (table[0]["name"], table[0]["profile.address.city"]) == (NAMES[2], "Zürich")
    orders = list(csv.DictReader(io.StringIO(files["csv/crm.orders.csv"].decode())))
    assert sorted(r["ship_name"] for r in orders) == ["", NAMES[2]]
    assert json.loads(files["data.json"])["crm:customers"][0]["email"] == "grace@crm.example"


def test_erasure_masks_keeps_and_receipts(crm: Crm) -> None:
    before = crm.rows()
    outcome = crm.run("erasure", "erase_account")
    _completed(outcome)
    checks = {
        "customers.email": _text_check(r"erased-[a-z2-7]{13}"),
        "customers.phone": _is(None),
        "customers.profile.address.city": _is(None),
        **{where: _is("MASKED") for where in NAMES_AT},
        "customers.birth_date": lambda old, new: _equal(new, old.replace(month=1, day=1)),
    }
    assert_changes(before, crm.rows(), checks, gone=set())
    customers, orders, invoices = (
        _line(outcome.receipt, c) for c in ("customers", "orders", "invoices")
    )
    assert (customers.action, customers.rows_found, customers.rows_masked) == ("mask", 1, 1)
    assert (orders.action, orders.rows_found, orders.rows_masked) == ("mask", 2, 1)
    assert (invoices.action, invoices.rows_kept, invoices.rows_masked) == ("keep", 2, 0)
    assert invoices.exemption is not None
    assert invoices.exemption.legal_basis == BASIS
    assert BASIS in (invoices.kept_reason or "")


def _equal(new: Any, want: Any) -> None:
    assert new == want, (new, want)


def _becomes(value: Any) -> Check:
    return lambda _old, new: _equal(new, value)


def test_rectification_writes_the_new_values(crm: Crm) -> None:
    before = crm.rows()
    corrections = {
        "crm:customers.name": "Grace B. Hopper",
        "crm:customers.birth_date": "1906-12-09",
        "crm:orders.ship_name": "G. Hopper",
    }
    outcome = crm.run("rectification", corrections=corrections)
    _completed(outcome)
    checks = {
        "customers.name": _becomes("Grace B. Hopper"),
        "customers.birth_date": _becomes(date(1906, 12, 9)),
        "orders.ship_name": _becomes("G. Hopper"),
    }
    assert_changes(before, crm.rows(), checks, gone=set())
    customers, orders = _line(outcome.receipt, "customers"), _line(outcome.receipt, "orders")
    assert (customers.action, customers.rows_updated) == ("rectify", 1)
    assert (orders.action, orders.rows_updated) == ("rectify", 2)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("customers.name", 4242),
        ("customers.name", "G" * 81),  # longer than the column
        ("customers.credit_limit", "lots"),
        ("customers.birth_date", "someday"),  # checked against the DATE column
    ],
)
def test_a_correction_of_the_wrong_type_is_refused_naming_the_field(
    crm: Crm, field: str, value: object
) -> None:
    with pytest.raises(InvalidInput) as refused:
        crm.run("rectification", corrections={f"crm:{field}": value})
    assert refused.value.field == f"corrections.crm:{field}"
    assert str(value) not in str(refused.value)


def test_restriction_flags_the_subjects_rows_only(crm: Crm) -> None:
    before = crm.rows()
    outcome = crm.run("restriction")
    _completed(outcome)
    flagged = {f"{t}.restricted": _becomes(True)
               for t in ("customers", "orders", "invoices")}  # fmt: skip
    assert_changes(before, crm.rows(), flagged, gone=set())
    for collection, rows in (("customers", 1), ("orders", 2), ("invoices", 2)):
        line = _line(outcome.receipt, collection)
        assert (line.action, line.rows_updated) == ("restrict", rows)


# -- masking strategies ----------------------------------------------------------------------


def _revealed(outcome: Outcome) -> Check:
    def check(old: Any, new: Any) -> None:
        if old is None:
            assert new is None
            return
        assert new.startswith("enc:v1:")
        assert reveal(new, outcome.keys) == old

    return check


STRATEGIES: dict[str, Callable[[Outcome], dict[str, Check]]] = {
    "erase_null": lambda _: {"customers.phone": _is(None)},
    "erase_fixed": lambda _: {"customers.email": _text_check(r"erased-[a-z2-7]{13}")},
    "erase_random": lambda _: {
        where: _text_check("[A-Za-z0-9]+", same_length=True) for where in NAMES_AT
    },
    "erase_hash": lambda _: {where: _text_check("[0-9a-f]{1,80}") for where in NAMES_AT},
    "erase_encrypt": lambda outcome: dict.fromkeys(NAMES_AT, _revealed(outcome)),
    "erase_generalize": lambda _: {
        "customers.birth_date": lambda old, new: _equal(new, old.replace(day=1)),
        "customers.credit_limit": _becomes(Decimal("2000.00")),
    },
}


@pytest.mark.parametrize("policy", sorted(STRATEGIES))
def test_each_masking_strategy(crm: Crm, policy: str) -> None:
    before = crm.rows()
    outcome = crm.run("erasure", policy)
    _completed(outcome)
    after = crm.rows()
    assert_changes(before, after, STRATEGIES[policy](outcome), gone=set())
    customers = _line(outcome.receipt, "customers")
    assert (customers.action, customers.rows_found, customers.rows_masked) == ("mask", 1, 1)
    if policy == "erase_hash":  # keyed, so equal inputs stay joinable: the same name, one hash
        mine = after["orders"][(SUBJECT, 1)]["ship_name"]
        assert after["customers"][(SUBJECT,)]["name"] == mine
    if policy in ("erase_random", "erase_hash", "erase_encrypt"):
        invoices = _line(outcome.receipt, "invoices")
        assert (invoices.action, invoices.rows_kept, invoices.exemption.legal_basis) == (
            "keep", 2, BASIS)  # fmt: skip


def test_the_delete_strategy_deletes_rows_and_what_depends_on_them(crm: Crm) -> None:
    before = crm.rows()
    outcome = crm.run("erasure", "erase_delete")
    _completed(outcome)
    detached = {"invoices.customer_id": _is(None)}  # kept under the exemption, detached
    assert_changes(before, crm.rows(), detached, gone={"customers", "orders", "order_lines"})
    counts = {c: _line(outcome.receipt, c) for c in ("customers", "orders", "order_lines")}
    deleted = {c: (ln.action, ln.rows_deleted) for c, ln in counts.items()}
    assert deleted == {"customers": ("delete", 1), "orders": ("delete", 2),
                       "order_lines": ("delete", 4)}  # fmt: skip
    # No targeted data there under this policy: a `read` line, counting the detached rows.
    invoices = _line(outcome.receipt, "invoices")
    assert (invoices.action, invoices.rows_found, invoices.rows_masked) == ("read", 2, 2)
    assert invoices.recheck == "verified"
    assert [(f.field, f.strategy) for f in invoices.fields] == [("customer_id", "detached")]


# -- the database changed under the data map ------------------------------------------------------


@pytest.mark.parametrize(("kind", "policy"), [("access", None), ("erasure", "erase_null")])
def test_a_dropped_annotated_column_fails_the_request_naming_it(
    crm: Crm, kind: str, policy: str | None
) -> None:
    with crm.target.engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE customers DROP COLUMN phone"))
    crm.metadata = sa.MetaData()
    crm.metadata.reflect(crm.target.engine)
    before = crm.rows()
    outcome = crm.run(kind, policy)
    assert outcome.status == "failed"
    assert "crm:customers" in (outcome.failure or "")
    assert "phone" in (outcome.failure or "")
    assert crm.rows() == before
