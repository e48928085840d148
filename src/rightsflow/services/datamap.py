"""Load a data map directory (fideslang datasets + systems.yml + optional policies.yml)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import yaml

from rightsflow.domain.datamap import DataMap
from rightsflow.domain.datamap_parse import POLICIES_FILE, ConnectorCheck, parse_datamap
from rightsflow.domain.errors import DataMapInvalid, Problem
from rightsflow.domain.policy import Policy, parse_policies


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
    """Parse and validate everything; raises DataMapInvalid listing every problem."""
    files = read_map_files(mapdir)
    datamap = parse_datamap(files, env, check_connector)
    policies_doc = None
    if POLICIES_FILE in files:
        try:
            policies_doc = yaml.safe_load(files[POLICIES_FILE])
        except yaml.YAMLError as exc:
            raise DataMapInvalid([Problem(POLICIES_FILE, "", f"not valid YAML ({exc})")]) from None
    return datamap, parse_policies(policies_doc)
