"""MySQL/MariaDB error numbers are classified by number, never by message text; the `sql`
connector's value conversions."""

from __future__ import annotations

import base64
from datetime import date, datetime
from decimal import Decimal

import pymysql
import pytest
import sqlalchemy as sa
from sqlalchemy import exc as sa_exc

from rightsflow.connectors.sql import SqlConfig
from rightsflow.connectors.sql_errors import classify
from rightsflow.connectors.sql_values import Uncoercible, coerce, coerce_lookups


def mysql_error(
    wrapper: type[sa_exc.DBAPIError], code: int, message: str, *, invalidated: bool = False
) -> sa_exc.DBAPIError:
    orig = pymysql.err.OperationalError(code, message)
    return wrapper("UPDATE t SET x = %s", ("jane",), orig, connection_invalidated=invalidated)


@pytest.mark.parametrize(
    ("code", "text", "retryable"),
    [
        (1146, "table not found", False),
        (1054, "column not found", False),
        (1045, "database refused the connection", False),
        (1049, "database refused the connection", False),
        (2003, "database unreachable", True),
        (2006, "database unreachable", True),
        (2013, "database unreachable", True),
        (1205, "database busy, lock wait or deadlock", True),
        (1213, "database busy, lock wait or deadlock", True),
        (1062, "constraint violated", False),
        (1451, "constraint violated", False),
        (1452, "constraint violated", False),
        (1142, "statement rejected by the database", False),  # not retryable as "Operational"
    ],
)
def test_mysql_error_numbers(code: int, text: str, retryable: bool) -> None:
    result = classify(mysql_error(sa_exc.OperationalError, code, "Jane Roe's row 'jane'"))
    assert result.text.startswith(text)
    assert result.text.endswith(f"(OperationalError, {code})")
    assert result.retryable is retryable
    assert "jane" not in result.text.lower()


def test_mysql_constraint_names_come_from_their_fixed_place_only() -> None:
    duplicate = "Duplicate entry 'x' for key 'fake' for key 'customers_email_key'"
    result = classify(mysql_error(sa_exc.IntegrityError, 1062, duplicate))
    assert (
        result.text == "constraint violated (IntegrityError, 1062, constraint customers_email_key)"
    )
    fk = (
        "Cannot delete or update a parent row: a foreign key constraint fails (`db`.`orders`, "
        "CONSTRAINT `orders_fk` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`))"
    )
    result = classify(mysql_error(sa_exc.IntegrityError, 1451, fk))
    assert result.text == "constraint violated (IntegrityError, 1451, constraint orders_fk)"
    odd = classify(mysql_error(sa_exc.IntegrityError, 1062, "Duplicate entry 'jane doe'"))
    assert odd.text == "constraint violated (IntegrityError, 1062)"


def test_a_dropped_connection_is_retryable_whatever_its_number() -> None:
    result = classify(mysql_error(sa_exc.OperationalError, 0, "", invalidated=True))
    assert result.retryable is True


def test_an_int_first_argument_from_another_driver_is_not_a_mysql_number() -> None:
    class Other(Exception):
        pass

    error = sa_exc.OperationalError("SELECT 1", None, Other(1146, "x"))
    assert classify(error).text == "database operation failed (OperationalError)"


@pytest.mark.parametrize(
    ("url", "driver"),
    [
        ("mysql://u@h/db", "mysql+pymysql"),
        ("mariadb://u@h/db", "mariadb+pymysql"),
        ("mysql+pymysql://u@h/db", "mysql+pymysql"),
        ("mysql+mysqldb://u@h/db", "mysql+mysqldb"),
        ("postgresql://u@h/db", "postgresql+psycopg"),
        ("sqlite:///x.db", "sqlite"),
    ],
)
def test_bare_schemes_get_the_installed_driver(url: str, driver: str) -> None:
    assert SqlConfig(url=url).engine_url().drivername == driver


def column(kind: sa.types.TypeEngine[object]) -> sa.Column[object]:
    return sa.Column("c", kind)


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (sa.Integer(), " 42 ", 42),
        (sa.BigInteger(), 2**62, 2**62),
        (sa.Integer(), True, 1),
        (sa.Integer(), 3.0, 3),
        (sa.Numeric(10, 2), "19.95", Decimal("19.95")),
        (sa.Numeric(10, 2), 0.1, Decimal("0.1")),
        (sa.Float(), "1.5", 1.5),
        (sa.String(), 7, "7"),
        (sa.String(), {"a": 1}, '{"a":1}'),
        (sa.Boolean(), "false", False),
        (sa.Date(), "2001-02-03", date(2001, 2, 3)),
        (sa.DateTime(), "2001-02-03T04:05:06", datetime.fromisoformat("2001-02-03T04:05:06")),
        (sa.LargeBinary(), base64.b64encode(b"\x00\xff").decode(), b"\x00\xff"),
        (sa.JSON(), '{"a": [1]}', {"a": [1]}),
        (sa.JSON(), "[masked]", "[masked]"),
        (sa.JSON(), {"a": 1}, {"a": 1}),
        (sa.Date(), None, None),
    ],
)
def test_values_are_converted_to_the_column_type(
    kind: sa.types.TypeEngine[object], value: object, expected: object
) -> None:
    converted = coerce(column(kind), value)
    assert converted == expected
    assert type(converted) is type(expected)


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        (sa.Integer(), "12.5"),
        (sa.Integer(), 1.5),
        (sa.Numeric(), "jane"),
        (sa.String(), True),
        (sa.Boolean(), 2),
        (sa.Date(), "2001-02-03T00:00:00"),
        (sa.DateTime(), "yesterday"),
        (sa.LargeBinary(), "not base64!"),
    ],
)
def test_values_that_cannot_have_the_type_are_refused(
    kind: sa.types.TypeEngine[object], value: object
) -> None:
    with pytest.raises(Uncoercible) as caught:
        coerce(column(kind), value)
    assert str(caught.value) == "c"
    assert caught.value.__context__ is None


def test_lookups_drop_values_that_cannot_match() -> None:
    assert coerce_lookups(column(sa.Integer()), ["1", 1, "x", None, 2.0]) == [1, 2]
