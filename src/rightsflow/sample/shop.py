"""The demo's "shop" sample: a synthetic e-commerce database and its data map.

`create_shop_sqlite` writes the same schema and rows as the shared benchmark generator
(`workloads/shop/generate.py --sqlite`): the same random draws in the same order, so the same
(customers, seed) always gives the same data, and customer *i* has the email `email_for(i)`.
About 20 rows per customer over seven tables.

This module is deliberately self-contained: it imports nothing else from rightsflow.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

TABLES: dict[str, tuple[str, ...]] = {
    "customers": ("id", "email", "name", "phone", "created_at"),
    "addresses": ("id", "customer_id", "street", "city"),
    "orders": ("id", "customer_id", "total", "created_at"),
    "order_items": ("id", "order_id", "sku", "qty"),
    "payment_cards": ("id", "customer_id", "last4", "ccn_hash"),
    "login_events": ("id", "customer_email", "ip", "ts"),
    "support_tickets": ("id", "customer_email", "body"),
}

# generate.py's schema with SQLite types: timestamptz -> text (ISO-8601), numeric(10,2) -> numeric.
SCHEMA = """
CREATE TABLE customers (
    id          integer PRIMARY KEY,
    email       text UNIQUE,
    name        text,
    phone       text,
    created_at  text NOT NULL,
    -- set by restriction-of-processing requests; other systems must honour it
    processing_restricted integer NOT NULL DEFAULT 0
);
CREATE TABLE addresses (
    id          integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers(id),
    street      text,
    city        text
);
CREATE TABLE orders (
    id          integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers(id),
    total       numeric NOT NULL,
    created_at  text NOT NULL
);
CREATE TABLE order_items (
    id          integer PRIMARY KEY,
    order_id    integer NOT NULL REFERENCES orders(id),
    sku         text NOT NULL,
    qty         integer NOT NULL
);
CREATE TABLE payment_cards (
    id          integer PRIMARY KEY,
    customer_id integer NOT NULL REFERENCES customers(id),
    last4       text,
    ccn_hash    text
);
CREATE TABLE login_events (
    id              integer PRIMARY KEY,
    customer_email  text,
    ip              text,
    ts              text NOT NULL
);
CREATE TABLE support_tickets (
    id              integer PRIMARY KEY,
    customer_email  text,
    body            text
);
"""

INDEXES = """
CREATE INDEX addresses_customer_id_idx      ON addresses(customer_id);
CREATE INDEX orders_customer_id_idx         ON orders(customer_id);
CREATE INDEX order_items_order_id_idx       ON order_items(order_id);
CREATE INDEX payment_cards_customer_id_idx  ON payment_cards(customer_id);
CREATE INDEX login_events_customer_email_idx    ON login_events(customer_email);
CREATE INDEX support_tickets_customer_email_idx ON support_tickets(customer_email);
"""

FIRST = ["Ada", "Alan", "Grace", "Linus", "Barbara", "Edsger", "Donald", "Margaret",
         "Ken", "Dennis", "Frances", "John", "Radia", "Tim", "Sophie", "Niklaus",
         "Leslie", "Shafi", "Whitfield", "Hedy"]  # fmt: skip
LAST = ["Lovelace", "Turing", "Hopper", "Torvalds", "Liskov", "Dijkstra", "Knuth",
        "Hamilton", "Thompson", "Ritchie", "Allen", "McCarthy", "Perlman", "Berners-Lee",
        "Wilson", "Wirth", "Lamport", "Goldwasser", "Diffie", "Lamarr"]  # fmt: skip
STREETS = ["High St", "Station Rd", "Main St", "Church Ln", "Park Ave", "Mill Rd",
           "Victoria Rd", "Green Ln", "Kings Rd", "Queen St"]  # fmt: skip
CITIES = ["London", "Berlin", "Paris", "Madrid", "Rome", "Dublin", "Lisbon",
          "Vienna", "Prague", "Warsaw", "Oslo", "Helsinki"]  # fmt: skip
TICKET = ["My order has not arrived", "Please update my delivery address",
          "I was charged twice", "How do I reset my password?",
          "The item arrived damaged", "Can I change my payment card?"]  # fmt: skip

EPOCH = datetime(2022, 1, 1, tzinfo=UTC)
_DAY = 86400
_IP_PARTS = ((1, 223), (0, 255), (0, 255), (1, 254))  # login_events.ip octet ranges
_CHUNK = 1000  # customers generated and inserted per batch, to keep memory flat

SYSTEMS_TEMPLATE = """\
systems:
  - key: shop
    connector: sql
    datasets: [shop]
    config:
      url: {url}
