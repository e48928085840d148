"""The `sql` connector: relational databases through SQLAlchemy Core (PostgreSQL, SQLite, ...).

Set-based throughout: lookups and keys are deduplicated and sent in chunks of `chunk_size`
values, one Engine (and pool) per connector, never a connection per row. Erasure is guarded
(`... AND NOT (col IS NOT DISTINCT FROM :value ...)`), so a retried mask changes nothing twice
and the counts it returns are rows that really changed.

Failures become `ConnectorFailure` with the collection, the error class and a database error
code only: never SQL text or parameter values, which may hold personal data. The original
exception is not chained, so a logged traceback cannot leak it either.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine, make_url

from rightsflow.connectors.base import ConnectorSpec, Row, RowChange, Scalar
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode

T = TypeVar("T")
KeyTuple = tuple[Scalar, ...]
_INTEGER = re.compile(r"[-+]?\d{1,19}")


class SqlConfig(BaseModel):
    """Configuration of one `sql` system. `url` may hold a password: it is never echoed."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, populate_by_name=True, hide_input_in_errors=True
    )

    url: str = Field(min_length=1, repr=False)
    # "schema" would shadow a BaseModel attribute; the config key is still `schema`.
    db_schema: str | None = Field(default=None, alias="schema")
    chunk_size: int = Field(default=1000, ge=1, le=30_000)
    pool_size: int = Field(default=5, ge=1, le=100)
    connect_timeout: float = Field(default=10, gt=0, le=600)

    @field_validator("url")
    @classmethod
    def _parseable(cls, value: str) -> str:
        try:
            make_url(value)
        except (sa_exc.ArgumentError, ValueError):
            raise ValueError(
                "not a valid database URL (e.g. postgresql://user@host/db or sqlite:///path)"
            ) from None
        return value

    def engine_url(self) -> URL:
        """The URL to connect with: plain `postgresql://` uses the psycopg 3 driver."""
        url = make_url(self.url)
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        return url


