"""What an erasure must do to a generated case, and how the tests check that it did.

The oracle (`expected`) works from the annotations and the policy alone; the planner is not
consulted. Per table: its own action (the policy's targets and the table's annotation), then
cascades over the foreign keys, with one rule the order of tables cannot change: a table whose
rows another table keeps (and does not detach from) is not deleted; it is masked if it was to
be deleted itself, and the delete that would have cascaded into it does not happen either.
A collection annotated `erasure: mask` masks even where the policy says `delete` (as `null`).
`unfit` names what the platform rightly refuses at run time (a rule that cannot produce a
value for the column); `fitting_cases()` draws cases without it, so that every example must
complete and verify.

The checks read the target database with their own engine and plain SQLAlchemy Core
statements, never through the `sql` connector the platform uses; `run_erasure` runs a request
inline on a real platform (SQLite app database in a scratch directory).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from hypothesis import strategies as st

from rightsflow.bootstrap import build_runtime
from rightsflow.config import Settings
from rightsflow.domain.masking import MaskKeys
from rightsflow.services import receipt, requests
from rightsflow.services.erasure import mask_keys
from rightsflow.services.inline import run_inline
from rightsflow.services.platform import Platform
from rightsflow.services.receipt import Receipt
from tests.support.mariadb import MariaDbServer
from tests.support.postgres import PostgresServer
from tests.support.random_schema import POLICY, Case, Rule, Table, erasure_cases


@dataclass(frozen=True)
class Expected:
    action: str  # read | mask | delete | keep
    targets: dict[str, Rule] = field(default_factory=dict)  # column -> rule (mask only)
    detach: tuple[str, ...] = ()  # reference columns set to NULL


def targets(case: Case, table: Table) -> dict[str, Rule]:
    out = {}
    for column in table.columns:
        rule = case.policy.rule_for(table.name, column)
        if rule is not None and column.name not in table.primary_key:
            masks = table.erasure == "mask" and rule.strategy == "delete"
            out[column.name] = Rule("null") if masks else rule  # the data map's word wins
    return out


def own_action(case: Case, table: Table) -> str:
    found = targets(case, table)
    if not found:
        return "read"
    if table.erasure in ("keep", "delete"):
        return table.erasure
    by_policy = case.policy.erasure_mode == "delete"
    if table.erasure is None and (by_policy or any(r.strategy == "delete" for r in found.values())):
        return "delete"
    return "mask"


def _children(case: Case, parent: str) -> list[Table]:
    return [t for t in case.tables if any(fk.parent == parent for fk in t.foreign_keys)]


def _cascade(case: Case, own: dict[str, str], blocked: set[str]) -> set[str]:
    """Tables whose rows go: their own deletes and every table that must follow one."""
    deleted = {t for t, action in own.items() if action == "delete" and t not in blocked}
    grown = True
    while grown:
        grown = False
        for t in case.tables:
            follows = t.on_parent_erase != "detach" and own[t.name] != "keep"
            hit = any(fk.parent in deleted for fk in t.foreign_keys)
            if hit and follows and t.name not in deleted and t.name not in blocked:
                deleted.add(t.name)
                grown = True
    return deleted


def expected(case: Case) -> dict[str, Expected]:
    own = {t.name: own_action(case, t) for t in case.tables}
    blocked: set[str] = set()
    while True:
        deleted = _cascade(case, own, blocked)
        newly = {
            p
            for p in deleted
            if any(
                c.name not in deleted and c.on_parent_erase != "detach" for c in _children(case, p)
            )
        }
        if not newly:
            break
        blocked |= newly
    out = {}
    for t in case.tables:
        action = "delete" if t.name in deleted else own[t.name]
        action = "mask" if action == "delete" and t.name not in deleted else action
        detach = tuple(
            column
            for fk in t.foreign_keys
            if t.on_parent_erase == "detach" and fk.parent in deleted and t.name not in deleted
            for column in fk.references()
        )
        out[t.name] = Expected(action, targets(case, t) if action == "mask" else {}, detach)
    return out


# -- cases the platform rightly refuses -----------------------------------------------------------


def unfit(case: Case) -> tuple[str, str] | None:
    """(table, column) of a masked column whose rule cannot produce a value there: `null` on a
    NOT NULL column (such a request fails, naming the table), or a `delete` rule where the rows
    stay (the platform sets NULL there; the oracle leaves those cases to the examples)."""
    for name, want in expected(case).items():
        table = case.table(name)
        for column, rule in want.targets.items():
            if rule.strategy == "delete" or not rule.fits(table.column(column)):
                return name, column
    return None


def fitting(case: Case) -> Case:
    """The case with a `hash` rule of its own for each unfit column (hash fits any text)."""
    for _ in range(sum(len(t.columns) for t in case.tables)):
        found = unfit(case)
        if found is None:
            return case
        named = ".".join(found)
        by_field = (*(kv for kv in case.policy.by_field if kv[0] != named), (named, Rule("hash")))
        case = replace(case, policy=replace(case.policy, by_field=by_field))
    raise AssertionError(f"still unfit: {unfit(case)}")


def fitting_cases() -> st.SearchStrategy[Case]:
    return erasure_cases().map(fitting)


# -- databases and runs --------------------------------------------------------------------------

Snapshot = dict[str, dict[tuple[Any, ...], dict[str, Any]]]


@dataclass
class Target:
    """A fresh database: an admin engine for the checks and the URL the platform connects to."""

    backend: str
    engine: sa.Engine
    url: str
    drop: Any = None  # called after the example to remove the database

    def close(self) -> None:
        self.engine.dispose()
        if self.drop is not None:
            self.drop()


def sqlite_target(path: Path) -> Target:
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    sa.event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA foreign_keys=ON"))
    return Target("sqlite", engine, url)


def postgres_target(server: PostgresServer) -> Target:
    name = f"e_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    url = server.url(name)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))

    def drop() -> None:
        admin = sa.create_engine(
            server.url().replace("postgresql://", "postgresql+psycopg://"),
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()

    return Target("postgres", engine, url, drop)


def mariadb_target(server: MariaDbServer) -> Target:
    name = f"e_{uuid.uuid4().hex[:12]}"
    server.create_database(name)
    url = server.url(name)
    return Target("mariadb", sa.create_engine(url), url.replace("mysql+pymysql://", "mysql://"))


def load(case: Case, target: Target) -> None:
    """Create the case's tables from its DDL and insert its rows, parents first."""
    metadata = case.metadata()
    with target.engine.begin() as conn:
        for statement in case.ddl(target.engine):
            conn.execute(sa.text(statement))
        for table in metadata.sorted_tables:
            if case.rows[table.name]:
                conn.execute(table.insert(), case.rows[table.name])


