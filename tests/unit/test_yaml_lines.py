"""Line numbers for paths into a YAML document."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from rightsflow.domain.yaml_lines import compose, dotted_path, line_of, problem_location

DOC = """\
# a comment
policies:
  - key: a
    targets: [user.contact, user.name]
    masking:
      - {category: user.contact, strategy: hash}
      - category: user.name
        strategy: fixed
        value: X
  - key: b
    targets:
      - user
"""


@pytest.mark.parametrize(
    ("path", "line"),
    [
        ((), 2),
        (("policies",), 2),
        (("policies", 0), 3),
        (("policies", 0, "key"), 3),
        (("policies", 0, "targets", 1), 4),
        (("policies", 0, "masking"), 5),
        (("policies", 0, "masking", 0), 6),
        (("policies", 0, "masking", 0, "strategy"), 6),
        (("policies", 0, "masking", 1), 7),
        (("policies", 0, "masking", 1, "value"), 9),
        (("policies", 1, "targets", 0), 12),
    ],
)
def test_line_of_a_path(path: tuple[str | int, ...], line: int) -> None:
    assert line_of(DOC, path) == line


@pytest.mark.parametrize(
    ("path", "line"),
    [
        (("policies", 0, "masking", 1, "granularity"), 7),  # a missing key: its mapping
        (("policies", 5), 2),  # past the end of a list: the list's key
        (("policies", 0, "key", "deeper"), 3),  # below a scalar
        (("nope",), 2),
        (("policies", "0"), 2),  # a list takes indexes only
    ],
)
def test_a_path_leaving_the_document_stops_at_the_deepest_node(
    path: tuple[str | int, ...], line: int
) -> None:
    assert line_of(DOC, path) == line


def test_no_document_has_no_lines() -> None:
    assert line_of("", ("policies",)) is None
    assert line_of("policies: [", ("policies",)) is None
    assert line_of("a: 1\n---\nb: 2\n", ()) is None  # two documents
    assert line_of(None, ()) is None
    assert compose("") is None


def test_a_composed_node_can_be_reused() -> None:
    node = compose(DOC)
    assert node is not None
    assert line_of(node, ("policies", 1)) == 10
    assert line_of(node, ("policies", 0, "masking", 1, "strategy")) == 8


def test_anchors_and_aliases_resolve() -> None:
    text = "base: &b\n  x: 1\n  y: 2\nother: *b\n"
    assert line_of(text, ("other", "y")) == 3  # where the aliased value is written


def test_integer_like_keys_match_by_text() -> None:
    assert line_of("codes:\n  404: missing\n  500: broken\n", ("codes", 500)) == 3


def test_locations_read_as_paths() -> None:
    path = ("policies", 0, "masking", 1, "strategy")
    assert dotted_path(path) == "policies[0].masking[1].strategy"
    assert dotted_path(()) == ""
    assert dotted_path((3, "a")) == "[3].a"
    assert problem_location(DOC, path) == "line 8: policies[0].masking[1].strategy"
    assert problem_location(DOC, ()) == "line 2"
    assert problem_location("", ("policies", 0)) == "policies[0]"


def _documents() -> st.SearchStrategy[Any]:
    keys = st.text(alphabet="abcdefgh_", min_size=1, max_size=6)
    leaves = st.integers() | st.booleans() | st.text(alphabet="xyz ", max_size=5)
    return st.recursive(
        leaves,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
        max_leaves=12,
    )


def _paths(doc: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


@given(_documents(), st.booleans())
def test_every_path_of_a_dumped_document_lands_on_its_text(doc: Any, flow: bool) -> None:
    """A key's line holds that key; a list item's line holds the start of that item."""
    text = yaml.safe_dump({"root": doc}, default_flow_style=flow, sort_keys=False)
    lines = text.splitlines()
    for path in _paths(doc, ("root",)):
        line = line_of(text, path)
        assert line is not None
        assert 1 <= line <= len(lines)
        last = path[-1]
        if isinstance(last, str):
            assert last in lines[line - 1]
