"""Line numbers for locations inside a YAML document, so problems can say where they are.

`yaml.safe_load` forgets positions; `yaml.compose` keeps them on every node. A location is a
path of mapping keys and sequence indexes, as pydantic reports it in an error's `loc`.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

PathStep = str | int


def compose(text: str) -> Node | None:
    """The document's node tree; None for empty text or text that is not YAML."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return None


def line_of(text_or_node: str | Node | None, path: Sequence[PathStep]) -> int | None:
    """The 1-based line of `path` in the document.

    For a path ending in a mapping key this is the key's line (a block value starts on the next
    one). When the path leaves the document (a missing key, an index past the end), the line of
    the deepest node it reached is returned: that is where the missing piece belongs. None only
    when there is no document at all.
    """
    node = compose(text_or_node) if isinstance(text_or_node, str) else text_or_node
    if node is None:
        return None
    line = node.start_mark.line
    for step in path:
        found = _step(node, step)
        if found is None:
            break
        key, node = found
        line = (key or node).start_mark.line
    return line + 1


def _step(node: Node, step: PathStep) -> tuple[Node | None, Node] | None:
    """(key node or None, value node) for one step down, or None when there is no such child."""
    if isinstance(node, SequenceNode):
        if isinstance(step, int) and 0 <= step < len(node.value):
            child: Node = node.value[step]
            return None, child
        return None
    if isinstance(node, MappingNode):
        for key, value in node.value:
            if isinstance(key, ScalarNode) and key.value == str(step):
                return key, value
    return None


def problem_location(text_or_node: str | Node | None, path: Sequence[PathStep]) -> str:
    """`line 7: policies[0].masking[1].strategy` (or just the dotted path without a line)."""
    dotted = dotted_path(path)
    line = line_of(text_or_node, path)
    if line is None:
        return dotted
    return f"line {line}: {dotted}" if dotted else f"line {line}"


def dotted_path(path: Sequence[PathStep]) -> str:
    """`policies[0].masking[1].strategy` from ("policies", 0, "masking", 1, "strategy")."""
    out = ""
    for step in path:
        if isinstance(step, int):
            out += f"[{step}]"
        else:
            out += f".{step}" if out else str(step)
    return out
