"""For tests: an in-memory connector, and the contract every connector must pass.

`run_contract(connector, seed, read_all, chunk_size=...)` seeds a parent/child fixture
(`CONTRACT_COLLECTIONS`; the child has a composite primary key and a foreign key to the parent)
through `seed`, then exercises every Protocol method and checks the results, reading the stored
rows back through `read_all`. The fixture must start empty. A plugin's own test suite can call
it the same way the built-ins' tests do.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict

from rightsflow.connectors.base import ConnectorSpec, check_page_size, key_tuples
from rightsflow.domain.connector import Connector, Row, RowChange, Scalar, rows_written
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import IdentityInput, PlanNode, TargetField
from rightsflow.domain.policy import MaskStrategy

Seed = Callable[[str, list[Row]], None]
ReadAll = Callable[[str], list[Row]]


class InMemoryConnector:
    """Rows in a dict per collection address, with the semantics of a real connector:
    projection to `fetch_fields`, NULL never matches a lookup, dotted lookups walk nested
    dicts (and lists), guarded masks count only rows that changed, deletes count rows that
    existed. Every call is recorded in `calls`; `fail_next` injects failures."""

    def __init__(self, data: Mapping[str, Iterable[Row]] | None = None) -> None:
        self._lock = threading.Lock()
        self._data: dict[str, list[Row]] = {}
        self._failures: list[tuple[str, ConnectorFailure]] = []
        self.calls: list[tuple[str, str]] = []  # (method, collection address)
        self.closed = False
        for address, rows in (data or {}).items():
            self.seed(address, list(rows))

    def seed(self, address: str, rows: list[Row]) -> None:
        with self._lock:
            self._data.setdefault(address, []).extend(copy.deepcopy(rows))

    def rows(self, address: str) -> list[Row]:
        """A copy of every row stored for `address`."""
        with self._lock:
            return copy.deepcopy(self._data.get(address, []))

    def fail_next(self, failure: ConnectorFailure, method: str = "*", times: int = 1) -> None:
        """Make the next `times` calls of `method` (or of any method) raise `failure`."""
        with self._lock:
            self._failures.extend([(method, failure)] * times)

    def retrieve(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> list[Row]:
        with self._enter("retrieve", node):
            return self._find(node, lookups)

    def retrieve_pages(
        self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]], page_size: int
    ) -> Iterator[list[Row]]:
        """The rows `retrieve` returns (found when called), in pages of `page_size`."""
        check_page_size(page_size)
        with self._enter("retrieve_pages", node):
            found = self._find(node, lookups)
        return (found[i : i + page_size] for i in range(0, len(found), page_size))

    def fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        with self._enter("fetch_by_keys", node):
            wanted = set(_key_tuples(node, keys))
            rows = self._data.get(node.address, [])
            return [_project(r, node.fetch_fields) for r in rows if _key(node, r) in wanted]

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        with self._enter("mask", node):
            _key_tuples(node, [change.key for change in changes])  # all valid, or nothing done
            by_key = {_key(node, row): row for row in self._data.get(node.address, [])}
            changed = 0
            for change in changes:
                row = by_key.get(_key_tuples(node, [change.key])[0])
                if row is not None and any(row.get(k) != v for k, v in change.values.items()):
                    row.update(copy.deepcopy(dict(change.values)))
                    changed += 1
            return changed

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> int:
        with self._enter("delete", node):
            wanted = set(_key_tuples(node, keys))
            rows = self._data.get(node.address, [])
            kept = [row for row in rows if _key(node, row) not in wanted]
            self._data[node.address] = kept
            return len(rows) - len(kept)

    def check(self) -> None:
        with self._enter("check", None):
            return

    def close(self) -> None:
        with self._lock:
            self.calls.append(("close", ""))
            self.closed = True

    def _find(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> list[Row]:
        wanted = {name: {v for v in values if v is not None} for name, values in lookups.items()}
        found = [
            row
            for row in self._data.get(node.address, [])
            if any(_path_values(row, name) & values for name, values in wanted.items())
        ]
        return [_project(row, node.fetch_fields) for row in found]

    @contextmanager
    def _enter(self, method: str, node: PlanNode | None) -> Iterator[None]:
        """Lock, record the call, raise an injected failure if one is due."""
        with self._lock:
            self.calls.append((method, node.address if node else ""))
            due = next((i for i, (m, _) in enumerate(self._failures) if m in ("*", method)), None)
            if due is not None:
                raise self._failures.pop(due)[1]
            yield


def _path_values(row: Mapping[str, Any], path: str) -> set[Any]:
    """The scalar values at a dotted path; lists along the way contribute every element."""
    current: list[Any] = [row]
    for part in path.split("."):
        nxt: list[Any] = []
        for item in current:
            for element in item if isinstance(item, list) else [item]:
                if isinstance(element, Mapping) and part in element:
                    nxt.append(element[part])
        current = nxt
    flat = [e for item in current for e in (item if isinstance(item, list) else [item])]
    return {value for value in flat if value is not None and not isinstance(value, dict | list)}


def _project(row: Mapping[str, Any], fields: Sequence[str]) -> Row:
    return {name: copy.deepcopy(row.get(name)) for name in fields}


def _key(node: PlanNode, row: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(row.get(name) for name in node.primary_key)


def _key_tuples(node: PlanNode, keys: Iterable[Mapping[str, Scalar]]) -> list[tuple[Any, ...]]:
    if not node.primary_key:
        raise ConnectorFailure(f"{node.address}: no primary key in the data map", retryable=False)
    return key_tuples(node, keys)


class InMemoryConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def in_memory_spec(shared: InMemoryConnector | None = None) -> ConnectorSpec[InMemoryConfig]:
    """A `memory` connector kind for test registries; every instance is `shared` if given."""

    def factory(_config: InMemoryConfig) -> Connector:
        return shared if shared is not None else InMemoryConnector()

    return ConnectorSpec(
        kind="memory",
        config_model=InMemoryConfig,
        factory=factory,
        capabilities=frozenset({"retrieve", "mask", "delete"}),
        description="In-memory rows, for tests",
    )


# -- the contract --------------------------------------------------------------------------------

PARENT = "contract:customers"
CHILD = "contract:orders"


@dataclass(frozen=True)
class FixtureCollection:
    """A collection of the contract fixture, described without any database types."""

    address: str
    columns: tuple[tuple[str, type[int] | type[str]], ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[tuple[str, str], ...] = ()  # (column, "collection.column")

    @property
    def name(self) -> str:
        return self.address.split(":", 1)[1]


CONTRACT_COLLECTIONS = (
    FixtureCollection(
        PARENT, (("id", int), ("email", str), ("name", str), ("phone", str)), ("id",)
    ),
    FixtureCollection(
        CHILD,
        (("customer_id", int), ("line", int), ("sku", str), ("note", str)),
        ("customer_id", "line"),
        (("customer_id", "customers.id"),),
    ),
)


class ContractViolation(AssertionError):
    """A connector broke the contract."""


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise ContractViolation(message)


def contract_node(address: str, fetch_fields: Sequence[str], action: str = "return") -> PlanNode:
    """A PlanNode for a fixture collection, as the planner would build it."""
    spec = next(c for c in CONTRACT_COLLECTIONS if c.address == address)
    erasing = action in ("mask", "delete")
    return PlanNode(
        address=address,
        system="contract",
        connector="contract",
        wave=0 if address == PARENT else 1,
        primary_key=spec.primary_key,
        identity_inputs=(IdentityInput("email", "email"),) if address == PARENT else (),
        edge_inputs=(),
        targets=(
            TargetField(
                path="name" if address == PARENT else "note",
                categories=("user.name",) if address == PARENT else ("user.content",),
                strategy=MaskStrategy.NULL if erasing else None,
            ),
        ),
        fetch_fields=tuple(fetch_fields),
        action=action,
    )


def contract_rows(customers: int) -> dict[str, list[Row]]:
    parents = [
        {
            "id": i,
            "email": f"user{i}@example.com",
            "name": f"Name {i}",
            "phone": None if i % 5 == 0 else f"+1555{i:04d}",
        }
        for i in range(1, customers + 1)
    ]
    # Every customer has two orders with the same two SKUs: rows differ only by key.
    children = [
        {"customer_id": i, "line": line, "sku": f"SKU-{line}", "note": f"note {i}/{line}"}
        for i in range(1, customers + 1)
        for line in (1, 2)
    ]
    return {PARENT: parents, CHILD: children}


def run_contract(connector: Connector, seed: Seed, read_all: ReadAll, *, chunk_size: int) -> None:
    """Check `connector` against the contract; `chunk_size` is the connector's own setting,
    so that every operation spans several chunks."""
    customers = 2 * chunk_size + 3
    data = contract_rows(customers)
    for address in (PARENT, CHILD):
        seed(address, data[address])
    connector.check()
    _check_retrieve(connector, data)
    _check_retrieve_pages(connector, data, chunk_size)
    _check_fetch_by_keys(connector, data)
    _check_mask(connector, read_all, customers, chunk_size)
    _check_delete(connector, read_all, customers, chunk_size)


def _sorted(rows: Iterable[Row], *fields: str) -> list[Row]:
    return sorted(rows, key=lambda row: tuple(row[f] for f in fields))


def _check_retrieve(connector: Connector, data: Mapping[str, list[Row]]) -> None:
    parent = contract_node(PARENT, ("id", "email", "name"))
    emails: list[Scalar] = [row["email"] for row in data[PARENT]]
    found = connector.retrieve(parent, {"email": [*emails, emails[0], "nobody@example.com"]})
    expected = [{k: row[k] for k in ("id", "email", "name")} for row in data[PARENT]]
    _expect(len(found) == len(expected), f"retrieve by identity: {len(found)} rows")
    _expect(_sorted(found, "id") == _sorted(expected, "id"), "retrieve by identity: wrong rows")
    either = connector.retrieve(parent, {"email": [emails[0]], "id": [1, 2, 10**6]})
    _expect(sorted(r["id"] for r in either) == [1, 2], "lookups on two fields are OR-ed, once")
    ids: list[Scalar] = [row["id"] for row in data[PARENT]]
    orders = connector.retrieve(
        contract_node(CHILD, ("customer_id", "line", "sku")), {"customer_id": ids}
    )
    _expect(len(orders) == len(data[CHILD]), f"retrieve by key values: {len(orders)} rows")
    _expect(all(set(r) == {"customer_id", "line", "sku"} for r in orders), "fetch_fields only")
    skus = connector.retrieve(contract_node(CHILD, ("sku",)), {"customer_id": ids})
    _expect(len(skus) == len(data[CHILD]), "rows equal in fetch_fields must not be merged")
    _expect(all(set(r) == {"sku"} for r in skus), "fetch_fields only, even without the key")
    for lookups in _NO_ROWS:
        _expect(connector.retrieve(parent, lookups) == [], f"no rows for lookups {lookups}")


_NO_ROWS: tuple[dict[str, list[Scalar]], ...] = (
    {},
    {"email": []},
    {"email": [None]},
    {"email": ["nobody@example.com"]},
)


def _check_retrieve_pages(
    connector: Connector, data: Mapping[str, list[Row]], chunk_size: int
) -> None:
    parent = contract_node(PARENT, ("id", "email", "phone"))
    emails: list[Scalar] = [row["email"] for row in data[PARENT]]
    ids: list[Scalar] = [row["id"] for row in data[PARENT]]
    phone = next(row["phone"] for row in data[PARENT] if row["phone"] is not None)
    cases: list[tuple[PlanNode, dict[str, list[Scalar]], tuple[str, ...]]] = [
        (parent, {"email": [*emails, "nobody@example.com"]}, ("id",)),
        # Several fields matching the same rows (some with NULL in the other field), more
        # values than one chunk holds: still each row once.
        (parent, {"phone": [phone], "email": emails}, ("id",)),
        (parent, {"email": emails, "id": [*ids, 10**6]}, ("id",)),
        (
            contract_node(CHILD, ("customer_id", "line", "sku")),
            {"customer_id": ids},
            ("customer_id", "line"),
        ),
    ]
    for node, lookups, key in cases:
        expected = _sorted(connector.retrieve(node, lookups), *key)
        _expect(len(expected) > chunk_size, f"retrieve for {sorted(lookups)}: too few rows")
        for page_size in sorted({1, 2, chunk_size, len(expected) + 1}):
            pages = connector.retrieve_pages(node, lookups, page_size)
            _expect(iter(pages) is pages, "retrieve_pages returns a lazy iterator, not a list")
            where = f"retrieve_pages({sorted(lookups)}, page_size={page_size})"
            sizes = []
            found: list[Row] = []
            for page in pages:
                sizes.append(len(page))
                found.extend(page)
            _expect(all(0 < size <= page_size for size in sizes), f"{where}: page sizes {sizes}")
            keys = [tuple(row[k] for k in key) for row in found]
            _expect(len(set(keys)) == len(keys), f"{where}: a row came twice")
            _expect(_sorted(found, *key) == expected, f"{where}: not the rows retrieve returns")
    skus = list(connector.retrieve_pages(contract_node(CHILD, ("sku",)), {"customer_id": ids}, 3))
    _expect(sum(map(len, skus)) == len(data[CHILD]), "retrieve_pages must not merge equal rows")
    for lookups in _NO_ROWS:
        _expect(list(connector.retrieve_pages(parent, lookups, 5)) == [], f"no pages: {lookups}")


def _check_fetch_by_keys(connector: Connector, data: Mapping[str, list[Row]]) -> None:
    parent = contract_node(PARENT, ("id", "phone"))
    keys: list[Mapping[str, Scalar]] = [{"id": row["id"]} for row in data[PARENT]]
    found = connector.fetch_by_keys(parent, [*keys, keys[0], {"id": 10**6}])
    expected = [{"id": row["id"], "phone": row["phone"]} for row in data[PARENT]]
    _expect(_sorted(found, "id") == _sorted(expected, "id"), "fetch_by_keys: wrong rows")
    child = contract_node(CHILD, ("customer_id", "line", "note"))
    composite: list[Mapping[str, Scalar]] = [
        {"customer_id": row["id"], "line": 2} for row in data[PARENT]
    ]
    lines = connector.fetch_by_keys(child, [*composite, {"customer_id": 1, "line": 3}])
    expected = [
        {k: row[k] for k in ("customer_id", "line", "note")}
        for row in data[CHILD]
        if row["line"] == 2
    ]
    _expect(_sorted(lines, "customer_id") == _sorted(expected, "customer_id"), "composite keys")
    _expect(connector.fetch_by_keys(child, []) == [], "fetch_by_keys with no keys")


def _check_mask(connector: Connector, read_all: ReadAll, customers: int, chunk: int) -> None:
    node = contract_node(PARENT, ("id",), action="mask")
    masked = {"name": "[masked]", "phone": None}
    many = chunk + 2
    one = rows_written(connector.mask(node, [RowChange({"id": 1}, masked)]))
    _expect(one == 1, f"mask one row: count {one}")
    changes = [RowChange({"id": i}, masked) for i in range(1, many + 1)]
    changes += [RowChange({"id": i}, {"email": f"erased-{i}@invalid"}) for i in (2, 3)]
    changes.append(RowChange({"id": 10**6}, masked))
    count = rows_written(connector.mask(node, changes))
    _expect(count == many - 1 + 2, f"mask counts rows that changed: {count} != {many + 1}")
    before = _sorted(read_all(PARENT), "id")
    _expect(len(before) == customers, "mask must not add or remove rows")
    for row in before:
        is_masked = row["id"] <= many
        _expect((row["name"] == "[masked]") == is_masked, f"name of row {row['id']}")
        _expect(not is_masked or row["phone"] is None, f"phone of row {row['id']}")
    erased = {row["id"]: row["email"] for row in before if row["email"].startswith("erased-")}
    _expect(erased == {2: "erased-2@invalid", 3: "erased-3@invalid"}, "other values groups")
    again = rows_written(connector.mask(node, changes))
    _expect(again == 0, f"mask applied twice changes nothing the second time: {again}")
    _expect(_sorted(read_all(PARENT), "id") == before, "a repeated mask leaves data identical")
    child = contract_node(CHILD, ("note",), action="mask")
    notes = [RowChange({"customer_id": i, "line": 1}, {"note": None}) for i in range(1, many + 1)]
    _expect(rows_written(connector.mask(child, notes)) == many, "mask on a composite key")
    _expect(rows_written(connector.mask(child, notes)) == 0, "mask on a composite key, twice")
    _expect(rows_written(connector.mask(child, [])) == 0, "mask with no changes")


def _check_delete(connector: Connector, read_all: ReadAll, customers: int, chunk: int) -> None:
    gone = range(1, chunk + 2)
    child = contract_node(CHILD, ("customer_id",), action="delete")
    child_keys: list[Mapping[str, Scalar]] = [
        {"customer_id": i, "line": line} for i in gone for line in (1, 2)
    ]
    missing: Mapping[str, Scalar] = {"customer_id": 10**6, "line": 1}
    deleted = rows_written(connector.delete(child, [*child_keys, missing]))
    _expect(deleted == len(child_keys), f"delete children: count {deleted}")
    _expect(
        rows_written(connector.delete(child, child_keys)) == 0, "delete is idempotent (children)"
    )
    parent = contract_node(PARENT, ("id",), action="delete")
    keys: list[Mapping[str, Scalar]] = [{"id": i} for i in gone]
    _expect(rows_written(connector.delete(parent, keys)) == len(keys), "delete parents: count")
    _expect(rows_written(connector.delete(parent, keys)) == 0, "delete is idempotent (parents)")
    _expect(rows_written(connector.delete(parent, [])) == 0, "delete with no keys")
    left = {row["id"] for row in read_all(PARENT)}
    _expect(left == set(range(len(gone) + 1, customers + 1)), "the right parents were deleted")
    _expect(len(read_all(CHILD)) == 2 * (customers - len(gone)), "the right children remain")
    _expect(connector.fetch_by_keys(parent, keys) == [], "deleted rows are not fetched")
    emails: list[Scalar] = [f"user{i}@example.com" for i in gone]
    _expect(connector.retrieve(parent, {"email": emails}) == [], "deleted rows are not found")
