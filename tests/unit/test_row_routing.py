"""Rows read for many subjects at once go back to the subjects whose lookups match them."""

from __future__ import annotations

from rightsflow.services.lookups import Lookup
from rightsflow.services.row_routing import RowRouter, lookup_of


def test_each_row_goes_to_the_members_whose_values_it_holds() -> None:
    router: RowRouter[str] = RowRouter()
    router.add("a", lookup_of({"email": ["a@x"]}))
    router.add("b", lookup_of({"email": ["b@x"], "customer_id": [7]}))
    rows = [
        {"email": "a@x", "customer_id": 1},
        {"email": "z@x", "customer_id": 7},
        {"email": "c@x", "customer_id": 9},
    ]
    assert router.values() == {"customer_id": [7], "email": ["a@x", "b@x"]}
    assert router.split(rows) == {"a": [rows[0]], "b": [rows[1]]}


def test_a_row_two_members_share_goes_to_both_once() -> None:
    router: RowRouter[int] = RowRouter()
    router.add(1, lookup_of({"email": ["s@x"], "id": [3]}))
    router.add(2, lookup_of({"email": ["s@x"]}))
    assert router.route({"email": "s@x", "id": 3}) == [1, 2]


def test_values_match_across_types_as_stored_values_do() -> None:
    router: RowRouter[str] = RowRouter()
    router.add("a", lookup_of({"id": [5]}))
    # The connector binds lookups in the column's type, so 5 and "5" find the same rows.
    assert router.route({"id": 5}) == router.route({"id": "5"}) == ["a"]
    assert router.route({"id": 6}) == []


def test_composite_references_match_whole_tuples_only() -> None:
    pairs = Lookup(
        {"order_id": [1, 2], "part": ["x", "y"]},
        pairs=[(("order_id", "part"), {("1", "x"), ("2", "y")})],
    )
    router: RowRouter[str] = RowRouter()
    router.add("a", pairs)
    assert router.route({"order_id": 1, "part": "x"}) == ["a"]
    assert router.route({"order_id": 1, "part": "y"}) == []  # one's id with another's part


def test_empty_lookups_ask_for_nothing() -> None:
    router: RowRouter[str] = RowRouter()
    router.add("a", lookup_of({"email": []}))
    assert router.values() == {}
    assert router.split([{"email": None}]) == {"a": []}


def test_lookups_on_nested_fields_walk_the_document() -> None:
    router: RowRouter[str] = RowRouter()
    router.add("a", lookup_of({"profile.email": ["a@x"], "tags": ["t1"]}))
    assert router.route({"profile": {"email": "a@x"}}) == ["a"]
    assert router.route({"profile": {"email": "b@x"}, "tags": ["t0", "t1"]}) == ["a"]
    assert router.route({"profile": "a@x"}) == []
