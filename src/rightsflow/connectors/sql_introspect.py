"""Read a live database's schema (tables, columns, keys) into a neutral `DbSchema`.

SQLAlchemy's inspector does the reading, in bulk (`get_multi_*`: a few catalogue queries, not a
few per table). Only the catalogue is read, never a row. SQLite files are opened read-only, so
a mistyped path is an error instead of a new empty database.

Failures become `ConnectorFailure` with the database kind, its host/port/name and a short
cause: never the URL (it may hold a password), the user name or the driver's message.
"""

from __future__ import annotations

import re
import sqlite3
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Connection, Inspector, make_url
from sqlalchemy.types import NullType, TypeEngine

from rightsflow.domain.db_schema import DbColumn, DbForeignKey, DbSchema, DbTable
from rightsflow.domain.errors import ConnectorFailure

Progress = Callable[[str], None]
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg",
            "mysql": "mysql+pymysql", "mariadb": "mariadb+pymysql"}  # fmt: skip
_SENTINEL = "RightsflowPasswordPlaceholder"
_PASSWORD_PARAMS = frozenset({"password", "passwd", "pwd"})
_CHARSET = re.compile(r"\s+(CHARACTER SET|COLLATE)\s+\w+", re.IGNORECASE)
_JSON_CHECK = re.compile(r"json_valid\(`?(\w+)`?\)", re.IGNORECASE)
_KEY_CHARS = re.compile(r"[^A-Za-z0-9_]+")
# Causes recognised in a driver's message; only the label is ever shown, never the message.
_CAUSES = (
    (re.compile(r"refused", re.IGNORECASE), "connection refused"),
    (re.compile(r"timeout|timed out", re.IGNORECASE), "timed out"),
    (re.compile(r"password|authentication|access denied|role .* does not exist|1045",
                re.IGNORECASE), "login refused"),
    (re.compile(r"does not exist|unknown database|1049", re.IGNORECASE), "no such database"),
    (re.compile(r"translate host|name or service|unknown .*host|2005", re.IGNORECASE),
     "unknown host"),
    (re.compile(r"not a database|unable to open", re.IGNORECASE), "not a readable database"),
    (re.compile(r"can't connect|could not connect|connection failed", re.IGNORECASE),
     "cannot connect"),
)  # fmt: skip


def engine_url(url: str) -> URL:
    """The URL to connect with: psycopg 3 for plain postgresql://, pymysql for mysql://."""
    try:
        parsed = make_url(url)
    except (sa_exc.ArgumentError, ValueError):
        # The parser's own message repeats the URL, password included: never show it.
        raise ConnectorFailure(
            "not a valid database URL (e.g. postgresql://user@host/db, mysql://user@host/db "
            "or sqlite:///path/file.db)",
            retryable=False,
        ) from None
    driver = _DRIVERS.get(parsed.drivername)
    return parsed.set(drivername=driver) if driver else parsed


def describe(url: URL) -> str:
    """`postgresql at host:5432/db`, `sqlite file /x/y.db`: safe to print (no user, no secret)."""
    backend = url.get_backend_name()
    if backend == "sqlite":
        return f"sqlite file {url.database or ':memory:'}"
    where = f"{url.host or 'localhost'}{f':{url.port}' if url.port else ''}"
    return f"{backend} at {where}/{url.database or ''}"


def default_dataset_key(url: str, schema: str | None) -> str:
    """A dataset key from the schema, else the database name (a SQLite file's stem)."""
    parsed = engine_url(url)
    name = schema or parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and not schema:
        name = Path(name).stem
    return _KEY_CHARS.sub("_", name).strip("_") or "database"


def shareable_url(url: str, password_variable: str) -> tuple[str, bool]:
    """The URL to write into systems.yml, and whether a password was replaced by
    `${password_variable}`. SQLite paths become absolute; mysql:// names its driver."""
    parsed = engine_url(url)
    if parsed.drivername.startswith("postgresql"):
        parsed = parsed.set(drivername=make_url(url).drivername)  # keep the user's spelling
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            parsed = parsed.set(database=str(Path(parsed.database).resolve()))
        return parsed.render_as_string(hide_password=False), False
    replaced = parsed.password is not None
    if replaced:
        parsed = parsed.set(password=_SENTINEL)
    secret_params = {k: _SENTINEL for k in parsed.query if k.lower() in _PASSWORD_PARAMS}
    if secret_params:
        parsed, replaced = parsed.update_query_dict(secret_params), True
    text = parsed.render_as_string(hide_password=False)
    return text.replace(_SENTINEL, "${" + password_variable + "}"), replaced


