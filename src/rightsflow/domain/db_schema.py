"""A neutral description of a relational schema, as read from a live database (no I/O here).

The `sql_introspect` connector fills it in; `suggest` and `datamap_draft` turn it into a
fideslang dataset. Only names and types: never a row or a value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# The data types fideslang accepts in `fides_meta.data_type` (without the `[]` array suffix).
DataType = str
DATA_TYPES = frozenset({"string", "integer", "float", "boolean", "object", "object_id"})


@dataclass(frozen=True)
class DbColumn:
    name: str
    data_type: DataType  # one of DATA_TYPES
    db_type: str  # the database's own type text, e.g. VARCHAR(255), NUMERIC(10,2), JSONB
    length: int | None = None  # for sized strings only
    nullable: bool = True
    unique: bool = False  # a single-column unique constraint or index, or the whole primary key
    primary_key: bool = False


@dataclass(frozen=True)
class DbForeignKey:
    """`columns` of this table reference `parent_columns` of `parent_table`, pairwise."""

    columns: tuple[str, ...]
    parent_table: str
    parent_columns: tuple[str, ...]
    on_delete: str | None = None

    def pairs(self) -> tuple[tuple[str, str], ...]:
        return tuple(zip(self.columns, self.parent_columns, strict=True))


@dataclass(frozen=True)
class DbTable:
    name: str
    columns: tuple[DbColumn, ...]  # in the table's own column order
    foreign_keys: tuple[DbForeignKey, ...] = ()

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns if c.primary_key)

    def column(self, name: str) -> DbColumn | None:
        return next((c for c in self.columns if c.name == name), None)

    def parents_of(self, column: str) -> tuple[str, ...]:
        """`parent_table.parent_column` for every foreign key pair starting at `column`, sorted."""
        return tuple(
            sorted(
                {
                    f"{fk.parent_table}.{parent}"
                    for fk in self.foreign_keys
                    for own, parent in fk.pairs()
                    if own == column
                }
            )
        )


@dataclass(frozen=True)
class DbSchema:
    """Tables (not views) sorted by name. `notes` are things the reader left out, and why."""

    dialect: str
    tables: tuple[DbTable, ...]
    database: str | None = None
    schema: str | None = None
    notes: tuple[str, ...] = field(default=())

    def table(self, name: str) -> DbTable | None:
        return next((t for t in self.tables if t.name == name), None)
