"""Random relational schemas for the erasure property tests: a hypothesis strategy.

`erasure_cases()` draws a `Case`: 2 to 6 tables (the root holds the identity, an email), integer
or composite primary keys, foreign keys in tree and DAG shapes (nullable or NOT NULL, some ON
DELETE RESTRICT), unique constraints, text columns of bounded length holding personal data,
system columns; per table an erasure annotation; an erasure policy whose strategies fit the
columns; and rows for several subjects, interleaved. Everything is deterministic from the draw.
A `Case` emits the DDL (`metadata`, `ddl`), the data map (`dataset_yaml`, `systems_yaml`) and
`policies_yaml`; `tests.support.erasure_checks` says what an erasure must do to it.

Composite references. A foreign key onto a composite primary key carries a data map reference
on the column pointing at the parent's `id` (unique across its table), or on every column of
the key (`ForeignKey.every_column`): the platform matches such references as whole tuples.

Rows may be linked to their subject through any of their parents, however far from the
identity (`shallow_links=True` restricts links to the shallowest parents, for comparison).
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

import sqlalchemy as sa
import yaml
from hypothesis import strategies as st

from rightsflow.domain.masking import encrypted_length

DATASET = "gen"
SYSTEM = "gen_db"
POLICY = "gen_erasure"
FIXED_VALUES = ("MASKED", "REDACTED", "x")
LEGAL_BASES = ("Tax law: invoices kept 10 years", "Anti-money-laundering duty")
SUFFIX = 14  # "-" and 13 base32 characters after a fixed value on a unique column
Draw = Callable[[st.SearchStrategy[Any]], Any]


@dataclass(frozen=True)
class Pii:
    category: str
    max_chars: int  # longest value generated
    max_bytes: int  # ... in UTF-8


PII = {
    "email": Pii("user.contact.email", 40, 40),
    "name": Pii("user.name", 32, 32),
    "phone": Pii("user.contact.phone_number", 20, 20),
    "note": Pii("user.content.private", 64, 70),
}
STRATEGIES = ("null", "fixed", "random", "hash", "encrypt", "delete")


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # "integer" | "text"
    nullable: bool
    length: int | None = None  # text: VARCHAR(length); None: TEXT
    unique: bool = False
    pii: str | None = None  # a key of PII; None: a system or key column
    identity: bool = False

    @property
    def category(self) -> str:
        return PII[self.pii].category if self.pii else "system.operations"

    @property
    def db_type(self) -> str:
        if self.type == "integer":
            return "INTEGER"
        return "TEXT" if self.length is None else f"VARCHAR({self.length})"


@dataclass(frozen=True)
class ForeignKey:
    columns: tuple[str, ...]  # in the order of the parent's primary key
    parent: str
    parent_columns: tuple[str, ...]
    nullable: bool
    restrict: bool  # ON DELETE RESTRICT (else the default, NO ACTION)
    every_column: bool = False  # a data map reference on every column, else on `reference`

    @property
    def reference(self) -> str:
        """The column the data map's reference is on: the one pointing at the parent's id."""
        return self.columns[self.parent_columns.index("id")]

    def references(self) -> dict[str, str]:
        """Column -> the parent column its data map reference names."""
        pairs = zip(self.columns, self.parent_columns, strict=True)
        return {c: p for c, p in pairs if self.every_column or c == self.reference}


@dataclass(frozen=True)
class Table:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    foreign_keys: tuple[ForeignKey, ...] = ()
    uniques: tuple[tuple[str, ...], ...] = ()  # multi-column unique constraints
    erasure: str | None = None  # delete | mask | keep | None (the policy's default)
    exemption: str | None = None  # the legal basis, with erasure == "keep"
    on_parent_erase: str | None = None  # delete | detach | None

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    @property
    def pii_columns(self) -> tuple[Column, ...]:
        return tuple(c for c in self.columns if c.pii)


@dataclass(frozen=True)
class Rule:
    strategy: str
    value: str | None = None  # fixed only

    def fits(self, column: Column) -> bool:
        """Whether the rule can mask every generated value of the column without a cut."""
        length = column.length
        if self.strategy == "null":
            return column.nullable
        if self.strategy == "fixed":
            need = len(self.value or "") + (SUFFIX if column.unique else 0)
            return length is None or need <= length
        if self.strategy == "encrypt":
            pii = PII[column.pii or "note"]
            return length is None or encrypted_length(pii.max_bytes) <= length
        return True

    def as_yaml(self) -> dict[str, Any]:
        out: dict[str, Any] = {"strategy": self.strategy}
        if self.value is not None:
            out["value"] = self.value
        return out


RULES = (
    Rule("null"),
    *(Rule("fixed", v) for v in FIXED_VALUES),
    *(Rule(s) for s in STRATEGIES[2:]),
)


@dataclass(frozen=True)
class ErasurePolicy:
    targets: tuple[str, ...]
    by_category: tuple[tuple[str, Rule], ...] = ()
    by_field: tuple[tuple[str, Rule], ...] = ()  # "table.column" -> rule
    erasure_mode: str = "mask"

    def rule_for(self, table: str, column: Column) -> Rule | None:
        """As the policy resolves it: a field rule, the most specific category rule, else
        `null` when a target covers the column; None when the policy does not reach it."""
        named = dict(self.by_field).get(f"{table}.{column.name}")
        if named is not None:
            return named
        category = column.category
        rules = [(key, rule) for key, rule in self.by_category if _within(category, key)]
        if rules:
            return max(rules, key=lambda kr: kr[0].count("."))[1]
        if any(_within(category, t) for t in self.targets):
            return Rule("null")
        return None

    def as_yaml(self) -> str:
        masking = [{"category": k, **r.as_yaml()} for k, r in self.by_category]
        masking += [{"field": f"{DATASET}:{f}", **r.as_yaml()} for f, r in self.by_field]
        policy = {"key": POLICY, "type": "erasure", "targets": list(self.targets),
                  "masking": masking, "erasure_mode": self.erasure_mode}  # fmt: skip
        return yaml.safe_dump({"policies": [policy]}, sort_keys=False)


def _within(category: str, target: str) -> bool:
    return category == target or category.startswith(target + ".")


@dataclass(frozen=True)
class Case:
    tables: tuple[Table, ...]  # the root first; parents before their children
    rows: dict[str, list[dict[str, Any]]]  # in insertion order
    owners: dict[str, list[int]]  # the subject of each row, parallel to `rows`
    policy: ErasurePolicy
    subjects: int
    target: int  # the subject whose erasure is requested

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def email(self, subject: int) -> str:
        root = self.tables[0].name
        owners = self.owners[root]
        return str(self.rows[root][owners.index(subject)]["email"])

    def key(self, table: str, row: dict[str, Any]) -> tuple[Any, ...]:
        return tuple(row[k] for k in self.table(table).primary_key)

    def subject_rows(self, table: str, subject: int) -> Iterator[dict[str, Any]]:
        for row, owner in zip(self.rows[table], self.owners[table], strict=True):
            if owner == subject:
                yield row

    def metadata(self, schema: str | None = None) -> sa.MetaData:
        metadata = sa.MetaData(schema=schema)
        for t in self.tables:
            columns = [
                sa.Column(c.name, _sa_type(c), nullable=c.nullable, unique=c.unique)
                for c in t.columns
            ]
            fks = [_sa_fk(fk, schema) for fk in t.foreign_keys]
            uniques = [sa.UniqueConstraint(*u) for u in t.uniques]
            sa.Table(t.name, metadata, *columns, sa.PrimaryKeyConstraint(*t.primary_key),
                     *fks, *uniques)  # fmt: skip
        return metadata

    def ddl(self, engine: sa.Engine, schema: str | None = None) -> list[str]:
        """CREATE TABLE statements in the engine's dialect, parents first."""
        return [
            str(sa.schema.CreateTable(t).compile(dialect=engine.dialect)).strip()
            for t in self.metadata(schema).sorted_tables
        ]

    def dataset_yaml(self) -> str:
        collections = [_collection(t) for t in self.tables]
        doc = {"dataset": [{"fides_key": DATASET, "name": "Generated", "collections": collections}]}
        return yaml.safe_dump(doc, sort_keys=False)

    def systems_yaml(self, url: str, schema: str | None = None) -> str:
        config: dict[str, Any] = {"url": url, "chunk_size": 3}  # small: several chunks
        if schema:
            config["schema"] = schema
        system = {"key": SYSTEM, "connector": "sql", "datasets": [DATASET], "config": config}
        return yaml.safe_dump({"systems": [system]}, sort_keys=False)