def introspect_database(
    url: str,
    schema: str | None = None,
    *,
    progress: Progress | None = None,
    connect_timeout: float = 10,
) -> DbSchema:
    """Every table (not view) of `schema` (default: the connection's) with its columns, primary
    key, foreign keys and single-column unique constraints."""
    target = engine_url(url)
    say = progress or (lambda _message: None)
    try:
        with _connection(target, connect_timeout) as conn:
            say(f"connected to {describe(target)}")
            return _read(conn, schema, target.database, say)
    except ConnectorFailure:
        raise
    except (sa_exc.NoSuchModuleError, ImportError):
        backend = target.get_backend_name()
        failure = ConnectorFailure(f"no database driver installed for {backend}", retryable=False)
    except (sa_exc.SQLAlchemyError, sqlite3.Error, OSError) as exc:
        failure = _failure(target, exc)
    raise failure  # outside the handler: no chained exception carrying the driver's message


@contextmanager
def _connection(url: URL, timeout: float) -> Iterator[Connection]:
    if url.get_backend_name() == "sqlite":
        engine = _sqlite_engine(url)
    else:
        args: dict[str, Any] = {"connect_timeout": max(1, round(timeout))}
        engine = sa.create_engine(url, poolclass=sa.NullPool, connect_args=args)
    try:
        with engine.connect() as conn:
            yield conn
    finally:
        engine.dispose()


def _sqlite_engine(url: URL) -> sa.Engine:
    database = url.database or ""
    if database in ("", ":memory:"):
        raise ConnectorFailure(
            "an in-memory SQLite database has no tables to read", retryable=False
        )
    path = Path(database).resolve()
    if not path.is_file():
        raise ConnectorFailure(f"no SQLite file at {path}", retryable=False)
    uri = f"{path.as_uri()}?mode=ro"  # read-only: introspection must never create or change it
    return sa.create_engine(
        "sqlite://",
        creator=lambda: sqlite3.connect(uri, uri=True, check_same_thread=False),
        poolclass=sa.NullPool,
    )


def _read(conn: Connection, schema: str | None, database: str | None, say: Progress) -> DbSchema:
    inspector = sa.inspect(conn)
    _check_schema(conn, inspector, schema)
    names = sorted(inspector.get_table_names(schema=schema))
    say(f"reading {len(names)} tables")
    with warnings.catch_warnings():
        # An unknown column type is reported as text "UNKNOWN"; its warning is noise here.
        warnings.simplefilter("ignore", sa_exc.SAWarning)
        columns = _per_table(inspector.get_multi_columns(schema=schema))
        say(f"reading keys of {len(names)} tables")
        pks = _per_table(inspector.get_multi_pk_constraint(schema=schema))
        fks = _per_table(inspector.get_multi_foreign_keys(schema=schema))
        say(f"reading unique constraints of {len(names)} tables")
        uniques = _per_table(inspector.get_multi_unique_constraints(schema=schema))
        indexes = _per_table(inspector.get_multi_indexes(schema=schema))
    json_columns = _mariadb_json_columns(conn, schema or inspector.default_schema_name)
    notes: list[str] = []
    tables = []
    for name in names:
        key = pks.get(name) or {}
        unique = _single_unique(key, uniques.get(name, ()), indexes.get(name, ()))
        typed = _Types(conn, name, json_columns)
        cols = tuple(
            _column(c, set(key.get("constrained_columns") or ()), unique, typed)
            for c in columns.get(name, ())
        )
        foreign = _foreign_keys(name, fks.get(name, ()), schema, names, notes)
        tables.append(DbTable(name, cols, foreign))
    return DbSchema(conn.dialect.name, tuple(tables), database, schema, tuple(notes))


def _check_schema(conn: Connection, inspector: Inspector, schema: str | None) -> None:
    if schema is None:
        if conn.dialect.name in ("mysql", "mariadb") and not inspector.default_schema_name:
            raise ConnectorFailure("name a database in the URL or pass --schema", retryable=False)
        return
    if schema not in inspector.get_schema_names():
        raise ConnectorFailure(f"schema {schema!r} not found in the database", retryable=False)


def _per_table(multi: Mapping[tuple[str | None, str], Any]) -> dict[str, Any]:
    return {table: value for (_schema, table), value in multi.items()}


def _single_unique(
    pk: Mapping[str, Any],
    uniques: Sequence[Mapping[str, Any]],
    indexes: Sequence[Mapping[str, Any]],
) -> set[str]:
    """Columns unique on their own: a one-column unique constraint, unique index or key."""
    sets = [list(pk.get("constrained_columns") or ())]
    sets += [list(u.get("column_names") or ()) for u in uniques]
    sets += [list(i.get("column_names") or ()) for i in indexes if i.get("unique")]
    return {names[0] for names in sets if len(names) == 1 and names[0] is not None}


