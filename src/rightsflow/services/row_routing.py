"""Rows read for many subjects at once, routed back to the subjects they belong to.

Coalesced steps and bulk jobs ask a connector once for the union of every subject's lookup
values; each row that comes back is handed to every subject whose own lookup matches it (a
row two subjects share goes to both), so no subject sees, erases or counts another's rows.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping
from typing import Any, Generic, TypeVar

from rightsflow.domain.connector import Row, Scalar
from rightsflow.services.lookups import Lookup, normalised

K = TypeVar("K", bound=Hashable)


def lookup_of(values: Mapping[str, Iterable[Scalar]]) -> Lookup:
    """A lookup by single fields only (e.g. identities, or keys found upstream)."""
    wanted = {f: sorted(set(v), key=repr) for f, v in values.items()}
    wanted = {f: v for f, v in wanted.items() if v}
    return Lookup(wanted, {f: {normalised(x) for x in v} for f, v in wanted.items()})


def value_at(row: Row, name: str) -> Any:
    """A field's value; a dotted name (a lookup on a nested field) walks the document."""
    if name in row or "." not in name:
        return row.get(name)
    value: Any = row
    for part in name.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class RowRouter(Generic[K]):
    """Which members a row belongs to, by the values their lookups hold."""

    def __init__(self) -> None:
        self._members: list[K] = []
        self._values: dict[str, set[Scalar]] = {}
        self._singles: dict[str, dict[str, list[K]]] = {}
        self._pairs: dict[tuple[str, ...], dict[tuple[str, ...], list[K]]] = {}

    def add(self, member: K, lookup: Lookup) -> None:
        self._members.append(member)
        for name, values in lookup.values.items():
            self._values.setdefault(name, set()).update(values)
        for name, normals in lookup.singles.items():
            index = self._singles.setdefault(name, {})
            for value in normals:
                index.setdefault(value, []).append(member)
        for names, tuples in lookup.pairs:
            pairs = self._pairs.setdefault(names, {})
            for key in tuples:
                pairs.setdefault(key, []).append(member)

    @property
    def members(self) -> list[K]:
        return list(self._members)

    def values(self) -> dict[str, list[Scalar]]:
        """The union of every member's lookup values: what the connector is asked for."""
        return {f: sorted(v, key=repr) for f, v in self._values.items() if v}

    def route(self, row: Row) -> list[K]:
        """The members this row belongs to, each once, in the order they were added."""
        found: dict[K, None] = {}
        for name, index in self._singles.items():
            value = value_at(row, name)
            for item in value if isinstance(value, list) else [value]:
                for member in index.get(normalised(item), ()):
                    found[member] = None
        for names, pairs in self._pairs.items():
            key = tuple(normalised(value_at(row, n)) for n in names)
            for member in pairs.get(key, ()):
                found[member] = None
        return list(found)

    def split(self, rows: Iterable[Row]) -> dict[K, list[Row]]:
        """Every member's rows (members without any get an empty list)."""
        out: dict[K, list[Row]] = {m: [] for m in self._members}
        for row in rows:
            for member in self.route(row):
                out[member].append(row)
        return out