"""

Row = tuple[Any, ...]


def email_for(i: int) -> str:
    """The email of customer *i* (1-based)."""
    return f"customer{i:07d}@shop.example"


class _ShopRows:
    """Rows drawn exactly as generate.py draws them; ids count from 1 per table.

    Values keep generate.py's shapes: text columns get text, `total` gets its two-decimal
    string (SQLite's numeric affinity stores it as a number, as generate.py's load does).
    """

    def __init__(self, seed: int) -> None:
        self.rnd = random.Random(seed)
        self.rows: dict[str, list[Row]] = {t: [] for t in TABLES}
        self.counts: dict[str, int] = dict.fromkeys(TABLES, 0)

    def add(self, table: str, *values: Any) -> int:
        self.counts[table] += 1
        self.rows[table].append((self.counts[table], *values))
        return self.counts[table]

    def take(self) -> dict[str, list[Row]]:
        rows, self.rows = self.rows, {t: [] for t in TABLES}
        return rows

    def customer(self, i: int) -> None:
        rnd, email = self.rnd, email_for(i)
        created = EPOCH + timedelta(seconds=rnd.randrange(0, 3 * 365 * _DAY))
        name = f"{rnd.choice(FIRST)} {rnd.choice(LAST)}"
        phone = f"+44 7{rnd.randrange(0, 10**9):09d}"
        self.add("customers", email, name, phone, created.isoformat())
        for _ in range(rnd.randint(1, 2)):
            street = f"{rnd.randint(1, 250)} {rnd.choice(STREETS)}"
            self.add("addresses", i, street, rnd.choice(CITIES))
        for _ in range(rnd.randint(0, 6)):
            self._order(i, created)
        for _ in range(rnd.randint(1, 2)):
            ccn = "4" + "".join(str(rnd.randrange(10)) for _ in range(15))
            self.add("payment_cards", i, ccn[-4:], hashlib.sha256(ccn.encode()).hexdigest())
        for _ in range(rnd.randint(0, 10)):
            ip = ".".join(str(rnd.randint(lo, hi)) for lo, hi in _IP_PARTS)
            self.add("login_events", email, ip, self._later(created))
        for _ in range(rnd.randint(0, 2)):
            body = f"{rnd.choice(TICKET)} (ref {rnd.randrange(10**6):06d})"
            self.add("support_tickets", email, body)

    def _order(self, customer_id: int, created: datetime) -> None:
        rnd = self.rnd
        items = [
            (f"SKU-{rnd.randrange(0, 5000):05d}", rnd.randint(1, 5))
            for _ in range(rnd.randint(1, 4))
        ]
        total = sum(q * rnd.randint(199, 9999) for _, q in items) / 100
        order_id = self.add("orders", customer_id, f"{total:.2f}", self._later(created))
        for sku, qty in items:
            self.add("order_items", order_id, sku, qty)

    def _later(self, created: datetime) -> str:
        return (created + timedelta(seconds=self.rnd.randrange(0, 365 * _DAY))).isoformat()


def create_shop_sqlite(path: Path, customers: int = 3000, seed: int = 42) -> dict[str, int]:
    """Write the shop database to `path` (replacing it atomically); return rows per table."""
    if customers < 0:
        raise ValueError("customers must be >= 0")
    with _replacing(Path(path)) as tmp:
        conn = sqlite3.connect(tmp)
        try:
            conn.execute("PRAGMA journal_mode = OFF")  # a scratch file: the rename is the commit
            conn.execute("PRAGMA synchronous = OFF")
            conn.executescript(SCHEMA)
            counts = _fill(conn, customers, seed)
            conn.executescript(INDEXES)
            conn.commit()
        finally:
            conn.close()
    return counts


def _fill(conn: sqlite3.Connection, customers: int, seed: int) -> dict[str, int]:
    rows = _ShopRows(seed)
    for start in range(1, customers + 1, _CHUNK):
        for i in range(start, min(start + _CHUNK, customers + 1)):
            rows.customer(i)
        _insert(conn, rows.take())
    return dict(rows.counts)


def _insert(conn: sqlite3.Connection, batch: dict[str, list[Row]]) -> None:
    for table, rows in batch.items():
        cols = TABLES[table]
        marks = ", ".join("?" * len(cols))
        conn.executemany(f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks})", rows)


def shop_dataset_yaml() -> str:
    """The packaged fideslang dataset (fides_key `shop`) describing the shop database."""
    return resources.files("rightsflow.sample").joinpath("shop.yml").read_text(encoding="utf-8")


def write_shop_datamap(mapdir: Path, db_path: Path) -> None:
    """Write `mapdir/shop.yml` (the dataset) and `mapdir/systems.yml` (one sql system)."""
    mapdir = Path(mapdir)
    mapdir.mkdir(parents=True, exist_ok=True)
    for name, text in (
        ("shop.yml", shop_dataset_yaml()),
        ("systems.yml", _systems_yaml(Path(db_path))),
    ):
        with _replacing(mapdir / name) as tmp:
            tmp.write_text(text, encoding="utf-8")


def _systems_yaml(db_path: Path) -> str:
    url = f"sqlite:///{db_path.resolve()}"
    text = SYSTEMS_TEMPLATE.format(url=url)
    if yaml.safe_load(text)["systems"][0]["config"]["url"] != url:
        text = SYSTEMS_TEMPLATE.format(url=json.dumps(url))  # odd path: quote it
    return text


@contextmanager
def _replacing(path: Path) -> Iterator[Path]:
    """Yield a scratch file next to `path`; on success sync it and rename it over `path`.

    A crash or an exception leaves `path` as it was (and removes the scratch file).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(0o644)
        _fsync(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync(path.parent)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
