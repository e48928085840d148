"""Masking strategies over one value, and category matching."""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightsflow.domain.categories import best_match, is_known, matches
from rightsflow.domain.masking import (
    ENCRYPTED_PREFIX,
    CannotMask,
    CannotReveal,
    MaskContext,
    MaskKeys,
    encrypted_length,
    masked_value,
    reveal,
)
from rightsflow.domain.policy import MaskRule, MaskStrategy

KEYS = MaskKeys(hash_key=b"h" * 32, encrypt_key=b"e" * 32)
OTHER_KEYS = MaskKeys(hash_key=b"H" * 32, encrypt_key=b"E" * 32)
SALT = b"shop:customers|[1]|email"
TEXT = MaskContext()
NULL = MaskRule(category="user.contact")
FIXED = MaskRule(category="user.name", strategy=MaskStrategy.FIXED, value="MASKED")
HASH = MaskRule(category="user.contact.email", strategy=MaskStrategy.HASH)
RANDOM = MaskRule(category="user.contact.email", strategy=MaskStrategy.RANDOM)
ENCRYPT = MaskRule(category="user.contact.email", strategy=MaskStrategy.ENCRYPT)
DELETE = MaskRule(category="user", strategy=MaskStrategy.DELETE)
ALL = [NULL, FIXED, HASH, RANDOM, ENCRYPT, DELETE] + [
    MaskRule(category="user", strategy=MaskStrategy.GENERALIZE, granularity=g) for g in ("year", 10)
]


def mask(
    rule: MaskRule,
    value: object,
    context: MaskContext = TEXT,
    salt: bytes = SALT,
    keys: MaskKeys = KEYS,
) -> object:
    return masked_value(rule, value, context=context, keys=keys, salt=salt)


def gen(granularity: str | float) -> MaskRule:
    return MaskRule(category="user", strategy=MaskStrategy.GENERALIZE, granularity=granularity)


@pytest.mark.parametrize("rule", ALL, ids=lambda r: f"{r.strategy}")
def test_none_stays_none_for_every_strategy(rule: MaskRule) -> None:
    assert mask(rule, None) is None
    assert mask(rule, None, MaskContext(data_type="integer", unique=True, length=3)) is None


@pytest.mark.parametrize("value", ["alice@example.com", 42, 3.5, True, {"a": 1}])
def test_null_strategy_erases_any_value(value: object) -> None:
    assert mask(NULL, value) is None


def test_delete_produces_no_value() -> None:
    with pytest.raises(CannotMask, match="delete"):
        mask(DELETE, "x")


def test_keys_are_32_bytes_and_never_printed() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        MaskKeys(hash_key=b"short", encrypt_key=b"e" * 32)
    assert "hhhh" not in repr(KEYS)


# --- fixed ---------------------------------------------------------------------------------


def test_fixed_replaces_the_value() -> None:
    assert mask(FIXED, "Alice Smith") == "MASKED"
    assert mask(FIXED, "Al") == "MASKED"  # the input's length does not matter


@pytest.mark.parametrize(("length", "expected"), [(3, "MAS"), (6, "MASKED"), (50, "MASKED")])
def test_fixed_is_truncated_to_the_column_length(length: int, expected: str) -> None:
    assert mask(FIXED, "Alice Smith", MaskContext(length=length)) == expected


def test_fixed_on_a_unique_column_keeps_a_suffix_from_the_salt() -> None:
    unique = MaskContext(unique=True, length=20)
    a, b = mask(FIXED, "Ada", unique, salt=b"row 1"), mask(FIXED, "Ada", unique, salt=b"row 2")
    assert isinstance(a, str)
    assert isinstance(b, str)
    assert a != b
    assert len(a) == 20
    assert a.startswith("MASKED-")
    assert a == mask(FIXED, "Someone else", unique, salt=b"row 1")  # salt, not value
    tight = mask(FIXED, "Ada", MaskContext(unique=True, length=15), salt=b"row 1")
    assert tight == "M" + a[6:]  # the value gives way, the suffix stays whole


