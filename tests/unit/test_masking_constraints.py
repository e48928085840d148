"""constraint_problems: rules that cannot fit their column, told before any erasure runs."""

from __future__ import annotations

import pytest

from rightsflow.domain.masking import (
    CannotMask,
    MaskContext,
    MaskKeys,
    constraint_problems,
    encrypted_length,
    masked_value,
)
from rightsflow.domain.masking_columns import column_of
from rightsflow.domain.policy import MaskRule

KEYS = MaskKeys(hash_key=b"h" * 32, encrypt_key=b"e" * 32)


def rule(strategy: str, **options: object) -> MaskRule:
    return MaskRule.model_validate({"category": "user", "strategy": strategy, **options})


@pytest.mark.parametrize(
    ("the_rule", "context", "words"),
    [
        (rule("null"), MaskContext(nullable=False), "NOT NULL"),
        (rule("fixed", value="REDACTED"), MaskContext(length=5), "longer than the column"),
        (rule("fixed", value="n/a"), MaskContext(data_type="integer"), "integer column"),
        (rule("fixed", value="99999"), MaskContext(db_type="SMALLINT"), "out of the integer"),
        (rule("fixed", value="maybe"), MaskContext(data_type="boolean"), "boolean column"),
        (rule("fixed", value="0"), MaskContext(data_type="integer", unique=True), "collide"),
        (rule("fixed", value="X"), MaskContext(unique=True, length=12), "no room"),
        (rule("encrypt"), MaskContext(length=40), "too short for any ciphertext"),
        (rule("encrypt"), MaskContext(db_type="VARCHAR(255)"), "over 158 bytes"),
        (rule("encrypt"), MaskContext(data_type="integer"), "text column"),
        (rule("generalize", granularity="year"), MaskContext(data_type="boolean"), "date or"),
        (rule("generalize", granularity="year"), MaskContext(data_type="integer"), "for dates"),
        (rule("generalize", granularity=10), MaskContext(db_type="TIMESTAMP"), "for numbers"),
        (rule("generalize", granularity=2.5), MaskContext(data_type="integer"), "whole-number"),
        (rule("generalize", granularity=10), MaskContext(db_type="TEXT"), "stored as text"),
        (rule("hash"), MaskContext(data_type="boolean"), "cannot produce a boolean"),
        (rule("random"), MaskContext(db_type="DATE"), "cannot produce a date"),
        (rule("hash"), MaskContext(unique=True, length=12), "fewer than 64 bits"),
        (rule("random"), MaskContext(unique=True, length=8), "fewer than 64 bits"),
        (rule("hash"), MaskContext(data_type="integer", unique=True), "77,"),
    ],
)
def test_a_rule_that_cannot_fit_is_named(
    the_rule: MaskRule, context: MaskContext, words: str
) -> None:
    (problem,) = constraint_problems(the_rule, context)
    assert words in problem


@pytest.mark.parametrize(
    ("the_rule", "context"),
    [
        (rule("null"), MaskContext()),
        (rule("null"), MaskContext(nullable=True, unique=True)),
        (rule("fixed", value="MASKED"), MaskContext(length=6)),
        (rule("fixed", value="0"), MaskContext(data_type="integer")),
        (rule("fixed", value="true"), MaskContext(data_type="boolean")),
        (rule("fixed", value="MASKED"), MaskContext(unique=True, length=15)),
        (rule("fixed", value="MASKED"), MaskContext(unique=True)),
        (rule("encrypt"), MaskContext()),
        (rule("encrypt"), MaskContext(db_type="TEXT")),
        (rule("generalize", granularity="month"), MaskContext(db_type="DATE")),
        (rule("generalize", granularity="month"), MaskContext(data_type="string")),
        (rule("generalize", granularity=0.5), MaskContext(db_type="NUMERIC(10,2)")),
        (rule("generalize", granularity=10.0), MaskContext(data_type="integer")),
        (rule("hash"), MaskContext(unique=True, length=16)),
        (rule("hash"), MaskContext(data_type="integer")),
        (rule("hash"), MaskContext(db_type="BIGINT", unique=True)),
        (rule("random"), MaskContext(unique=True, length=11)),
        (rule("delete"), MaskContext(nullable=False, unique=True, length=1)),
    ],
)
def test_a_rule_that_fits_has_no_problems(the_rule: MaskRule, context: MaskContext) -> None:
    assert constraint_problems(the_rule, context) == []


def test_problems_never_quote_the_fixed_value() -> None:
    problems = constraint_problems(rule("fixed", value="Sensitive"), MaskContext(length=3))
    assert problems
    assert all("Sensitive" not in p for p in problems)


@pytest.mark.parametrize(
    ("the_rule", "context", "value"),
    [
        (rule("fixed", value="X"), MaskContext(unique=True, length=12), "Ada"),
        (rule("fixed", value="n/a"), MaskContext(data_type="integer"), 5),
        (rule("encrypt"), MaskContext(length=40), "a@b.c"),
        (rule("hash"), MaskContext(data_type="boolean"), True),
        (rule("generalize", granularity="year"), MaskContext(data_type="integer"), 2021),
    ],
)
def test_what_constraint_problems_warns_about_fails_at_masking(
    the_rule: MaskRule, context: MaskContext, value: object
) -> None:
    """The warning is not a false alarm: the masking itself refuses, rather than writing junk."""
    assert constraint_problems(the_rule, context)
    with pytest.raises(CannotMask):
        masked_value(the_rule, value, context=context, keys=KEYS, salt=b"s")


def test_encrypted_length_is_what_encrypt_writes() -> None:
    for size in (0, 1, 2, 3, 100):
        got = masked_value(rule("encrypt"), "x" * size, context=MaskContext(), keys=KEYS, salt=b"s")
        assert isinstance(got, str)
        assert len(got) == encrypted_length(size)


@pytest.mark.parametrize(
    ("data_type", "db_type", "kind", "length"),
    [
        (None, "VARCHAR(255)", "string", 255),
        (None, "character varying(40)", "string", 40),
        ("string", "TIMESTAMP(6) WITH TIME ZONE", "datetime", None),
        (None, "DOUBLE PRECISION", "number", None),
        ("integer", None, "integer", None),
        (None, "BIGINT UNSIGNED", "integer", None),
        (None, "uuid", "uuid", 36),
        ("float", "JSONB", "number", None),
        (None, None, "unknown", None),
    ],
)
def test_column_kinds(data_type: str | None, db_type: str | None, kind: str, length: int) -> None:
    column = column_of(data_type, db_type, None)
    assert (column.kind, column.length) == (kind, length)


def test_the_data_map_length_wins_over_the_native_type() -> None:
    assert column_of(None, "VARCHAR(255)", 20).length == 20
    assert column_of(None, None, None, value=3).kind == "integer"
    assert column_of(None, None, None, value=True).kind == "boolean"
