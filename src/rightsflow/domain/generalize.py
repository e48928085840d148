"""Generalization: dates truncated to their year, month or day; numbers floored to a bucket.

Values keep their form: a `date` stays a `date`, an ISO string stays an ISO string of the same
shape (separator, precision, timezone suffix), a decimal string ("193.95", as rows come back
from NUMERIC columns) stays a string with at least its scale. Errors never quote the value.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation, localcontext

_ISO = re.compile(
    r"^(?P<y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})"
    r"(?:(?P<sep>[T ])(?P<h>\d{2}):(?P<min>\d{2})(?::(?P<s>\d{2})(?P<frac>\.\d+)?)?"
    r"(?P<tz>Z|[+-]\d{2}(?::?\d{2})?)?)?$"
)


def truncate_date(value: object, granularity: str) -> date | str:
    """The first instant of the value's year, month or day (midnight, same timezone)."""
    if isinstance(value, datetime):
        day = _first_day(value.date(), granularity)
        return datetime.combine(day, datetime.min.time(), tzinfo=value.tzinfo)
    if isinstance(value, date):
        return _first_day(value, granularity)
    if isinstance(value, str):
        return _truncate_iso(value.strip(), granularity)
    raise TypeError("is not a date")


def _first_day(day: date, granularity: str) -> date:
    if granularity == "year":
        return day.replace(month=1, day=1)
    if granularity == "month":
        return day.replace(day=1)
    return day


def _truncate_iso(text: str, granularity: str) -> str:
    match = _ISO.match(text)
    if match is None:
        raise ValueError("is not an ISO date")
    try:
        day = date(int(match["y"]), int(match["m"]), int(match["d"]))
    except ValueError:
        raise ValueError("is not a valid calendar date") from None
    out = _first_day(day, granularity).isoformat()
    if match["sep"]:
        out += match["sep"] + "00:00"
        if match["s"]:
            out += ":00"
        if match["frac"]:
            out += "." + "0" * (len(match["frac"]) - 1)
        out += match["tz"] or ""
    return out


def floor_number(value: object, granularity: float) -> int | float | Decimal | str:
    """The start of the value's bucket: floor(value / granularity) * granularity."""
    if isinstance(value, bool):
        raise TypeError("is a boolean, not a number")
    number = _decimal(value)
    bucket = Decimal(str(granularity))
    if bucket == bucket.to_integral_value():
        bucket = bucket.quantize(Decimal(1))  # 10.0 from YAML floors like 10
    with localcontext() as ctx:
        ctx.prec = max(ctx.prec, len(number.as_tuple().digits) + 30)
        floored = (number / bucket).to_integral_value(rounding=ROUND_FLOOR) * bucket
    if isinstance(value, int):
        return int(floored.to_integral_value(rounding=ROUND_FLOOR))
    if isinstance(value, float):
        return float(floored)
    exponent = min(_exponent(number), _exponent(bucket), 0)
    floored = floored.quantize(Decimal(1).scaleb(exponent))
    return floored if isinstance(value, Decimal) else format(floored, "f")


def _decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int | float):
        number = Decimal(str(value))  # str: the float as written, not its binary expansion
    elif isinstance(value, str):
        try:
            number = Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("is not a number") from None
    else:
        raise TypeError("is not a number")
    if not number.is_finite():
        raise ValueError("is not a finite number")
    return number


def _exponent(number: Decimal) -> int:
    exponent = number.as_tuple().exponent
    return exponent if isinstance(exponent, int) else 0