def test_fixed_on_a_unique_column_too_short_for_the_suffix() -> None:
    with pytest.raises(CannotMask, match="too short"):
        mask(FIXED, "Ada", MaskContext(unique=True, length=10))


@given(st.lists(st.binary(min_size=1, max_size=40), min_size=2, max_size=50, unique=True))
def test_fixed_on_a_unique_column_never_collides(salts: list[bytes]) -> None:
    unique = MaskContext(unique=True, length=16)
    out = [mask(FIXED, "x", unique, salt=s) for s in salts]
    assert len(set(out)) == len(out)
    assert all(isinstance(v, str) and len(v) <= 16 for v in out)


@pytest.mark.parametrize(
    ("context", "value", "fixed", "expected"),
    [
        (MaskContext(data_type="integer"), 1234, "0", 0),
        (MaskContext(data_type="float"), 12.5, "-1.5", -1.5),
        (MaskContext(db_type="NUMERIC(10,2)"), "193.95", "0.00", "0.00"),
        (MaskContext(db_type="NUMERIC(10,2)"), Decimal("193.95"), "0", Decimal(0)),
        (MaskContext(data_type="boolean"), True, "false", False),
        (MaskContext(db_type="DATE"), date(1990, 5, 17), "1900-01-01", date(1900, 1, 1)),
        (MaskContext(db_type="DATE"), "1990-05-17", "1900-01-01", "1900-01-01"),
    ],
)
def test_fixed_takes_the_column_kind(
    context: MaskContext, value: object, fixed: str, expected: object
) -> None:
    rule = MaskRule(category="user", strategy=MaskStrategy.FIXED, value=fixed)
    got = mask(rule, value, context)
    assert got == expected
    assert type(got) is type(expected)


def test_fixed_that_does_not_suit_the_column() -> None:
    rule = MaskRule(category="user", strategy=MaskStrategy.FIXED, value="n/a")
    with pytest.raises(CannotMask, match="integer") as exc:
        mask(rule, 5, MaskContext(data_type="integer"))
    assert "n/a" not in str(exc.value)
    zero = MaskRule(category="user", strategy=MaskStrategy.FIXED, value="0")
    with pytest.raises(CannotMask, match="collide"):
        mask(zero, 5, MaskContext(data_type="integer", unique=True))


# --- hash ----------------------------------------------------------------------------------


def test_hash_is_keyed_hmac_sha256_and_ignores_the_salt() -> None:
    got = mask(HASH, "alice@example.com")
    assert got == hmac.new(b"h" * 32, b"alice@example.com", hashlib.sha256).hexdigest()
    assert got == mask(HASH, "alice@example.com", salt=b"another row")  # stays joinable


def test_hash_differs_across_keys_and_inputs() -> None:
    a = mask(HASH, "alice@example.com")
    assert a != mask(HASH, "alice@example.com", keys=OTHER_KEYS)
    assert a != mask(HASH, "bob@example.com")
    assert "alice" not in str(a)


def test_hash_is_truncated_to_the_column_length() -> None:
    full = mask(HASH, "alice@example.com")
    short = mask(HASH, "alice@example.com", MaskContext(length=10))
    assert isinstance(full, str)
    assert len(full) == 64
    assert short == full[:10]


def test_hash_of_a_number_in_a_text_column_hashes_its_text() -> None:
    text = MaskContext(data_type="string")
    assert mask(HASH, 1234, text) == mask(HASH, "1234", text)


@pytest.mark.parametrize("rule", [HASH, RANDOM])
@pytest.mark.parametrize(
    ("context", "low", "high"),
    [
        (MaskContext(data_type="integer"), -(2**31), 2**31 - 1),
        (MaskContext(db_type="SMALLINT"), -(2**15), 2**15 - 1),
        (MaskContext(db_type="BIGINT"), -(2**63), 2**63 - 1),
    ],
)
def test_numbers_for_integer_columns_fit_their_range(
    rule: MaskRule, context: MaskContext, low: int, high: int
) -> None:
    outs = {mask(rule, 100 + i, context, salt=bytes([i])) for i in range(50)}
    assert all(isinstance(v, int) and low <= v <= high for v in outs)
    assert len(outs) > 40


