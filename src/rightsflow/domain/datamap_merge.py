"""Fold a fresh draft of the database into a dataset file a human has edited, listing changes.

Pure. The database owns the structure: `data_type`, `length`, `primary_key`, the foreign-key
`references` and `fides_meta.rightsflow.{nullable, unique, db_type}`. The human owns the rest:
data categories and identity of every field no longer marked `review`, descriptions,
collection-level `fides_meta`, other `rightsflow` keys and references that are not foreign keys.
Fields still marked `review` get fresh suggestions. Tables and columns gone from the database
are dropped, and the change list says which annotations went with them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rightsflow.domain.datamap_draft import (
    ARROW,
    Change,
    Doc,
    Draft,
    column_facts,
    draft_collection,
    draft_document,
    draft_field,
    extras_of,
    foreign_key_record,
    order_field,
    order_meta,
    ordered,
    pending_review,
    structural_meta,
)
from rightsflow.domain.db_schema import DbColumn, DbSchema, DbTable
from rightsflow.domain.errors import InvalidInput

_DROPPED = "removed from the database; its annotations are dropped"


def merge_document(existing: object, schema: DbSchema, key: str) -> Draft:
    """`existing` is the parsed YAML of the current file, or None when there is none."""
    fresh = draft_document(schema, key)
    if existing is None:
        return Draft(fresh, (), created=True)
    if not isinstance(existing, Mapping) or not isinstance(existing.get("dataset"), list):
        raise InvalidInput("expected a top-level `dataset:` list (fideslang)")
    datasets: list[Any] = list(existing["dataset"])
    index = next(
        (i for i, d in enumerate(datasets) if isinstance(d, Mapping) and d.get("fides_key") == key),
        None,
    )
    if index is None:
        raise InvalidInput(f"holds no dataset with fides_key {key!r}")
    merger = _Merger(schema, key, datasets[index])
    datasets[index] = merger.dataset()
    return Draft({**existing, "dataset": datasets}, tuple(merger.changes), created=False)


class _Merger:
    def __init__(self, schema: DbSchema, key: str, old: Mapping[str, Any]) -> None:
        self.schema, self.key, self.old = schema, key, old
        self.changes: list[Change] = []
        self.old_collections = _named(old.get("collections"))
        meta = old.get("meta")
        extras = meta.get("rightsflow") if isinstance(meta, Mapping) else None
        recorded = extras.get("foreign_keys") if isinstance(extras, Mapping) else None
        self.recorded = {r for r in recorded or () if isinstance(r, str)}
        self.old_fks: set[str] = set()  # foreign keys the old map had, recorded or present
        self.both: set[str] = set()  # `table.column` in the old map and the database
        in_db = {f"{t.name}.{c.name}" for t in schema.tables for c in t.columns}
        self.removed = {
            f"{table}.{name}"
            for table, collection in self.old_collections.items()
            for name in _named(collection.get("fields"))
        } - in_db

    def dataset(self) -> Doc:
        names = sorted(set(self.old_collections) | {t.name for t in self.schema.tables})
        collections = []
        for name in names:
            table, prev = self.schema.table(name), self.old_collections.get(name)
            if table is None:
                self.changes.append(Change("-", f"table {name}", _table_annotations(prev or {})))
            elif prev is None:
                self.changes.append(Change("+", f"table {name}", f"{len(table.columns)} columns"))
                collections.append(draft_collection(table, self.key))
            else:
                collections.append(self._collection(prev, table))
        self._foreign_key_changes()
        out = dict(self.old)
        _set(out, "meta", _with_record(out.get("meta"), foreign_key_record(self.schema)))
        out["collections"] = collections
        return ordered(out, ("fides_key", "name", "description"), ("meta", "collections"))

    def _collection(self, prev: Mapping[str, Any], table: DbTable) -> Doc:
        old_fields = _named(prev.get("fields"))
        fields = []
        for column in table.columns:
            field = old_fields.get(column.name)
            where = f"{table.name}.{column.name}"
            if field is None:
                self.changes.append(Change("+", f"column {where}", column.db_type))
                fields.append(draft_field(table, column, self.key))
            else:
                self.both.add(where)
                fields.append(self._field(_normalised(field), table, column))
        for name, field in old_fields.items():
            if table.column(name) is None:
                detail = f"{_DROPPED}: {_annotations(field)}"
                self.changes.append(Change("-", f"column {table.name}.{name}", detail))
        return ordered(
            {**prev, "fields": fields}, ("name", "description"), ("fides_meta", "fields")
        )

    def _field(self, prev: Mapping[str, Any], table: DbTable, column: DbColumn) -> Doc:
        old_meta = prev.get("fides_meta")
        old_meta = old_meta if isinstance(old_meta, Mapping) else {}
        facts = structural_meta(table, column, self.key)
        meta = dict(old_meta)
        for name in ("data_type", "length", "primary_key"):
            _set(meta, name, facts.get(name))
        if prev.get("fields"):  # a human described nested fields: fideslang wants an object
            meta["data_type"] = "object"
        refs = self._references(table.name, column.name, old_meta.get("references"), facts)
        _set(meta, "references", refs or None)
        extras = {**extras_of(prev), **column_facts(column)}
        out = dict(prev)
        if pending_review(prev):
            fresh = draft_field(table, column, self.key)
            out["data_categories"] = fresh["data_categories"]
            _set(meta, "identity", fresh["fides_meta"].get("identity"))
            extras["review"] = fresh["fides_meta"]["rightsflow"]["review"]
        meta["rightsflow"] = extras
        out["fides_meta"] = order_meta(meta)
        self._fact_changes(f"{table.name}.{column.name}", old_meta, out["fides_meta"])
        return order_field(out)

    def _references(
        self, table: str, column: str, old: object, facts: Mapping[str, Any]
    ) -> list[Any]:
        """The human's references, then the column's foreign keys (which replace their own
        earlier copies). A reference into a removed column of this dataset is dropped."""
        fks: list[Doc] = list(facts.get("references") or ())
        targets = {r["field"] for r in fks}
        kept: list[Any] = []
        for ref in old if isinstance(old, list) else ():
            target = ref.get("field") if isinstance(ref, Mapping) else None
            own = isinstance(ref, Mapping) and ref.get("dataset") == self.key
            if not own or not isinstance(target, str):
                kept.append(ref)
                continue
            line = f"{table}.{column}{ARROW}{target}"
            from_fk = ref.get("direction") == "from"
            if from_fk and target in targets:
                self.old_fks.add(line)
            elif from_fk and line in self.recorded:
                pass  # a foreign key that is gone: listed by _foreign_key_changes
            elif ".".join(target.split(".")[:2]) in self.removed:
                self.changes.append(
                    Change(
                        "-", f"reference {line}", "its target was removed; the reference is dropped"
                    )
                )
            else:
                kept.append(ref)
        return kept + fks

    def _fact_changes(self, where: str, old: Mapping[str, Any], new: Mapping[str, Any]) -> None:
        was, now = _facts(old), _facts(new)
        diffs = [
            f"{name} {_show(was[name])} -> {_show(now[name])}"
            for name in was
            if was[name] != now[name]
        ]
        if diffs:
            self.changes.append(Change("~", f"column {where}", ", ".join(diffs)))

    def _foreign_key_changes(self) -> None:
        """Foreign keys added or dropped on columns both sides know (new and removed columns
        have their own line)."""
        new = set(foreign_key_record(self.schema))
        old = self.recorded | self.old_fks
        for line in sorted(new - old):
            if line.split(ARROW)[0] in self.both:
                self.changes.append(Change("+", f"reference {line}", "new foreign key"))
        for line in sorted(old - new):
            if line.split(ARROW)[0] in self.both:
                self.changes.append(
                    Change("-", f"reference {line}", "the foreign key is gone; reference dropped")
                )


def _facts(meta: Mapping[str, Any]) -> dict[str, object]:
    extras = extras_of({"fides_meta": meta})
    return {
        "data_type": meta.get("data_type"),
        "length": meta.get("length"),
        "primary key": bool(meta.get("primary_key")),
        "nullable": extras.get("nullable"),
        "unique": bool(extras.get("unique")),
        "db_type": extras.get("db_type"),
    }


def _show(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _named(items: object) -> dict[str, Mapping[str, Any]]:
    """Mappings with a string `name`, by name (the first one wins); others are ignored."""
    out: dict[str, Mapping[str, Any]] = {}
    for item in items if isinstance(items, list) else ():
        if isinstance(item, Mapping) and isinstance(item.get("name"), str):
            out.setdefault(item["name"], item)
    return out


def _normalised(field: Mapping[str, Any]) -> Mapping[str, Any]:
    """Fides' older `fidesops_meta` key read as `fides_meta`, so there is only one of them."""
    if "fidesops_meta" in field and "fides_meta" not in field:
        return {("fides_meta" if k == "fidesops_meta" else k): v for k, v in field.items()}
    return field