def _sa_type(column: Column) -> sa.types.TypeEngine[Any]:
    if column.type == "integer":
        return sa.Integer()
    return sa.Text() if column.length is None else sa.String(column.length)


def _sa_fk(fk: ForeignKey, schema: str | None) -> sa.ForeignKeyConstraint:
    prefix = f"{schema}.{fk.parent}" if schema else fk.parent
    return sa.ForeignKeyConstraint(
        list(fk.columns),
        [f"{prefix}.{c}" for c in fk.parent_columns],
        ondelete="RESTRICT" if fk.restrict else None,
    )


def _collection(table: Table) -> dict[str, Any]:
    refs = {c: (fk.parent, p) for fk in table.foreign_keys for c, p in fk.references().items()}
    fields = []
    for c in table.columns:
        meta: dict[str, Any] = {"data_type": "integer" if c.type == "integer" else "string"}
        if c.name in table.primary_key:
            meta["primary_key"] = True
        if c.length is not None:
            meta["length"] = c.length
        if c.identity:
            meta["identity"] = "email"
        if c.name in refs:
            target = "{}.{}".format(*refs[c.name])
            meta["references"] = [{"dataset": DATASET, "field": target, "direction": "from"}]
        meta["rightsflow"] = {"nullable": c.nullable, "unique": c.unique, "db_type": c.db_type}
        fields.append({"name": c.name, "data_categories": [c.category], "fides_meta": meta})
    extras: dict[str, Any] = {}
    if table.erasure:
        extras["erasure"] = table.erasure
    if table.exemption:
        extras["exemption"] = {"legal_basis": table.exemption}
    if table.on_parent_erase:
        extras["on_parent_erase"] = table.on_parent_erase
    out: dict[str, Any] = {"name": table.name, "fields": fields}
    if extras:
        out["fides_meta"] = {"rightsflow": extras}
    return out