@pytest.mark.parametrize("rule", [HASH, RANDOM])
def test_numbers_for_a_numeric_column_fit_its_precision(rule: MaskRule) -> None:
    context = MaskContext(db_type="NUMERIC(5,2)")  # up to 999.99
    outs = {mask(rule, Decimal(f"{i}.25"), context, salt=bytes([i])) for i in range(50)}
    assert all(isinstance(v, Decimal) and -999 <= v <= 999 for v in outs)
    assert len(outs) > 40


def test_numbers_keep_the_form_they_came_in() -> None:
    assert isinstance(mask(HASH, 2.5, MaskContext(data_type="float")), float)
    assert isinstance(mask(HASH, 2, MaskContext(data_type="float")), float)
    assert isinstance(mask(HASH, "193.95", MaskContext(db_type="NUMERIC(10,2)")), str)
    assert isinstance(mask(HASH, Decimal("193.95"), MaskContext(db_type="DECIMAL")), Decimal)


@pytest.mark.parametrize("rule", [HASH, RANDOM])
@pytest.mark.parametrize(
    ("context", "value"),
    [
        (MaskContext(data_type="boolean"), True),
        (MaskContext(db_type="DATE"), "1990-05-17"),
        (MaskContext(), date(1990, 5, 17)),
    ],
)
def test_hash_and_random_cannot_make_booleans_or_dates(
    rule: MaskRule, context: MaskContext, value: object
) -> None:
    with pytest.raises(CannotMask, match="cannot produce"):
        mask(rule, value, context)


def test_a_uuid_column_gets_a_uuid() -> None:
    got = mask(HASH, "5b0c8b0e-8d8e-4a4e-9d5c-1f5c7f0a9b1e", MaskContext(db_type="UUID"))
    assert isinstance(got, str)
    assert len(got) == 36
    assert got.count("-") == 4


# --- random --------------------------------------------------------------------------------


def test_random_is_as_long_as_the_value_and_reproducible() -> None:
    got = mask(RANDOM, "alice@example.com")
    assert isinstance(got, str)
    assert len(got) == len("alice@example.com")
    assert got.isalnum()
    assert got == mask(RANDOM, "alice@example.com")  # a retry writes the same
    assert got != mask(RANDOM, "alice@example.com", salt=b"another row")
    assert got != mask(RANDOM, "alice@example.com", keys=OTHER_KEYS)


def test_random_does_not_depend_on_the_value_beyond_its_length() -> None:
    assert mask(RANDOM, "aaaa") == mask(RANDOM, "bbbb")


def test_random_on_a_unique_column_is_long_enough_to_stay_distinct() -> None:
    got = mask(RANDOM, "Al", MaskContext(unique=True))
    assert isinstance(got, str)
    assert len(got) == 11
    assert len(str(mask(RANDOM, "Al", MaskContext(unique=True, length=8)))) == 8


@given(st.text(max_size=300), st.binary(max_size=40), st.integers(min_value=0, max_value=200))
def test_random_fits_the_column(value: str, salt: bytes, length: int) -> None:
    got = mask(RANDOM, value, MaskContext(length=length), salt=salt)
    assert isinstance(got, str)
    assert len(got) == min(len(value), length)
    assert got == mask(RANDOM, value, MaskContext(length=length), salt=salt)


# --- encrypt -------------------------------------------------------------------------------


def test_encrypt_round_trips_and_is_deterministic() -> None:
    got = mask(ENCRYPT, "alice@example.com")
    assert isinstance(got, str)
    assert got.startswith(ENCRYPTED_PREFIX)
    assert "alice" not in got
    assert got == mask(ENCRYPT, "alice@example.com")
    assert got != mask(ENCRYPT, "alice@example.com", salt=b"another row")
    assert len(got) == encrypted_length(len(b"alice@example.com"))
    assert reveal(got, KEYS) == "alice@example.com"