def snapshot(case: Case, target: Target) -> Snapshot:
    """Every row of every table, by primary key."""
    return rows_by_key(target.engine, case.metadata())


def rows_by_key(engine: sa.Engine, metadata: sa.MetaData) -> Snapshot:
    out: Snapshot = {}
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            key = [c.name for c in table.primary_key.columns]
            rows = conn.execute(sa.select(table)).mappings()
            out[table.name] = {tuple(r[k] for k in key): dict(r) for r in rows}
    return out


def constraint_problems(case: Case, target: Target, after: Snapshot) -> list[str]:
    """Broken foreign keys, unique constraints, NOT NULLs and lengths, found with SQL (the
    lengths from the snapshot: SQLite does not enforce VARCHAR lengths)."""
    tables = {t.name: t for t in case.metadata().sorted_tables}
    problems = []
    with target.engine.connect() as conn:
        for spec in case.tables:
            table = tables[spec.name]
            for fk in spec.foreign_keys:
                if conn.execute(_dangling(table, tables[fk.parent], fk.columns,
                                          fk.parent_columns)).scalar_one():  # fmt: skip
                    problems.append(f"{spec.name}.{','.join(fk.columns)}: dangling reference")
            uniques = [(c.name,) for c in spec.columns if c.unique] + list(spec.uniques)
            for columns in (*uniques, spec.primary_key):
                if conn.execute(_duplicates(table, columns)).first() is not None:
                    problems.append(f"{spec.name}.{','.join(columns)}: duplicate values")
            for c in spec.columns:
                empty = sa.select(sa.func.count()).where(table.c[c.name].is_(None))
                if not c.nullable and conn.execute(empty).scalar_one():
                    problems.append(f"{spec.name}.{c.name}: NULL in a NOT NULL column")
    for spec in case.tables:
        for c in (c for c in spec.columns if c.length is not None):
            if any(len(row[c.name] or "") > c.length for row in after[spec.name].values()):
                problems.append(f"{spec.name}.{c.name}: longer than {c.length}")
    return problems


def _dangling(
    child: sa.Table, parent: sa.Table, columns: tuple[str, ...], parent_columns: tuple[str, ...]
) -> sa.Select[tuple[int]]:
    """Rows whose (fully set) reference matches no parent row: MATCH SIMPLE, as the databases."""
    pairs = zip(columns, parent_columns, strict=True)
    match = sa.and_(*(parent.c[p] == child.c[c] for c, p in pairs))
    set_ = [child.c[c].is_not(None) for c in columns]
    return sa.select(sa.func.count()).select_from(child).where(*set_, ~sa.exists().where(match))


def _duplicates(table: sa.Table, columns: tuple[str, ...]) -> sa.Select[Any]:
    cols = [table.c[c] for c in columns]
    return (
        sa.select(*cols)
        .where(*(c.is_not(None) for c in cols))
        .group_by(*cols)
        .having(sa.func.count() > 1)
    )


@dataclass(frozen=True)
class Outcome:
    request_id: str
    status: str
    failure: str | None
    receipt: Receipt | None
    keys: MaskKeys


@contextmanager
def platform_for(workdir: Path, files: Mapping[str, str]) -> Iterator[Platform]:
    """A real platform over a data map made of `files` (name -> YAML text)."""
    mapdir = workdir / "datamap"
    mapdir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (mapdir / name).write_text(text, encoding="utf-8")
    settings = Settings(data_dir=workdir / "data", datamap_dir=mapdir, auto_approve=["*"])
    runtime = build_runtime(settings)
    try:
        yield runtime.platform
    finally:
        runtime.close()


def run_request(platform: Platform, new: requests.NewRequest) -> Outcome:
    """Submit and run inline; the receipt for requests that change rows."""
    request, _ = requests.submit(platform, new)
    status = run_inline(platform, request.id)
    failure = requests.detail(platform, request.id).request.failure_reason
    built = None if request.type.reads_only else receipt.build(platform, request.id)
    return Outcome(request.id, status, failure, built, mask_keys(platform.vault.masking_key()))


def run_erasure(case: Case, target: Target, workdir: Path) -> Outcome:
    files = {
        "gen.yml": case.dataset_yaml(),
        "systems.yml": case.systems_yaml(target.url),
        "policies.yml": case.policy.as_yaml(),
    }
    new = requests.NewRequest(
        type="erasure", identities={"email": case.email(case.target)}, regime="gdpr",
        policy=POLICY, verified=True,
    )  # fmt: skip
    with platform_for(workdir, files) as platform:
        return run_request(platform, new)