# -- the strategy --------------------------------------------------------------------------------


@st.composite
def erasure_cases(draw: Draw, shallow_links: bool = False) -> Case:
    tables = [_root(draw)]
    for index in range(1, draw(st.integers(2, 6))):
        tables.append(_child(draw, index, tables))
    subjects = draw(st.integers(2, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    shallowest = depths(tables) if shallow_links else None
    rows = _Rows(random.Random(seed), shallowest)  # noqa: S311 (fake data, not secrets)
    for index, table in enumerate(tables):
        rows.fill(draw, index, table, subjects)
    return Case(tuple(tables), rows.rows, rows.owners, _policy(draw, tables), subjects,
                target=draw(st.integers(0, subjects - 1)))  # fmt: skip


def _pii_column(draw: Draw, kind: str, *, identity: bool = False) -> Column:
    pii = PII[kind]
    unique = identity or draw(st.booleans())
    lengths = [pii.max_chars, pii.max_chars + 20, 2 * pii.max_chars + 64, 2 * pii.max_chars + 64]
    length = draw(st.sampled_from(lengths if unique else [*lengths, None]))
    nullable = not identity and draw(st.booleans())
    return Column(kind, "text", nullable, length, unique, kind, identity)


def _annotation(draw: Draw, table: Table, detachable: bool) -> Table:
    erasure = draw(st.sampled_from([None, None, "mask", "delete", "keep"]))
    exemption = draw(st.sampled_from(LEGAL_BASES)) if erasure == "keep" else None
    choices = [None, "delete", "detach", "detach"] if detachable else [None, "delete"]
    on_parent = draw(st.sampled_from(choices)) if table.foreign_keys else None
    return replace(table, erasure=erasure, exemption=exemption, on_parent_erase=on_parent)


def _root(draw: Draw) -> Table:
    extra = draw(st.lists(st.sampled_from(["name", "phone", "note"]), max_size=2, unique=True))
    columns = (
        Column("id", "integer", nullable=False),
        _pii_column(draw, "email", identity=True),
        *(_pii_column(draw, kind) for kind in extra),
        Column("created_at", "text", nullable=False, length=32),
    )
    return _annotation(draw, Table("t0", columns, ("id",)), detachable=False)


def _foreign_key(draw: Draw, parent: Table) -> tuple[ForeignKey, list[Column]]:
    nullable, restrict = draw(st.booleans()), draw(st.booleans())
    every = len(parent.primary_key) > 1 and draw(st.booleans())
    names = tuple(f"{parent.name}_{c}" for c in parent.primary_key)
    fk = ForeignKey(names, parent.name, parent.primary_key, nullable, restrict, every)
    return fk, [Column(n, "integer", nullable) for n in names]


def _child(draw: Draw, index: int, earlier: list[Table]) -> Table:
    composite = draw(st.booleans())
    key = ("id", "part") if composite else ("id",)
    columns = [Column(k, "integer", nullable=False) for k in key]
    parents = [draw(st.integers(0, index - 1))]
    if index >= 2 and draw(st.booleans()):  # a second parent: a DAG
        parents.append(draw(st.sampled_from([i for i in range(index) if i != parents[0]])))
    fks = []
    for parent in parents:
        fk, fk_columns = _foreign_key(draw, earlier[parent])
        fks.append(fk)
        columns.extend(fk_columns)
    kinds = draw(st.lists(st.sampled_from(sorted(PII)), max_size=3, unique=True))
    columns.extend(_pii_column(draw, kind) for kind in kinds)
    columns.append(Column("seq", "integer", nullable=False))
    if draw(st.booleans()):
        columns.append(Column("status", "integer", nullable=True))
    uniques = ((fks[0].reference, "seq"),) if draw(st.booleans()) else ()
    table = Table(f"t{index}", tuple(columns), key, tuple(fks), uniques)
    return _annotation(draw, table, detachable=all(fk.nullable for fk in fks))


# -- rows ------------------------------------------------------------------------------------------

FIRST = ("ada", "alan", "grace", "linus", "barbara", "edsger", "donald", "hedy")
LAST = ("lovelace", "turing", "hopper", "torvalds", "liskov", "dijkstra", "knuth", "lamarr")
NOTES = ("Please call me back", "Deliver to the back door", "Allergic to peanuts",
         "Moved to Zürich last spring", "Prefers email over phone")  # fmt: skip


@dataclass
class _Rows:
    """Rows drawn table by table; every value comes from `rnd`, seeded by the draw."""

    rnd: random.Random
    depth: dict[str, int] | None  # hops from the root per table, with `shallow_links`
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    owners: dict[str, list[int]] = field(default_factory=dict)
    counter: int = 0

    def fill(self, draw: Draw, index: int, table: Table, subjects: int) -> None:
        links = [{}] * subjects if index == 0 else []
        owners = list(range(subjects)) if index == 0 else []
        for s in range(subjects):
            for _ in range(draw(st.integers(0, 3)) if index else 0):
                link = self._link(table, s)
                if link is not None:
                    links.append(link)
                    owners.append(s)
        order = list(range(len(links)))
        self.rnd.shuffle(order)  # other subjects' rows interleaved
        self.owners[table.name] = [owners[i] for i in order]
        self.rows[table.name] = [
            self._row(table, index * 1000 + n + 1, links[i]) for n, i in enumerate(order)
        ]
        _number(table, self.rows[table.name])

    def _link(self, table: Table, subject: int) -> dict[str, dict[str, Any] | None] | None:
        """Parent rows of `subject` per foreign key (None: NULL where nullable; the first key
        is always set). None when a NOT NULL key has no row to point at. With `depth`, keys
        towards the shallowest parents are always set (the known gap)."""
        out: dict[str, dict[str, Any] | None] = {}
        depth = self.depth or {}
        top = min((depth[fk.parent] for fk in table.foreign_keys), default=0) if depth else -1
        for position, fk in enumerate(table.foreign_keys):
            pairs = zip(self.rows[fk.parent], self.owners[fk.parent], strict=True)
            mine = [r for r, o in pairs if o == subject]
            required = position == 0 or not fk.nullable or depth.get(fk.parent) == top
            if mine and (required or self.rnd.random() < 0.6):
                out[fk.parent] = self.rnd.choice(mine)
            elif required:
                return None
            else:
                out[fk.parent] = None
        return out

    def _row(self, table: Table, key: int, links: dict[str, Any]) -> dict[str, Any]:
        rnd = self.rnd
        row: dict[str, Any] = {"id": key}
        if "part" in table.primary_key:
            row["part"] = rnd.randint(1, 3)
        for fk in table.foreign_keys:
            parent = links.get(fk.parent)
            for column, parent_column in zip(fk.columns, fk.parent_columns, strict=True):
                row[column] = None if parent is None else parent[parent_column]
        for c in table.pii_columns:
            row[c.name] = None if c.nullable and rnd.random() < 0.2 else self._value(c.pii)
        if not table.foreign_keys:
            row["created_at"] = f"2026-{rnd.randint(1, 9):02d}-{rnd.randint(1, 28):02d}T08:00:00"
        elif any(c.name == "status" for c in table.columns):
            row["status"] = rnd.choice([None, 0, 1, 2])
        return row

    def _value(self, kind: str | None) -> str:
        """A fake value, unique across the case (a counter in every value)."""
        self.counter += 1
        n, rnd = self.counter, self.rnd
        first, last = rnd.choice(FIRST), rnd.choice(LAST)
        if kind == "email":
            return f"{first}.{last}{n}@example.test"
        if kind == "name":
            return f"{first.title()} {last.title()} {n}"
        if kind == "phone":
            return f"+44 7{rnd.randrange(10**5):05d}{n:04d}"
        return f"{rnd.choice(NOTES)} (ref {n})"


def depths(tables: list[Table]) -> dict[str, int]:
    """Hops from the root along references, as the planner's breadth-first search counts them."""
    out = {tables[0].name: 0}
    for t in tables[1:]:
        out[t.name] = 1 + min(out[fk.parent] for fk in t.foreign_keys)
    return out


def _number(table: Table, rows: list[dict[str, Any]]) -> None:
    """`seq` counts rows per parent reference (so the (reference, seq) unique holds)."""
    if not table.foreign_keys:
        return
    reference = table.foreign_keys[0].reference
    seen: dict[Any, int] = {}
    for row in rows:
        seen[row[reference]] = seen.get(row[reference], 0) + 1
        row["seq"] = seen[row[reference]]


# -- the policy -----------------------------------------------------------------------------------


def _policy(draw: Draw, tables: list[Table]) -> ErasurePolicy:
    columns = [(t.name, c) for t in tables for c in t.pii_columns]
    present = sorted({c.category for _, c in columns})
    targets = tuple(draw(st.lists(st.sampled_from([*present, "user.contact", "user"]),
                                  min_size=1, max_size=3, unique=True)))  # fmt: skip
    keys = draw(st.lists(st.sampled_from(targets), max_size=len(targets), unique=True))
    governed: dict[str, list[Column]] = {k: [] for k in keys}
    for _, c in columns:  # each column under its most specific category rule
        hits = [k for k in keys if _within(c.category, k)]
        if hits:
            governed[max(hits, key=lambda k: k.count("."))].append(c)
    policy = ErasurePolicy(
        targets,
        by_category=tuple((k, _fitting(draw, governed[k])) for k in keys),
        erasure_mode=draw(st.sampled_from(["mask", "delete"])),
    )
    by_field = []
    for table, column in columns:  # where the default `null` cannot fit, and at random
        rule = policy.rule_for(table, column)
        if (rule is not None and not rule.fits(column)) or draw(st.integers(0, 4)) == 0:
            by_field.append((f"{table}.{column.name}", _fitting(draw, [column])))
    return replace(policy, by_field=tuple(by_field))


def _fitting(draw: Draw, columns: list[Column]) -> Rule:
    """A rule that fits every one of the columns (each strategy as likely as the others)."""
    rules = [r for r in RULES if all(r.fits(c) for c in columns)]
    strategy = draw(st.sampled_from(sorted({r.strategy for r in rules})))
    return draw(st.sampled_from([r for r in rules if r.strategy == strategy]))
