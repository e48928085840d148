"""Database errors of the `sql` connector, classified so they are safe to log.

The result names the error class and a database error code (PostgreSQL SQLSTATE, SQLite error
name, MySQL/MariaDB error number) and, where the driver reports it as a separate field or the
message has a fixed shape, an identifier (table, column, constraint): never message text, SQL
or parameter values, which may hold personal data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import exc as sa_exc

Missing = Literal["table", "column"]


@dataclass(frozen=True)
class Classified:
    """What went wrong, in words safe to log. `missing`: a table or column is gone; `named`:
    the text names it; `detail`: the error class and code."""

    text: str
    retryable: bool
    missing: Missing | None = None
    named: bool = True
    detail: str = ""


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
# SQLite names no constraint, but the columns (or a CHECK's name) of the one that failed.
_SQLITE_CONSTRAINT = re.compile(
    r"^(?:UNIQUE|NOT NULL|CHECK|PRIMARY KEY) constraint failed: (?P<name>[\w.$]+(?:, [\w.$]+)*)$"
)

# MySQL/MariaDB error numbers (pymysql and mysqlclient put the int in `args[0]`).
_MYSQL_MISSING: dict[int, Missing] = {1146: "table", 1054: "column"}
_MYSQL_REFUSED = frozenset({1044, 1045, 1049, 1698})  # access denied, unknown database
_MYSQL_UNREACHABLE = frozenset({1040, 1053, 2002, 2003, 2005, 2006, 2013, 2055})
_MYSQL_BUSY = frozenset({1205, 1213})  # lock wait timeout, deadlock: the statement was undone
_MYSQL_CONSTRAINT = frozenset({1062, 1451, 1452, 1216, 1217, 3819, 4025})
# MySQL messages name the constraint in a fixed place; the value (1062) comes before it.
_MYSQL_CONSTRAINT_NAME = re.compile(r"CONSTRAINT `(?P<fk>[^`]+)`|for key '(?P<key>[^']+)'$")
_MYSQL_ERRORS: tuple[tuple[frozenset[int], str, bool], ...] = (
    (_MYSQL_REFUSED, "database refused the connection", False),
    (_MYSQL_UNREACHABLE, "database unreachable", True),
    (_MYSQL_BUSY, "database busy, lock wait or deadlock", True),
    (_MYSQL_CONSTRAINT, "constraint violated", False),
)
_MYSQL_DRIVERS = frozenset({"pymysql", "MySQLdb", "mysql", "mariadb"})


def classify(exc: sa_exc.SQLAlchemyError) -> Classified:
    name = type(exc).__name__
    if isinstance(exc, sa_exc.DBAPIError):
        mysql = _mysql_code(exc.orig)
        return _classify_mysql(exc, mysql) if mysql is not None else _classify_dbapi(exc)
    if isinstance(exc, sa_exc.NoSuchTableError):
        named = _IDENTIFIER.fullmatch(str(exc)) is not None  # MySQL quotes it: `db`.`name`
        return Classified(f"table {_safe(str(exc))} not found", False, "table", named=named)
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return Classified(f"database unreachable ({name})", True)
    return Classified(f"connector error ({name})", False)


_DBAPI_ERRORS: tuple[tuple[type[sa_exc.DBAPIError], str, bool], ...] = (
    (sa_exc.OperationalError, "database operation failed", True),
    (sa_exc.InterfaceError, "database operation failed", True),
    (sa_exc.IntegrityError, "constraint violated", False),
    (sa_exc.DataError, "value rejected by the database", False),
)


def _classify_dbapi(exc: sa_exc.DBAPIError) -> Classified:
    code = _error_code(exc.orig)
    detail = _detail(exc, code, _constraint_name(exc.orig))
    missing = _missing_object(exc.orig)
    if missing and isinstance(exc, sa_exc.ProgrammingError | sa_exc.OperationalError):
        kind, _, _ = missing.partition(" ")
        return Classified(
            f"{missing} not found ({detail})", False, _as_missing(kind), detail=detail
        )
    if _refused(exc.orig, code):  # bad credentials or no such database: retrying won't help
        return Classified(f"database refused the connection ({detail})", False)
    operational = isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
    if exc.connection_invalidated or (operational and _is_unreachable(exc.orig, code)):
        return Classified(f"database unreachable ({detail})", True)
    for kind_of_error, text, retryable in _DBAPI_ERRORS:
        if isinstance(exc, kind_of_error):
            return Classified(f"{text} ({detail})", retryable)
    return Classified(f"statement rejected by the database ({detail})", False)


def _classify_mysql(exc: sa_exc.DBAPIError, code: int) -> Classified:
    """By error number only: pymysql raises OperationalError for many errors that retrying
    cannot fix (unknown column, access denied), so the class alone says little."""
    constraint = _mysql_constraint(exc.orig) if code in _MYSQL_CONSTRAINT else None
    detail = _detail(exc, str(code), constraint)
    if code in _MYSQL_MISSING:
        kind = _MYSQL_MISSING[code]
        return Classified(f"{kind} not found ({detail})", False, kind, named=False, detail=detail)
    if exc.connection_invalidated:
        return Classified(f"database unreachable ({detail})", True)
    for codes, text, retryable in _MYSQL_ERRORS:
        if code in codes:
            return Classified(f"{text} ({detail})", retryable)
    for kind_of_error, text, retryable in _DBAPI_ERRORS[2:]:  # not by the (unreliable) class
        if isinstance(exc, kind_of_error):
            return Classified(f"{text} ({detail})", retryable)
    return Classified(f"statement rejected by the database ({detail})", False)


def _detail(exc: sa_exc.DBAPIError, code: str | None, constraint: str | None) -> str:
    return ", ".join(
        filter(None, [type(exc).__name__, code, constraint and f"constraint {constraint}"])
    )


def _mysql_code(orig: BaseException | None) -> int | None:
    if orig is None or type(orig).__module__.split(".")[0] not in _MYSQL_DRIVERS:
        return None
    code = orig.args[0] if orig.args else None
    return code if isinstance(code, int) and not isinstance(code, bool) else None


def _mysql_constraint(orig: BaseException | None) -> str | None:
    message = orig.args[1] if orig is not None and len(orig.args) > 1 else None
    if not isinstance(message, str):
        return None
    match = _MYSQL_CONSTRAINT_NAME.search(message.strip())
    name = match and (match["fk"] or match["key"])
    return name if name and _IDENTIFIER.fullmatch(name) else None


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


def _as_missing(kind: str) -> Missing:
    return "table" if kind == "table" else "column"


def _constraint_name(orig: BaseException | None) -> str | None:
    name = getattr(getattr(orig, "diag", None), "constraint_name", None)
    if name is None and getattr(orig, "sqlite_errorname", None):
        match = _SQLITE_CONSTRAINT.match(str(orig))
        name = match and match["name"]
    return name if isinstance(name, str) and _IDENTIFIER.fullmatch(name) else None


def _safe(identifier: str) -> str:
    return identifier if _IDENTIFIER.fullmatch(identifier) else "(unnamed)"
