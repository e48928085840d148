"""Turn fideslang dataset files and a systems.yml into a validated DataMap.

Pure: the caller reads the files and passes their text. Every problem is collected (not just
the first) with its file and location, so `datamap validate` can report them all at once.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from fideslang.models import Dataset as FidesDataset
from fideslang.models import DatasetField as FidesField
from pydantic import ValidationError

from rightsflow.domain.categories import is_known
from rightsflow.domain.datamap import (
    Collection,
    DataField,
    DataMap,
    Dataset,
    Direction,
    FieldAddress,
    Reference,
    System,
)
from rightsflow.domain.datamap_extras import collection_extras, field_extras
from rightsflow.domain.errors import DataMapInvalid, InvalidInput, Problem
from rightsflow.domain.retention_rules import RETENTION_FILE, parse_retention

SYSTEMS_FILE = "systems.yml"
POLICIES_FILE = "policies.yml"
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_KEY = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")

# Checks a connector kind and its config; returns messages (empty when valid).
ConnectorCheck = Callable[[str, Mapping[str, Any]], list[str]]


def parse_datamap(
    files: Mapping[str, str],
    env: Mapping[str, str],
    check_connector: ConnectorCheck | None = None,
) -> DataMap:
    """`files` maps file name to YAML text: dataset files plus `systems.yml`."""
    problems: list[Problem] = []
    datasets: list[Dataset] = []
    for name, text in sorted(files.items()):
        if name in (SYSTEMS_FILE, POLICIES_FILE, RETENTION_FILE):
            continue
        datasets.extend(_parse_dataset_file(name, text, problems))
    _check_duplicates(datasets, problems)
    _check_references(datasets, problems)
    systems = _parse_systems(files.get(SYSTEMS_FILE), env, check_connector, problems)
    _check_bindings(systems, datasets, problems)
    retention = parse_retention(files.get(RETENTION_FILE), datasets, problems)
    if problems:
        raise DataMapInvalid(problems)
    return DataMap(
        systems=tuple(systems),
        datasets=tuple(datasets),
        warnings=_warnings(datasets),
        retention=tuple(retention),
    )


def _load_yaml(name: str, text: str, problems: list[Problem]) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append(Problem(name, where, f"not valid YAML ({getattr(exc, 'problem', exc)})"))
        return None


def _parse_dataset_file(name: str, text: str, problems: list[Problem]) -> list[Dataset]:
    doc = _load_yaml(name, text, problems)
    if doc is None:
        if not problems or problems[-1].file != name:
            problems.append(Problem(name, "", "file is empty"))
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("dataset"), list):
        problems.append(Problem(name, "", "expected a top-level `dataset:` list (fideslang)"))
        return []
    out = []
    for index, raw in enumerate(doc["dataset"]):
        where = f"dataset[{index}]"
        try:
            fides = FidesDataset.model_validate(raw)
        except ValidationError as exc:
            problems.extend(
                Problem(name, _loc(where, raw, e["loc"]), e["msg"]) for e in exc.errors()
            )
            continue
        out.append(_to_dataset(fides, raw, name, where, problems))
    return out


def _loc(prefix: str, raw: Any, loc: Sequence[int | str]) -> str:
    """`dataset[0].collections[2](orders).fields[1](total).data_type` from a pydantic loc."""
    parts, node = [prefix], raw
    for step in loc:
        if isinstance(step, int):
            node = node[step] if isinstance(node, list) and step < len(node) else None
            label = node.get("name") if isinstance(node, dict) else None
            parts[-1] += f"[{step}]" + (f"({label})" if label else "")
        else:
            node = node.get(step) if isinstance(node, dict) else None
            parts.append(str(step))
    return ".".join(parts)


def _to_dataset(
    fides: FidesDataset, raw: dict[str, Any], file: str, where: str, problems: list[Problem]
) -> Dataset:
    collections = []
    raw_collections = _by_name(raw.get("collections"))
    for col in fides.collections:
        raw_col = raw_collections.get(col.name, {})
        cwhere = f"{where}({fides.fides_key}).collections({col.name})"
        fields: list[DataField] = []
        raw_fields = _by_name(raw_col.get("fields") if isinstance(raw_col, dict) else None)
        for f in col.fields:
            _flatten(f, raw_fields.get(f.name), "", _Where(file, cwhere, problems), fields)
        for flat in fields:
            for c in (c for c in flat.categories if not is_known(c)):
                loc = f"{cwhere}.fields({flat.path})"
                problems.append(Problem(file, loc, f"unknown data category '{c}'"))
        at = _Where(file, cwhere, problems)
        collections.append(_collection(fides.fides_key, col, raw_col, fields, at))
    return Dataset(fides.fides_key, tuple(collections), file)


def _collection(
    dataset: str, col: Any, raw: object, fields: list[DataField], at: _Where
) -> Collection:
    file, where, problems = at.file, at.collection, at.problems
    extras = collection_extras(raw, file, where, problems)
    restriction = extras.restriction_value()
    if restriction is not None and not any(f.path == restriction.field for f in fields):
        problems.append(
            Problem(
                file,
                f"{where}.fides_meta.rightsflow.restriction.field",
                f"no field '{restriction.field}' in this collection",
            )
        )
    meta = col.fides_meta
    after = tuple(
        str(key).replace(".", ":", 1) for key in ((meta.erase_after or []) if meta else [])
    )
    return Collection(
        dataset,
        col.name,
        tuple(fields),
        erasure=extras.erasure,
        exemption=extras.exemption_value(),
        on_parent_erase=extras.on_parent_erase,
        restriction=restriction,
        erase_after=after,
    )


@dataclass(frozen=True)
class _Where:
    file: str
    collection: str
    problems: list[Problem]


def _flatten(f: FidesField, raw: object, prefix: str, at: _Where, out: list[DataField]) -> None:
    path = f"{prefix}{f.name}"
    meta = f.fides_meta
    refs = tuple(
        Reference(_address(r.dataset, r.field), _direction(r.direction))
        for r in (meta.references or [] if meta else [])
    )
    extras = field_extras(raw, at.file, f"{at.collection}.fields({path})", at.problems)
    review = extras.review
    out.append(
        DataField(
            path=path,
            categories=tuple(f.data_categories or ()),
            identity=meta.identity if meta else None,
            primary_key=bool(meta and meta.primary_key),
            data_type=meta.data_type if meta else None,
            length=meta.length if meta else None,
            references=refs,
            has_children=bool(f.fields),
            nullable=extras.nullable,
            unique=extras.unique,
            db_type=extras.db_type,
            review=(review if isinstance(review, str) else "suggested") if review else None,
        )
    )
    raw_children = _by_name(raw.get("fields") if isinstance(raw, dict) else None)
    for child in f.fields or ():
        _flatten(child, raw_children.get(child.name), f"{path}.", at, out)


def _by_name(raw: object) -> dict[str, Any]:
    """Raw mappings by their `name` (fideslang may reorder what it validates)."""
    if not isinstance(raw, list):
        return {}
    return {str(r["name"]): r for r in raw if isinstance(r, dict) and "name" in r}


def _address(dataset: str, dotted: str) -> FieldAddress:
    collection, _, field = dotted.partition(".")
    return FieldAddress(dataset, collection, field)


def _direction(raw: object) -> Direction:
    value = getattr(raw, "value", raw)
    if value == "from":
        return "from"
    if value == "to":
        return "to"
    return None


def _check_duplicates(datasets: list[Dataset], problems: list[Problem]) -> None:
    seen: dict[str, str] = {}
    for d in datasets:
        if d.key in seen:
            problems.append(
                Problem(d.source_file, d.key, f"dataset key also defined in {seen[d.key]}")
            )
        seen.setdefault(d.key, d.source_file)


def _check_references(datasets: list[Dataset], problems: list[Problem]) -> None:
    fields = {
        (c.dataset, c.name, f.path) for d in datasets for c in d.collections for f in c.fields
    }
    for d in datasets:
        for c in d.collections:
            for f in c.fields:
                for ref in f.references:
                    t = ref.target
                    if (t.dataset, t.collection, t.field) not in fields:
                        loc = f"{c.address}.{f.path}"
                        problems.append(Problem(d.source_file, loc, f"reference to unknown {t}"))


def _parse_systems(
    text: str | None,
    env: Mapping[str, str],
    check_connector: ConnectorCheck | None,
    problems: list[Problem],
) -> list[System]:
    if text is None:
        problems.append(Problem(SYSTEMS_FILE, "", "missing: bind each dataset to a connector"))
        return []
    doc = _load_yaml(SYSTEMS_FILE, text, problems)
    if not isinstance(doc, dict) or not isinstance(doc.get("systems"), list):
        problems.append(Problem(SYSTEMS_FILE, "", "expected a top-level `systems:` list"))
        return []
    systems = []
    for index, raw in enumerate(doc["systems"]):
        system = _parse_system(index, raw, env, check_connector, problems)
        if system is not None:
            systems.append(system)
    return systems


def _parse_system(
    index: int,
    raw: object,
    env: Mapping[str, str],
    check_connector: ConnectorCheck | None,
    problems: list[Problem],
) -> System | None:
    where = f"systems[{index}]"
    if not isinstance(raw, dict):
        problems.append(Problem(SYSTEMS_FILE, where, "expected a mapping"))
        return None
    key, connector, datasets = raw.get("key"), raw.get("connector"), raw.get("datasets")
    config = raw.get("config") or {}
    before = len(problems)
    if not isinstance(key, str) or not _KEY.match(key):
        problems.append(Problem(SYSTEMS_FILE, f"{where}.key", "a key of letters, digits, _.-"))
    if not isinstance(connector, str) or not connector:
        problems.append(Problem(SYSTEMS_FILE, f"{where}.connector", "connector kind required"))
    if not isinstance(datasets, list) or not all(isinstance(d, str) for d in datasets):
        problems.append(Problem(SYSTEMS_FILE, f"{where}.datasets", "a list of dataset keys"))
    if not isinstance(config, dict):
        problems.append(Problem(SYSTEMS_FILE, f"{where}.config", "expected a mapping"))
    if len(problems) > before:
        return None
    config = _expand_env(config, env, f"{where}.config", problems)
    if check_connector is not None:
        try:
            messages = check_connector(str(connector), config)
        except InvalidInput as exc:  # e.g. an unknown connector kind
            problems.append(Problem(SYSTEMS_FILE, f"{where}({key}).connector", str(exc)))
            messages = []
        for message in messages:
            problems.append(Problem(SYSTEMS_FILE, f"{where}({key}).config", message))
    return System(str(key), str(connector), tuple(datasets or ()), config)


def _expand_env(value: Any, env: Mapping[str, str], where: str, problems: list[Problem]) -> Any:
    if isinstance(value, dict):
        return {k: _expand_env(v, env, f"{where}.{k}", problems) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, env, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in env:
            problems.append(Problem(SYSTEMS_FILE, where, f"environment variable {name} is not set"))
            return ""
        return env[name]

    return _ENV_REF.sub(substitute, value)


def _check_bindings(
    systems: list[System], datasets: list[Dataset], problems: list[Problem]
) -> None:
    known = {d.key for d in datasets}
    bound: dict[str, str] = {}
    for system in systems:
        for key in system.datasets:
            if key not in known:
                problems.append(Problem(SYSTEMS_FILE, system.key, f"unknown dataset '{key}'"))
            elif key in bound:
                problems.append(
                    Problem(
                        SYSTEMS_FILE, system.key, f"dataset '{key}' already bound to {bound[key]}"
                    )
                )
            bound.setdefault(key, system.key)
    for d in datasets:
        if d.key not in bound:
            problems.append(Problem(d.source_file, d.key, "dataset is not bound in systems.yml"))


def _warnings(datasets: list[Dataset]) -> tuple[str, ...]:
    out = []
    for d in datasets:
        for c in d.collections:
            unannotated = [f.path for f in c.leaf_fields() if not f.categories]
            if unannotated:
                out.append(f"{c.address}: fields without data categories: {', '.join(unannotated)}")
    return tuple(out)
