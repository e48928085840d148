"""Hand-written SQL on the shop database: the baselines the engine is compared with, and the
check that erased customers left nothing behind.

The statements follow the workload's policies (../shared/workloads/shop/README.md): access reads
every user.* field of every table; erasure nulls contact, financial and IP fields and writes
'MASKED' over names and ticket text, keeping purchase history. Customer i has id i and email
customer{i:07d}@shop.example (generate.py). The same statements run on PostgreSQL (psycopg) and
SQLite (sqlite3); `render` turns a template into either dialect, per subject or set-based.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Literal

import psycopg

Dialect = Literal["postgres", "sqlite"]

# {ids} / {emails} become "= one value" or "= ANY(list)" (IN json_each on SQLite).
ACCESS = (
    "SELECT id, email, name, phone FROM customers WHERE email {emails}",
    "SELECT id, street, city FROM addresses WHERE customer_id {ids}",
    "SELECT id, total, created_at FROM orders WHERE customer_id {ids}",
    "SELECT i.id, i.sku, i.qty FROM order_items i JOIN orders o ON o.id = i.order_id "
    "WHERE o.customer_id {ids}",
    "SELECT id, last4, ccn_hash FROM payment_cards WHERE customer_id {ids}",
    "SELECT id, customer_email, ip FROM login_events WHERE customer_email {emails}",
    "SELECT id, customer_email, body FROM support_tickets WHERE customer_email {emails}",
)
ERASE = (
    "UPDATE addresses SET street = NULL, city = NULL WHERE customer_id {ids}",
    "UPDATE payment_cards SET last4 = NULL, ccn_hash = NULL WHERE customer_id {ids}",
    "UPDATE login_events SET customer_email = NULL, ip = NULL WHERE customer_email {emails}",
    "UPDATE support_tickets SET customer_email = NULL, body = 'MASKED' "
    "WHERE customer_email {emails}",
    "UPDATE customers SET email = NULL, name = 'MASKED', phone = NULL WHERE id {ids}",
)
# Rows of the subjects (found by id, as emails are gone afterwards) still holding personal data.
LEFT_BEHIND = {
    "customers": "SELECT count(*) FROM customers WHERE id {ids} "
    "AND (email IS NOT NULL OR name <> 'MASKED' OR phone IS NOT NULL)",
    "addresses": "SELECT count(*) FROM addresses WHERE customer_id {ids} "
    "AND (street IS NOT NULL OR city IS NOT NULL)",
    "payment_cards": "SELECT count(*) FROM payment_cards WHERE customer_id {ids} "
    "AND (last4 IS NOT NULL OR ccn_hash IS NOT NULL)",
    "login_events": "SELECT count(*) FROM login_events WHERE id {login_ids} "
    "AND (customer_email IS NOT NULL OR ip IS NOT NULL)",
    "support_tickets": "SELECT count(*) FROM support_tickets WHERE id {ticket_ids} "
    "AND (customer_email IS NOT NULL OR body <> 'MASKED')",
}
ROW_IDS = {
    "login_ids": "SELECT id FROM login_events WHERE customer_email {emails}",
    "ticket_ids": "SELECT id FROM support_tickets WHERE customer_email {emails}",
}


def email_for(i: int) -> str:
    return f"customer{i:07d}@shop.example"


def render(template: str, dialect: Dialect, *, many: bool) -> str:
    """`{name}` -> a comparison with the parameter `name` in the dialect's style."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        if dialect == "postgres":
            return f"= ANY(%({name})s)" if many else f"= %({name})s"
        return f"IN (SELECT value FROM json_each(:{name}))" if many else f"= :{name}"

    return re.sub(r"\{(\w+)\}", one, template)


def params(dialect: Dialect, values: dict[str, Sequence[Any]], *, many: bool) -> dict[str, Any]:
    """Lists for set-based statements (JSON text on SQLite), the single value otherwise."""
    if not many:
        return {k: v[0] for k, v in values.items()}
    if dialect == "postgres":
        return {k: list(v) for k, v in values.items()}
    return {k: json.dumps(list(v)) for k, v in values.items()}


