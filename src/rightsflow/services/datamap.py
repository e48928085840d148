"""Load a data map directory (fideslang datasets + systems.yml + optional policies.yml)."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path

from rightsflow.domain.datamap import DataMap
from rightsflow.domain.datamap_checks import check_datamap
from rightsflow.domain.datamap_parse import POLICIES_FILE, ConnectorCheck, parse_datamap
from rightsflow.domain.errors import DataMapInvalid, Problem
from rightsflow.domain.policy import Policy, field_override_problems, parse_policies


def read_map_files(mapdir: Path) -> dict[str, str]:
    if not mapdir.is_dir():
        raise DataMapInvalid([Problem(str(mapdir), "", "not a directory")])
    files = sorted([*mapdir.glob("*.yml"), *mapdir.glob("*.yaml")])
    out = {}
    for path in files:
        try:
            out[path.name] = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            raise DataMapInvalid([Problem(path.name, "", "cannot be read as UTF-8 text")]) from None
    return out


def load_datamap(
    mapdir: Path, env: Mapping[str, str], check_connector: ConnectorCheck | None
) -> tuple[DataMap, dict[str, Policy]]:
    """Parse and validate everything; raises DataMapInvalid listing every problem.

    Masking rules that cannot fit their column (e.g. `null` on a NOT NULL column) are not
    errors: the data map's facts may be incomplete. They come back as data map warnings.
    """
    files = read_map_files(mapdir)
    problems: list[Problem] = []
    datamap: DataMap | None = None
    try:
        datamap = parse_datamap(files, env, check_connector)
    except DataMapInvalid as exc:
        problems.extend(exc.problems)
    policies: dict[str, Policy] = {}
    text = files.get(POLICIES_FILE)
    try:
        policies = parse_policies(text)
    except DataMapInvalid as exc:
        problems.extend(exc.problems)
    if datamap is not None:
        problems.extend(field_override_problems(leaf_field_addresses(datamap), text))
    if problems or datamap is None:
        raise DataMapInvalid(problems)
    warnings = (*datamap.warnings, *check_datamap(datamap, policies))
    return dataclasses.replace(datamap, warnings=warnings), policies


def leaf_field_addresses(datamap: DataMap) -> frozenset[str]:
    """Every field a masking rule can name: `dataset:collection.path`."""
    return frozenset(
        f"{c.address}.{f.path}" for c in datamap.collections() for f in c.leaf_fields()
    )
