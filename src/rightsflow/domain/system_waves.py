"""Retrieval waves when some systems answer for themselves.

A system asked per subject (an internal service, a person) is asked once for all its
collections, so it is one unit in the retrieval order: it is asked in the first wave after
every collection its collections take keys from has been read, and anything taking keys from
it waits for its answer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from rightsflow.domain.errors import Conflict
from rightsflow.domain.plan import ExecutionPlan


@dataclass(frozen=True)
class Waves:
    rows: list[list[str]]  # per wave, collections read row by row (addresses)
    systems: list[list[str]]  # per wave, systems asked (system keys)


Unit = tuple[str, str]  # ("rows", address) or ("system", system key)


def _unit(plan: ExecutionPlan, address: str, asked: Collection[str]) -> Unit:
    system = plan.node(address).system
    return ("system", system) if system in asked else ("rows", address)


def plan_waves(plan: ExecutionPlan, asked: Collection[str]) -> Waves:
    """The retrieval waves with every system in `asked` as one unit."""
    deps: dict[Unit, set[Unit]] = {}
    for node in plan.nodes:
        unit = _unit(plan, node.address, asked)
        sources = {_unit(plan, e.source_collection, asked) for e in node.edge_inputs}
        deps.setdefault(unit, set()).update(sources - {unit})
    levels: dict[Unit, int] = {}

    def level(unit: Unit, path: tuple[Unit, ...]) -> int:
        if unit in path:
            cycle = " -> ".join(u[1] for u in (*path[path.index(unit) :], unit))
            raise Conflict(f"systems asked per subject take keys from each other: {cycle}")
        if unit not in levels:
            levels[unit] = 1 + max((level(d, (*path, unit)) for d in deps[unit]), default=-1)
        return levels[unit]

    for unit in sorted(deps):
        level(unit, ())
    depth = max(levels.values(), default=-1) + 1
    waves = Waves([[] for _ in range(depth)], [[] for _ in range(depth)])
    for (kind, name), at in sorted(levels.items()):
        (waves.systems if kind == "system" else waves.rows)[at].append(name)
    return waves