@dataclass(frozen=True)
class ShopDb:
    """How to reach the target: a psycopg conninfo or a SQLite file path."""

    dialect: Dialect
    where: str

    def connect(self) -> Any:
        if self.dialect == "postgres":
            return psycopg.connect(self.where)
        return sqlite3.connect(self.where, timeout=60)

    @contextmanager
    def session(self) -> Iterator[Any]:
        """A connection, closed at the end (sqlite3's own `with` only commits)."""
        conn = self.connect()
        try:
            yield conn
        finally:
            conn.close()

    def run(self, conn: Any, template: str, values: dict[str, Sequence[Any]], many: bool) -> Any:
        cur = conn.cursor()
        cur.execute(
            render(template, self.dialect, many=many), params(self.dialect, values, many=many)
        )
        return cur


def _subject(i: int) -> dict[str, Sequence[Any]]:
    return {"ids": [i], "emails": [email_for(i)]}


def _group(ids: Sequence[int]) -> dict[str, Sequence[Any]]:
    return {"ids": list(ids), "emails": [email_for(i) for i in ids]}


def access_one(db: ShopDb, conn: Any, i: int) -> int:
    """Every access select for customer i on an open connection; the rows read."""
    return sum(len(db.run(conn, q, _subject(i), False).fetchall()) for q in ACCESS)


def erase_one(db: ShopDb, conn: Any, i: int) -> None:
    """Every erasure statement for customer i in one transaction, committed."""
    for q in ERASE:
        db.run(conn, q, _subject(i), False)
    conn.commit()


def erase_each(db: ShopDb, ids: Sequence[int]) -> float:
    """One subject at a time, each in its own committed transaction, one connection; seconds."""
    start = time.perf_counter()
    with db.session() as conn:
        for i in ids:
            erase_one(db, conn, i)
    return time.perf_counter() - start


def erase_set(db: ShopDb, ids: Sequence[int], chunk: int = 1000) -> tuple[float, int]:
    """Set-based `= ANY(...)` statements over chunks of subjects, one commit each; seconds and
    rows changed."""
    rows = 0
    start = time.perf_counter()
    with db.session() as conn:
        for at in range(0, len(ids), chunk):
            for q in ERASE:
                rows += db.run(conn, q, _group(ids[at : at + chunk]), True).rowcount
            conn.commit()
    return time.perf_counter() - start, rows


def row_ids(db: ShopDb, ids: Sequence[int]) -> dict[str, list[int]]:
    """Ids of the subjects' email-keyed rows, taken before erasing (their email goes)."""
    with db.session() as conn:
        return {
            name: [row[0] for row in db.run(conn, q, _group(ids), True).fetchall()]
            for name, q in ROW_IDS.items()
        }


def left_behind(db: ShopDb, ids: Sequence[int], rows: dict[str, list[int]]) -> dict[str, int]:
    """Per table, rows of these subjects that still hold personal data (all 0 when erased)."""
    values: dict[str, Sequence[Any]] = {"ids": list(ids), **rows}
    with db.session() as conn:
        return {
            table: int(db.run(conn, q, values, True).fetchone()[0])
            for table, q in LEFT_BEHIND.items()
        }


def timed(call: Callable[[], object], repeat: int) -> list[float]:
    """Seconds of each of `repeat` calls."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        out.append(time.perf_counter() - start)
    return out


def add_login_events(db: ShopDb, customer: int, rows: int) -> float:
    """Give customer `customer` `rows` more login_events (a subject with very many rows)."""
    email = email_for(customer)
    if db.dialect == "postgres":
        sql = (
            "INSERT INTO login_events (id, customer_email, ip, ts) "
            "SELECT top.m + g, %(email)s, '10.0.0.1', now() "
            "FROM generate_series(1, %(rows)s) g, (SELECT max(id) m FROM login_events) top"
        )
    else:
        sql = (
            "WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < :rows) "
            "INSERT INTO login_events (id, customer_email, ip, ts) "
            "SELECT (SELECT max(id) FROM login_events) + n, :email, '10.0.0.1', "
            "'2024-01-01T00:00:00+00:00' FROM g"
        )
    start = time.perf_counter()
    with db.session() as conn:
        conn.cursor().execute(sql, {"email": email, "rows": rows})
        conn.commit()
    return time.perf_counter() - start
