"""Directed graphs drawn as SVG on the server (execution plans, the data map).

The layout is layered: a node's column is the length of the longest path reaching it, so every
edge points right; nodes in a column are stacked in the order given. The SVG has a title and
each node a <title> of its own; pages put a table of the same facts next to it for screen
readers and for anyone who prefers text.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

NODE_WIDTH = 190
NODE_HEIGHT = 46
COLUMN_GAP = 70
ROW_GAP = 18
MARGIN = 12
MAX_LABEL = 26


@dataclass(frozen=True)
class GraphNode:
    id: str
    label: str
    detail: str = ""  # a second, smaller line (an operation, a kind)
    state: str = ""  # a CSS class: pending, running, done, failed, skipped, ok, down, ...


@dataclass(frozen=True)
class GraphEdge:
    source: str
    target: str
    label: str = ""


def _columns(nodes: Sequence[GraphNode], edges: Sequence[GraphEdge]) -> dict[str, int]:
    known = {node.id for node in nodes}
    parents: dict[str, list[str]] = {node.id: [] for node in nodes}
    for edge in edges:
        if edge.source in known and edge.target in known and edge.source != edge.target:
            parents[edge.target].append(edge.source)
    column: dict[str, int] = {}

    def depth(node_id: str, seen: frozenset[str]) -> int:
        if node_id in column:
            return column[node_id]
        up = [p for p in parents[node_id] if p not in seen]  # a cycle is cut, not followed
        found = 1 + max((depth(p, seen | {node_id}) for p in up), default=-1)
        column[node_id] = found
        return found

    for node in nodes:
        depth(node.id, frozenset())
    return column


def _short(text: str) -> str:
    return text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"


def draw(
    nodes: Sequence[GraphNode], edges: Sequence[GraphEdge], *, title: str, css_class: str = ""
) -> Markup:
    if not nodes:
        return Markup("")
    column = _columns(nodes, edges)
    rows: dict[int, int] = {}
    place: dict[str, tuple[int, int]] = {}
    for node in nodes:
        col = column[node.id]
        row = rows.get(col, 0)
        rows[col] = row + 1
        x = MARGIN + col * (NODE_WIDTH + COLUMN_GAP)
        y = MARGIN + row * (NODE_HEIGHT + ROW_GAP)
        place[node.id] = (x, y)
    width = MARGIN * 2 + (max(column.values()) + 1) * (NODE_WIDTH + COLUMN_GAP) - COLUMN_GAP
    height = MARGIN * 2 + max(rows.values()) * (NODE_HEIGHT + ROW_GAP) - ROW_GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="graph {escape(css_class)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}">',
        f"<title>{escape(title)}</title>",
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
        'class="graph-arrow"/></marker></defs>',
    ]
    for edge in edges:
        if edge.source not in place or edge.target not in place:
            continue
        (x1, y1), (x2, y2) = place[edge.source], place[edge.target]
        start = (x1 + NODE_WIDTH, y1 + NODE_HEIGHT // 2)
        end = (x2, y2 + NODE_HEIGHT // 2)
        if x2 <= x1:  # same or earlier column (a cut cycle): go around below
            start, end = (x1 + NODE_WIDTH // 2, y1 + NODE_HEIGHT), (x2 + NODE_WIDTH // 2, y2)
        middle = (start[0] + end[0]) // 2
        parts.append(
            f'<path class="graph-edge" marker-end="url(#arrow)" d="M{start[0]},{start[1]} '
            f'C{middle},{start[1]} {middle},{end[1]} {end[0]},{end[1]}">'
            f"<title>{escape(edge.label)}</title></path>"
        )
    for node in nodes:
        x, y = place[node.id]
        state = escape(node.state)
        parts.append(
            f'<g class="graph-node {state}" transform="translate({x},{y})">'
            f"<title>{escape(node.label)} {escape(node.detail)} {state}</title>"
            f'<rect width="{NODE_WIDTH}" height="{NODE_HEIGHT}" rx="6"/>'
            f'<text x="10" y="19" class="graph-label">{escape(_short(node.label))}</text>'
            f'<text x="10" y="36" class="graph-detail">'
            f"{escape(_short(' · '.join(p for p in (node.detail, node.state) if p)))}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 (every value above is escaped)
