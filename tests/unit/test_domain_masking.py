"""Masking strategies and category matching."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from rightsflow.domain.categories import best_match, is_known, matches
from rightsflow.domain.masking import is_masked, masked_value
from rightsflow.domain.policy import MaskRule, MaskStrategy

KEY = b"k" * 32
NULL = MaskRule(category="user.contact")
FIXED = MaskRule(category="user.name", strategy=MaskStrategy.FIXED, value="MASKED")
HASH = MaskRule(category="user.contact.email", strategy=MaskStrategy.HASH)


@pytest.mark.parametrize("value", ["alice@example.com", 42, 3.5, True, {"a": 1}])
def test_null_strategy_erases_any_value(value: object) -> None:
    assert masked_value(NULL, value, KEY) is None


@pytest.mark.parametrize("rule", [NULL, FIXED, HASH])
def test_none_stays_none(rule: MaskRule) -> None:
    assert masked_value(rule, None, KEY) is None
    assert is_masked(rule, None)


def test_fixed_replaces_the_value() -> None:
    assert masked_value(FIXED, "Alice Smith", KEY) == "MASKED"
    assert masked_value(FIXED, "Al", KEY) == "MASKED"  # length of the input does not matter


@pytest.mark.parametrize(("length", "expected"), [(3, "MAS"), (6, "MASKED"), (50, "MASKED")])
def test_fixed_is_truncated_to_the_column_length(length: int, expected: str) -> None:
    assert masked_value(FIXED, "Alice Smith", KEY, length=length) == expected


def test_fixed_is_recognised_as_already_masked() -> None:
    assert is_masked(FIXED, "MASKED")
    assert is_masked(FIXED, "MAS", length=3)
    assert not is_masked(FIXED, "MASKED", length=3)
    assert not is_masked(FIXED, "Alice Smith")
    assert not is_masked(NULL, "alice@example.com")
    assert not is_masked(HASH, masked_value(HASH, "x", KEY))  # undecidable: caller compares


def test_hash_is_keyed_hmac_sha256() -> None:
    got = masked_value(HASH, "alice@example.com", KEY)
    assert got == hmac.new(KEY, b"alice@example.com", hashlib.sha256).hexdigest()


def test_hash_is_deterministic_per_key() -> None:
    assert masked_value(HASH, "alice@example.com", KEY) == masked_value(
        HASH, "alice@example.com", KEY
    )


def test_hash_differs_across_keys_and_inputs() -> None:
    a = masked_value(HASH, "alice@example.com", KEY)
    assert a != masked_value(HASH, "alice@example.com", b"other key")
    assert a != masked_value(HASH, "bob@example.com", KEY)
    assert a != "alice@example.com"
    assert "alice" not in str(a)


def test_hash_of_a_number_hashes_its_text() -> None:
    assert masked_value(HASH, 1234, KEY) == masked_value(HASH, "1234", KEY)


def test_hash_is_truncated_to_the_column_length() -> None:
    full = masked_value(HASH, "alice@example.com", KEY)
    short = masked_value(HASH, "alice@example.com", KEY, length=10)
    assert isinstance(full, str)
    assert short == full[:10]
    assert len(full) == 64


def test_delete_produces_no_value() -> None:
    rule = MaskRule(category="user", strategy=MaskStrategy.DELETE)
    with pytest.raises(ValueError, match="delete"):
        masked_value(rule, "x", KEY)


# --- categories --------------------------------------------------------------------------


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
