"""A fideslang dataset drafted from a database schema, as a YAML-ready document (a dict).

Pure. Structural facts come from the schema (`data_type`, `length`, `primary_key`, foreign keys
as `references`, and `fides_meta.rightsflow.{nullable, unique, db_type}`); data categories and
identities are suggestions (`suggest`), each marked `fides_meta.rightsflow.review` until a
human removes the marker. `datamap_merge` folds a fresh draft into an edited file.

Foreign keys are recorded as the dataset's `meta.rightsflow.foreign_keys` (fideslang's free-form
`meta`), so a later merge can tell a reference that came from a foreign key (replaced from the
database) from one a human wrote (kept): both look the same in `references`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import yaml

from rightsflow.domain.db_schema import DbColumn, DbSchema, DbTable
from rightsflow.domain.suggest import suggest

DB_TYPE_MAX = 200  # what `fides_meta.rightsflow.db_type` accepts
ARROW = " -> "
Doc = dict[str, Any]


@dataclass(frozen=True)
class Change:
    """One difference between the map and the database, printable as one line."""

    sign: Literal["+", "-", "~"]
    subject: str  # "table orders", "column orders.total", "reference a.b -> c.d"
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.sign} {self.subject}" + (f": {self.detail}" if self.detail else "")


@dataclass(frozen=True)
class Draft:
    """The document to write, what changed against the file it replaces, and whether that
    file existed (`created`: there was none, so everything is new)."""

    document: Doc
    changes: tuple[Change, ...]
    created: bool

    @property
    def drift(self) -> bool:
        return self.created or bool(self.changes)

    def review_count(self) -> int:
        return sum(1 for f in _all_fields(self.document) if pending_review(f))


def draft_document(schema: DbSchema, key: str) -> Doc:
    """The whole dataset file for `schema`: one dataset `key`, one collection per table."""
    dataset: Doc = {
        "fides_key": key,
        "name": key,
        "description": (
            f"Drafted from a {schema.dialect} database by `rightsflow datamap introspect`; "
            "check every field marked fides_meta.rightsflow.review."
        ),
    }
    record = foreign_key_record(schema)
    if record:
        dataset["meta"] = {"rightsflow": {"foreign_keys": record}}
    tables = sorted(schema.tables, key=lambda t: t.name)
    dataset["collections"] = [draft_collection(table, key) for table in tables]
    return {"dataset": [dataset]}


def draft_collection(table: DbTable, key: str) -> Doc:
    return {"name": table.name, "fields": [draft_field(table, c, key) for c in table.columns]}


def draft_field(table: DbTable, column: DbColumn, key: str) -> Doc:
    suggestion = suggest(table, column)
    meta: Doc = structural_meta(table, column, key)
    if suggestion.identity is not None:
        meta["identity"] = suggestion.identity
    meta["rightsflow"] = {**column_facts(column), "review": suggestion.review}
    return {
        "name": column.name,
        "data_categories": [suggestion.category],
        "fides_meta": order_meta(meta),
    }


def structural_meta(table: DbTable, column: DbColumn, key: str) -> Doc:
    """`data_type`, `length`, `primary_key` and the foreign-key `references` of a column."""
    meta: Doc = {"data_type": column.data_type}
    if column.length is not None:
        meta["length"] = column.length
    if column.primary_key:
        meta["primary_key"] = True
    refs = [fk_reference(key, parent) for parent in table.parents_of(column.name)]
    if refs:
        meta["references"] = refs
    return meta


def column_facts(column: DbColumn) -> Doc:
    return {
        "nullable": column.nullable,
        "unique": column.unique,
        "db_type": column.db_type[:DB_TYPE_MAX],
    }


def fk_reference(key: str, parent: str) -> Doc:
    """The reference a foreign key becomes: values flow from the parent into this column."""
    return {"dataset": key, "field": parent, "direction": "from"}


def foreign_key_record(schema: DbSchema) -> list[str]:
    """`child_table.column -> parent_table.column` for every foreign key column pair, sorted."""
    return sorted(
        f"{t.name}.{c.name}{ARROW}{parent}"
        for t in schema.tables
        for c in t.columns
        for parent in t.parents_of(c.name)
    )


# -- key order: canonical keys first, a human's own keys after them, in their order ----------

_META_FIRST = ("data_type", "length", "primary_key", "identity", "references")
_FIELD_FIRST = ("name", "description", "data_categories")
_FIELD_LAST = ("fides_meta", "fields")
_EXTRAS_FIRST = ("nullable", "unique", "db_type", "review")


def order_meta(meta: Mapping[str, Any]) -> Doc:
    out = ordered(meta, _META_FIRST, ("rightsflow",))
    if isinstance(out.get("rightsflow"), Mapping):
        out["rightsflow"] = ordered(out["rightsflow"], _EXTRAS_FIRST, ())
    return out


def order_field(field: Mapping[str, Any]) -> Doc:
    return ordered(field, _FIELD_FIRST, _FIELD_LAST)


def ordered(mapping: Mapping[str, Any], first: Iterable[str], last: Iterable[str]) -> Doc:
    first, last = tuple(first), tuple(last)
    out = {k: mapping[k] for k in first if k in mapping}
    out.update((k, v) for k, v in mapping.items() if k not in first and k not in last)
    out.update((k, mapping[k]) for k in last if k in mapping)
    return out


# -- reading a document back ----------------------------------------------------------------


def extras_of(field: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = field.get("fides_meta")
    extras = meta.get("rightsflow") if isinstance(meta, Mapping) else None
    return extras if isinstance(extras, Mapping) else {}


def pending_review(field: Mapping[str, Any]) -> bool:
    """Still marked for review: its categories and identity are suggestions, not decisions."""
    return bool(extras_of(field).get("review"))


def _all_fields(document: Mapping[str, Any]) -> Iterable[Mapping[str, Any]]:
    for dataset in document.get("dataset") or ():
        for collection in (dataset or {}).get("collections") or ():
            for field in (collection or {}).get("fields") or ():
                if isinstance(field, Mapping):
                    yield field


# -- YAML ------------------------------------------------------------------------------------


class _Dumper(yaml.SafeDumper):
    """Block style, lists indented under their key, short lists of scalars on one line."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:  # noqa: ARG002
        super().increase_indent(flow, False)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    scalars = all(isinstance(x, str | int | float | bool) for x in data)
    flow = bool(data) and scalars and sum(len(str(x)) + 2 for x in data) <= 60
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_Dumper.add_representer(list, _represent_list)


def dump_yaml(document: object) -> str:
    """Deterministic YAML: same document, same bytes."""
    return yaml.dump(
        document,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=120,
    )