def _set(mapping: dict[str, Any], key: str, value: object) -> None:
    if value is None:
        mapping.pop(key, None)
    else:
        mapping[key] = value


def _with_record(meta: object, record: list[str]) -> Doc | None:
    """The dataset's `meta` with `rightsflow.foreign_keys` set to `record` (None if empty)."""
    out = dict(meta) if isinstance(meta, Mapping) else {}
    extras = out.get("rightsflow")
    extras = dict(extras) if isinstance(extras, Mapping) else {}
    _set(extras, "foreign_keys", record or None)
    _set(out, "rightsflow", extras or None)
    return out or None


def _annotations(field: Mapping[str, Any]) -> str:
    field = _normalised(field)
    parts = []
    if pending_review(field):
        parts.append("unreviewed suggestions only")
    else:
        categories = field.get("data_categories")
        if isinstance(categories, list) and categories:
            parts.append(", ".join(str(c) for c in categories))
        meta = field.get("fides_meta")
        identity = meta.get("identity") if isinstance(meta, Mapping) else None
        if identity:
            parts.append(f"identity {identity}")
    if field.get("description"):
        parts.append("description")
    return "; ".join(parts) or "none"


def _table_annotations(collection: Mapping[str, Any]) -> str:
    reviewed = [
        f"{name} ({_annotations(field)})"
        for name, field in _named(collection.get("fields")).items()
        if not pending_review(_normalised(field))
    ]
    if collection.get("description") or collection.get("fides_meta"):
        reviewed.insert(0, "the collection's description/fides_meta")
    return f"{_DROPPED}: {', '.join(reviewed) or 'unreviewed suggestions only'}"
