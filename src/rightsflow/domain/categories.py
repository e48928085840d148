"""Data categories: fideslang's taxonomy, matched by dotted prefix."""

from __future__ import annotations

from collections.abc import Iterable
from functools import cache

from fideslang.default_taxonomy import DEFAULT_TAXONOMY


@cache
def known_categories() -> frozenset[str]:
    return frozenset(str(c.fides_key) for c in DEFAULT_TAXONOMY.data_category)


def is_known(category: str) -> bool:
    return category in known_categories()


def matches(category: str, target: str) -> bool:
    """`user.contact.email` is within `user.contact` and `user`, not within `user.con`."""
    return category == target or category.startswith(target + ".")


def best_match(categories: Iterable[str], targets: Iterable[str]) -> str | None:
    """The most specific target covering any of the categories, or None."""
    hits = [t for t in targets for c in categories if matches(c, t)]
    return max(hits, key=lambda t: (t.count("."), t), default=None)