class _Types:
    """Turns reflected types into fideslang data types and the database's own type text."""

    def __init__(self, conn: Connection, table: str, json_columns: set[tuple[str, str]]) -> None:
        self.conn, self.table, self.json_columns = conn, table, json_columns
        self._declared: dict[str, str] | None = None

    def data_type(self, name: str, kind: TypeEngine[Any], db_type: str) -> str:
        if isinstance(kind, sa.Boolean) or db_type == "TINYINT(1)":  # MySQL's BOOLEAN
            return "boolean"
        if isinstance(kind, sa.Integer):
            return "integer"
        if isinstance(kind, sa.Numeric):  # Float is a Numeric too
            return "float"
        if isinstance(kind, sa.JSON) or (self.table, name) in self.json_columns:
            return "object"
        return "string"

    def text(self, name: str, kind: TypeEngine[Any]) -> str:
        if not isinstance(kind, NullType):
            try:
                compiled = kind.compile(dialect=self.conn.dialect)
            except sa_exc.CompileError:
                compiled = ""
            if compiled:
                return _CHARSET.sub("", compiled).replace(", ", ",")
        if self.conn.dialect.name == "sqlite":
            return self._sqlite_declared().get(name) or "UNKNOWN"
        return "UNKNOWN"

    def _sqlite_declared(self) -> dict[str, str]:
        """SQLite keeps the declared type text as written; used when SQLAlchemy has no type."""
        if self._declared is None:
            quoted = self.conn.dialect.identifier_preparer.quote(self.table)
            rows = self.conn.exec_driver_sql(f"PRAGMA table_xinfo({quoted})").all()
            self._declared = {str(r[1]): str(r[2]).upper() for r in rows}
        return self._declared


def _column(raw: Mapping[str, Any], pk: set[str], unique: set[str], types: _Types) -> DbColumn:
    name, kind = str(raw["name"]), raw["type"]
    db_type = types.text(name, kind)
    length = getattr(kind, "length", None)
    sized = isinstance(kind, sa.String) and not isinstance(kind, sa.Enum)
    return DbColumn(
        name=name,
        data_type=types.data_type(name, kind, db_type),
        db_type=db_type,
        length=length if sized and isinstance(length, int) and length > 0 else None,
        nullable=bool(raw.get("nullable", True)) and name not in pk,
        unique=name in unique,
        primary_key=name in pk,
    )


def _foreign_keys(
    table: str,
    raw: Sequence[Mapping[str, Any]],
    schema: str | None,
    tables: Sequence[str],
    notes: list[str],
) -> tuple[DbForeignKey, ...]:
    out = []
    for fk in raw:
        columns = tuple(fk.get("constrained_columns") or ())
        parents = tuple(fk.get("referred_columns") or ())
        parent, parent_schema = fk.get("referred_table"), fk.get("referred_schema")
        if parent_schema not in (None, schema) or parent not in tables:
            notes.append(f"{table}: foreign key to {parent_schema}.{parent} is outside this schema")
            continue
        if not columns or len(columns) != len(parents):
            notes.append(f"{table}: foreign key to {parent} without matching columns, left out")
            continue
        on_delete = (fk.get("options") or {}).get("ondelete")
        out.append(DbForeignKey(columns, str(parent), parents, on_delete))
    return tuple(sorted(out, key=lambda f: (f.columns, f.parent_table, f.parent_columns)))


def _mariadb_json_columns(conn: Connection, schema: str | None) -> set[tuple[str, str]]:
    """MariaDB's JSON is LONGTEXT with a `json_valid(col)` check; the inspector misses those."""
    if not getattr(conn.dialect, "is_mariadb", False) or not schema:
        return set()
    rows = conn.execute(
        sa.text(
            "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS "
            "WHERE CONSTRAINT_SCHEMA = :schema"
        ),
        {"schema": schema},
    ).all()
    found = set()
    for table, clause in rows:
        match = _JSON_CHECK.fullmatch(str(clause).strip())
        if match:
            found.add((str(table), match.group(1)))
    return found


def _failure(url: URL, exc: BaseException) -> ConnectorFailure:
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorname", None)
    if code is None and isinstance(getattr(orig, "args", None), tuple) and orig.args:
        first = orig.args[0]
        code = str(first) if isinstance(first, int) else None
    text = f"{code or ''!s} {orig}"
    cause = next((label for pattern, label in _CAUSES if pattern.search(text)), "failed")
    detail = type(exc).__name__ + (f", {code}" if code and re.fullmatch(r"\w{1,16}", code) else "")
    return ConnectorFailure(f"cannot read {describe(url)}: {cause} ({detail})")