class SqlConnector:
    """One configured database. Thread-safe; the Engine and reflected tables are shared."""

    def __init__(self, config: SqlConfig, *, label: str = "sql connector") -> None:
        self._config = config
        self._label = label
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._tables: dict[str, sa.Table] = {}

    @property
    def engine(self) -> Engine:
        """The connector's one Engine, created on first use."""
        with self._lock:
            if self._engine is None:
                self._engine = self._call(self._label, lambda: _create_engine(self._config))
            return self._engine

    # -- the Connector protocol -------------------------------------------------------------

    def retrieve(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> list[Row]:
        wanted = _lookup_values(node, lookups)
        if not wanted:
            return []
        return self._call(node.address, lambda: self._retrieve(node, wanted))

    def fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        if not keys:
            return []
        return self._call(node.address, lambda: self._fetch_by_keys(node, keys))

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        if not changes:
            return 0
        return self._call(node.address, lambda: self._mask(node, changes))

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> int:
        if not keys:
            return 0
        return self._call(node.address, lambda: self._delete(node, keys))

    def check(self) -> None:
        def ping() -> None:
            with self.engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))

        self._call(self._label, ping)

    def close(self) -> None:
        """Release the pool; the connector reconnects if used again."""
        with self._lock:
            engine, self._engine = self._engine, None
            self._tables.clear()
        if engine is not None:
            engine.dispose()

    # -- the work -----------------------------------------------------------------------------

    def _retrieve(self, node: PlanNode, wanted: dict[str, list[Scalar]]) -> list[Row]:
        table = self._table(node)
        by_name = {column.name: column for column in _columns(table, node, wanted)}
        wanted = {name: _coerce(by_name[name], values) for name, values in wanted.items()}
        conditions = (
            sa.or_(*(by_name[name].in_(values) for name, values in chunk.items()))
            for chunk in _lookup_chunks(wanted, self._config.chunk_size)
        )
        return self._select(node, table, _primary_key(table, node, required=False), conditions)

    def _fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        table = self._table(node)
        key_names = _primary_key(table, node)
        key_columns = _columns(table, node, key_names)
        chunks = _batched(_key_tuples(node, key_names, keys), self._key_chunk(key_names))
        conditions = (_key_condition(key_columns, chunk) for chunk in chunks)
        return self._select(node, table, key_names, conditions)

    def _select(
        self,
        node: PlanNode,
        table: sa.Table,
        key_names: Sequence[str],
        conditions: Iterable[sa.ColumnElement[bool]],
    ) -> list[Row]:
        """`node.fetch_fields` of the rows matching any condition, once each (by key)."""
        fields = list(node.fetch_fields)
        selected = _columns(table, node, [*fields, *key_names])
        rows: dict[object, Row] = {}
        with self.engine.connect() as conn:
            for condition in conditions:
                for found in conn.execute(sa.select(*selected).where(condition)).mappings():
                    identity = _row_identity(found, key_names)
                    rows.setdefault(identity, {name: found[name] for name in fields})
        return list(rows.values())

    def _mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        table = self._table(node)
        key_names = _primary_key(table, node)
        key_columns = _columns(table, node, key_names)
        groups = _group_changes(node, key_names, changes)
        _columns(table, node, [name for values, _ in groups for name in values])
        return self._write(
            sa.update(table)
            .where(
                _key_condition(key_columns, chunk),
                # Rows already holding every value are left alone: exactly-once under retries.
                sa.not_(sa.and_(*(table.c[n].is_not_distinct_from(v) for n, v in values.items()))),
            )
            .values(values)
            for values, keys in groups
            for chunk in _batched(keys, self._key_chunk(key_names))
        )

    def _delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> int:
        table = self._table(node)
        key_names = _primary_key(table, node)
        key_columns = _columns(table, node, key_names)
        chunks = _batched(_key_tuples(node, key_names, keys), self._key_chunk(key_names))
        return self._write(sa.delete(table).where(_key_condition(key_columns, c)) for c in chunks)

    def _write(self, statements: Iterable[sa.Update | sa.Delete]) -> int:
        """Run the statements in one transaction; the number of rows they changed."""
        total = 0
        with self.engine.begin() as conn:
            for statement in statements:
                total += conn.execute(statement).rowcount
        return total

    def _table(self, node: PlanNode) -> sa.Table:
        name = node.collection
        with self._lock:
            cached = self._tables.get(name)
        if cached is not None:
            return cached
        metadata = sa.MetaData(schema=self._config.db_schema)
        table = sa.Table(name, metadata, autoload_with=self.engine, resolve_fks=False)
        with self._lock:
            return self._tables.setdefault(name, table)

    def _key_chunk(self, key_names: Sequence[str]) -> int:
        return max(1, self._config.chunk_size // max(1, len(key_names)))

    def _call(self, where: str, work: Callable[[], T]) -> T:
        """Run `work`, turning SQLAlchemy errors into a `ConnectorFailure` that is safe to log."""
        try:
            return work()
        except ConnectorFailure:
            raise
        except sa_exc.SQLAlchemyError as exc:
            failure = _translate(where, exc)
        # Raised outside the handler on purpose: no __context__ holding SQL and parameters.
        raise failure


def _create_engine(config: SqlConfig) -> Engine:
    url = config.engine_url()
    if url.get_backend_name() == "sqlite":
        # sqlite3's `timeout` is SQLite's busy timeout: wait for a writer (WAL or not) rather
        # than fail at once. The journal mode is the system owner's choice and is left alone.
        engine = sa.create_engine(
            url, pool_size=config.pool_size, connect_args={"timeout": config.connect_timeout}
        )
        sa.event.listen(engine, "connect", _enforce_foreign_keys)
        return engine
    connect_args: dict[str, Any] = {}
    if url.get_backend_name() == "postgresql":
        connect_args["connect_timeout"] = max(1, math.ceil(config.connect_timeout))
    return sa.create_engine(
        url,
        pool_size=config.pool_size,
        max_overflow=config.pool_size,
        pool_timeout=config.connect_timeout,
        pool_pre_ping=True,
        connect_args=connect_args,
    )


def _enforce_foreign_keys(dbapi_connection: Any, _record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


# -- statement helpers ---------------------------------------------------------------------------


def _lookup_values(
    node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]
) -> dict[str, list[Scalar]]:
    """Lookup values per field, deduplicated, NULLs dropped (NULL never matches `IN`)."""
    wanted: dict[str, list[Scalar]] = {}
    for name, values in lookups.items():
        if "." in name:
            raise ConnectorFailure(
                f"{node.address}: nested lookups are not supported by the sql connector yet",
                retryable=False,
            )
        unique: list[Scalar] = [value for value in dict.fromkeys(values) if value is not None]
        if unique:
            wanted[name] = unique
    return wanted


def _coerce(column: sa.Column[Any], values: Iterable[Scalar]) -> list[Scalar]:
    """Values in the column's Python type (`"42"` for an integer column is 42); a value that
    cannot have that type cannot match, and is dropped rather than sent."""
    try:
        kind = column.type.python_type
    except NotImplementedError:
        return list(values)
    coerced: dict[Scalar, None] = {}
    for value in values:
        if kind is int and isinstance(value, str):
            if _INTEGER.fullmatch(value.strip()):
                coerced[int(value)] = None
        elif kind is str and isinstance(value, int | float) and not isinstance(value, bool):
            coerced[str(value)] = None
        else:
            coerced[value] = None
    return list(coerced)


def _lookup_chunks(
    wanted: Mapping[str, list[Scalar]], size: int
) -> Iterator[dict[str, list[Scalar]]]:
    """Chunks holding at most `size` values in all, over all lookup fields."""
    chunk: dict[str, list[Scalar]] = {}
    count = 0
    for name, values in wanted.items():
        for value in values:
            chunk.setdefault(name, []).append(value)
            count += 1
            if count == size:
                yield chunk
                chunk, count = {}, 0
    if chunk:
        yield chunk


def _batched(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _columns(table: sa.Table, node: PlanNode, names: Iterable[str]) -> list[sa.Column[Any]]:
    unique = list(dict.fromkeys(names))
    missing = [name for name in unique if name not in table.c]
    if missing:
        raise ConnectorFailure(
            f"{node.address}: column(s) {', '.join(missing)} not found in table {table.name}",
            retryable=False,
        )
    return [table.c[name] for name in unique]


def _primary_key(table: sa.Table, node: PlanNode, *, required: bool = True) -> tuple[str, ...]:
    """The data map's primary key, else the table's; required for key-based operations."""
    names = node.primary_key or tuple(column.name for column in table.primary_key.columns)
    if required and not names:
        raise ConnectorFailure(
            f"{node.address}: no primary key in the data map or the table", retryable=False
        )
    return names


def _key_tuples(
    node: PlanNode, key_names: Sequence[str], keys: Iterable[Mapping[str, Scalar]]
) -> list[KeyTuple]:
    tuples: dict[KeyTuple, None] = {}
    for key in keys:
        missing = [name for name in key_names if name not in key]
        if missing:
            raise ConnectorFailure(
                f"{node.address}: a key lacks primary key field(s) {', '.join(missing)}",
                retryable=False,
            )
        tuples[tuple(key[name] for name in key_names)] = None
    return list(tuples)


def _key_condition(
    key_columns: Sequence[sa.Column[Any]], chunk: Sequence[KeyTuple]
) -> sa.ColumnElement[bool]:
    if len(key_columns) == 1:
        return key_columns[0].in_([key[0] for key in chunk])
    return sa.tuple_(*key_columns).in_(list(chunk))


def _group_changes(
    node: PlanNode, key_names: Sequence[str], changes: Iterable[RowChange]
) -> list[tuple[dict[str, Any], list[KeyTuple]]]:
    """Changes with equal `values`, grouped: one UPDATE (per chunk) for each group."""
    groups: dict[object, tuple[dict[str, Any], dict[KeyTuple, None]]] = {}
    for change in changes:
        if not change.values:
            continue
        values = dict(change.values)
        signature = tuple(sorted((name, _freeze(value)) for name, value in values.items()))
        _, keys = groups.setdefault(signature, (values, {}))
        keys.update(dict.fromkeys(_key_tuples(node, key_names, [change.key])))
    return [(values, list(keys)) for values, keys in groups.values()]


def _freeze(value: Any) -> object:
    try:
        hash(value)
    except TypeError:
        return (type(value).__name__, repr(value))
    return (type(value).__name__, value)


def _row_identity(found: sa.RowMapping, key_names: Sequence[str]) -> object:
    if key_names:
        return tuple(found[name] for name in key_names)
    return tuple(_freeze(value) for value in found.values())


# -- failures ----------------------------------------------------------------------------------

# Only the object's name is taken from these messages: they carry identifiers, never values.
_MISSING = re.compile(
    r"no such (?P<kind1>table|column): (?P<name1>[\w.]+)"
    r'|(?P<kind2>relation|column) "?(?P<name2>[\w.]+)"?( of relation "?[\w.]+"?)? does not exist'
)
# psycopg reports what the server said while connecting without a SQLSTATE.
_REFUSED = re.compile(
    r'FATAL:\s+(password authentication failed|(database|role) "[^"]*" does not exist'
    r"|no pg_hba\.conf entry)"
)
_IDENTIFIER = re.compile(r"[\w.$]{1,128}")


def _translate(where: str, exc: sa_exc.SQLAlchemyError) -> ConnectorFailure:
    text, retryable = _classify(exc)
    return ConnectorFailure(f"{where}: {text}", retryable=retryable)


_DBAPI_ERRORS: tuple[tuple[type[sa_exc.DBAPIError], str, bool], ...] = (
    (sa_exc.OperationalError, "database operation failed", True),
    (sa_exc.InterfaceError, "database operation failed", True),
    (sa_exc.IntegrityError, "constraint violated", False),
    (sa_exc.DataError, "value rejected by the database", False),
)


def _classify(exc: sa_exc.SQLAlchemyError) -> tuple[str, bool]:
    name = type(exc).__name__
    if isinstance(exc, sa_exc.DBAPIError):
        return _classify_dbapi(exc)
    if isinstance(exc, sa_exc.NoSuchTableError):
        return f"table {_safe(str(exc))} not found", False
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return f"database unreachable ({name})", True
    return f"connector error ({name})", False


def _classify_dbapi(exc: sa_exc.DBAPIError) -> tuple[str, bool]:
    code = _error_code(exc.orig)
    constraint = _constraint_name(exc.orig)
    detail = ", ".join(
        filter(None, [type(exc).__name__, code, constraint and f"constraint {constraint}"])
    )
    missing = _missing_object(exc.orig)
    if missing and isinstance(exc, sa_exc.ProgrammingError | sa_exc.OperationalError):
        return f"{missing} not found ({detail})", False
    if _refused(exc.orig, code):  # bad credentials or no such database: retrying won't help
        return f"database refused the connection ({detail})", False
    operational = isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    if exc.connection_invalidated or (operational and _is_unreachable(exc.orig, code)):
        return f"database unreachable ({detail})", True
    for kind, text, retryable in _DBAPI_ERRORS:
        if isinstance(exc, kind):
            return f"{text} ({detail})", retryable
    return f"statement rejected by the database ({detail})", False


def _error_code(orig: BaseException | None) -> str | None:
    """PostgreSQL SQLSTATE or SQLite error name: codes, never messages."""
    for attribute in ("sqlstate", "pgcode", "sqlite_errorname"):
        code = getattr(orig, attribute, None)
        if isinstance(code, str) and _IDENTIFIER.fullmatch(code):
            return code
    return None


def _is_unreachable(orig: BaseException | None, code: str | None) -> bool:
    if code is None:
        # psycopg reports failures to connect (refused, timed out, DNS) without a SQLSTATE.
        return hasattr(orig, "sqlstate")
    return code.startswith("08") or code in {"57P01", "57P02", "57P03", "SQLITE_CANTOPEN"}


def _refused(orig: BaseException | None, code: str | None) -> bool:
    if code is not None:
        return code.startswith("28") or code == "3D000"
    return _REFUSED.search(str(orig)) is not None


def _missing_object(orig: BaseException | None) -> str | None:
    match = _MISSING.search(str(orig).split("\n", 1)[0]) if orig is not None else None
    if match is None:
        return None
    kind = match["kind1"] or ("table" if match["kind2"] == "relation" else "column")
    return f"{kind} {match['name1'] or match['name2']}"


def _constraint_name(orig: BaseException | None) -> str | None:
    name = getattr(getattr(orig, "diag", None), "constraint_name", None)
    return name if isinstance(name, str) and _IDENTIFIER.fullmatch(name) else None


def _safe(identifier: str) -> str:
    return identifier if _IDENTIFIER.fullmatch(identifier) else "(unnamed)"


def _create(config: SqlConfig) -> SqlConnector:
    return SqlConnector(config)


SQL_CONNECTOR: ConnectorSpec[SqlConfig] = ConnectorSpec(
    kind="sql",
    config_model=SqlConfig,
    factory=_create,
    capabilities=frozenset({"retrieve", "mask", "delete"}),
    description="Relational databases through SQLAlchemy Core (PostgreSQL, SQLite, ...)",
)