def test_reveal_refuses_tampering_a_wrong_key_and_foreign_text() -> None:
    got = str(mask(ENCRYPT, "alice@example.com"))
    flipped = got[:-3] + ("A" if got[-3] != "A" else "B") + got[-2:]
    for bad in (flipped, got[:-4]):
        with pytest.raises(CannotReveal, match="altered"):
            reveal(bad, KEYS)
    with pytest.raises(CannotReveal, match="another key"):
        reveal(got, OTHER_KEYS)
    for foreign in ("alice@example.com", ENCRYPTED_PREFIX + "abc", ENCRYPTED_PREFIX + "!!"):
        with pytest.raises(CannotReveal):
            reveal(foreign, KEYS)


def test_encrypt_never_truncates() -> None:
    with pytest.raises(CannotMask, match="length") as exc:
        mask(ENCRYPT, "alice@example.com", MaskContext(length=40))
    assert "alice" not in str(exc.value)
    with pytest.raises(CannotMask, match="text column"):
        mask(ENCRYPT, 5, MaskContext(data_type="integer"))


@given(st.text(max_size=200), st.binary(max_size=40))
def test_encrypt_round_trips_any_text(value: str, salt: bytes) -> None:
    got = mask(ENCRYPT, value, salt=salt)
    assert isinstance(got, str)
    assert reveal(got, KEYS) == value
    assert len(got) == encrypted_length(len(value.encode()))


@given(st.lists(st.tuples(st.binary(max_size=8), st.text(max_size=8)), min_size=2, unique=True))
def test_encrypt_never_reuses_a_nonce_for_different_inputs(pairs: list[tuple[bytes, str]]) -> None:
    nonces = {
        str(mask(ENCRYPT, text, salt=salt))[len(ENCRYPTED_PREFIX) :][:16] for salt, text in pairs
    }
    assert len(nonces) == len(pairs)


# --- generalize ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("granularity", "value", "expected"),
    [
        ("month", "2021-07-19", "2021-07-01"),
        ("year", "2021-07-19", "2021-01-01"),
        ("day", "2021-07-19", "2021-07-19"),
        ("month", "2021-07-19T10:11:12", "2021-07-01T00:00:00"),
        ("month", "2021-07-19T10:11:12+02:00", "2021-07-01T00:00:00+02:00"),
        ("year", "2021-07-19 10:11:12.123Z", "2021-01-01 00:00:00.000Z"),
        ("day", "2021-07-19T10:11", "2021-07-19T00:00"),
        ("month", date(2021, 7, 19), date(2021, 7, 1)),
        ("year", datetime(2021, 7, 19, 10, 11, tzinfo=UTC), datetime(2021, 1, 1, tzinfo=UTC)),
        ("day", datetime(2021, 7, 19, 10, 11), datetime(2021, 7, 19)),  # noqa: DTZ001
    ],
)
def test_generalize_dates_keep_their_form(
    granularity: str, value: object, expected: object
) -> None:
    got = mask(gen(granularity), value)
    assert got == expected
    assert type(got) is type(expected)


def test_generalize_keeps_the_timezone_of_a_datetime() -> None:
    tz = timezone(timedelta(hours=-5))
    got = mask(gen("month"), datetime(2021, 7, 19, 23, 59, tzinfo=tz))
    assert got == datetime(2021, 7, 1, tzinfo=tz)
    assert isinstance(got, datetime)
    assert got.tzinfo is tz


@pytest.mark.parametrize(
    ("granularity", "value", "context", "expected"),
    [
        (10, 37, MaskContext(data_type="integer"), 30),
        (10, -37, MaskContext(data_type="integer"), -40),
        (5, 37.9, MaskContext(data_type="float"), 35.0),
        (0.1, 193.95, MaskContext(data_type="float"), 193.9),
        (10, "193.95", MaskContext(db_type="NUMERIC(10,2)"), "190.00"),
        (0.25, "193.3", MaskContext(), "193.25"),
        (1000, "193", MaskContext(), "0"),
        (10, Decimal("193.95"), MaskContext(), Decimal("190.00")),
        (10.0, 37, MaskContext(data_type="integer"), 30),
    ],
)
def test_generalize_numbers_floor_to_the_bucket(
    granularity: float, value: object, context: MaskContext, expected: object
) -> None:
    got = mask(gen(granularity), value, context)
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(expected, str | Decimal):
        assert str(got) == str(expected)


@pytest.mark.parametrize(
    ("granularity", "value", "context", "words"),
    [
        ("month", "not a date", MaskContext(), "not an ISO date"),
        ("month", "2021-02-30", MaskContext(), "not a valid calendar date"),
        ("month", 20210719, MaskContext(data_type="integer"), "integer"),
        (10, "2021-07-19", MaskContext(db_type="DATE"), "date"),
        (10, "twelve", MaskContext(), "not a number"),
        (10, "NaN", MaskContext(), "finite"),
        (10, True, MaskContext(), "boolean"),
    ],
)
def test_generalize_refuses_what_it_cannot_read(
    granularity: str | float, value: object, context: MaskContext, words: str
) -> None:
    with pytest.raises(CannotMask, match=words) as exc:
        mask(gen(granularity), value, context)
    assert str(value) not in str(exc.value)


@given(st.integers(min_value=-(10**12), max_value=10**12), st.integers(1, 10**6))
def test_generalize_integers_is_a_floor(value: int, bucket: int) -> None:
    got = mask(gen(bucket), value, MaskContext(data_type="integer"))
    assert isinstance(got, int)
    assert got <= value < got + bucket
    assert got % bucket == 0
    assert mask(gen(bucket), got, MaskContext(data_type="integer")) == got  # idempotent


@given(st.dates(), st.sampled_from(["year", "month", "day"]))
def test_generalize_dates_is_a_floor(value: date, granularity: str) -> None:
    got = mask(gen(granularity), value)
    assert isinstance(got, date)
    assert got <= value
    assert mask(gen(granularity), got) == got
    assert mask(gen(granularity), value.isoformat()) == got.isoformat()


# --- every strategy ------------------------------------------------------------------------


@given(
    st.sampled_from([FIXED, HASH, RANDOM]),
    st.text(max_size=100),
    st.integers(min_value=0, max_value=80),
    st.binary(max_size=20),
)
def test_text_results_never_exceed_the_column(
    rule: MaskRule, value: str, length: int, salt: bytes
) -> None:
    context = MaskContext(length=length)
    got = mask(rule, value, context, salt=salt)
    assert isinstance(got, str)
    assert len(got) <= length
    assert got == mask(rule, value, context, salt=salt)  # deterministic


# --- categories ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("category", "target", "expected"),
    [
        ("user.contact.email", "user.contact.email", True),
        ("user.contact.email", "user.contact", True),
        ("user.contact.email", "user", True),
        ("user.contact.email", "user.con", False),
        ("user.contact", "user.contact.email", False),
        ("system.operations", "user", False),
        ("username", "user", False),
    ],
)
def test_matches_is_by_dotted_prefix(category: str, target: str, expected: bool) -> None:
    assert matches(category, target) is expected


def test_best_match_is_the_most_specific_target() -> None:
    targets = ["user", "user.contact", "user.contact.email", "user.financial"]
    assert best_match(["user.contact.email"], targets) == "user.contact.email"
    assert best_match(["user.contact.phone_number"], targets) == "user.contact"
    assert best_match(["user.name"], targets) == "user"
    assert best_match(["system.operations"], targets) is None
    assert best_match([], targets) is None
    assert best_match(["user.name"], []) is None


def test_best_match_order_of_targets_does_not_matter() -> None:
    targets = ["user.contact.email", "user", "user.contact"]
    assert best_match(["user.contact.email"], targets) == "user.contact.email"
    assert best_match(["user.contact.email"], list(reversed(targets))) == "user.contact.email"


def test_best_match_over_several_categories() -> None:
    targets = ["user.contact", "user.financial.credit_card"]
    hit = best_match(["user.contact.email", "user.financial.credit_card"], targets)
    assert hit == "user.financial.credit_card"
    assert best_match(["system.operations", "user.contact.email"], targets) == "user.contact"


def test_known_categories_come_from_fideslang() -> None:
    assert is_known("user.contact.email")
    assert is_known("user")
    assert not is_known("user.contact.emial")
