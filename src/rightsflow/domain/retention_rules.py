"""Retention rules of the data map: "delete (or mask) X once its age field is older than N".

They live in `retention.yml` next to the dataset files (a top-level `retention:` list):

    retention:
      - key: old_logins
        target: user.device            # a data category: every collection holding it
        age_field: ts                  # or one collection: `shop.login_events`
        max_age: 90 days               # days | weeks | months | years
        action: delete                 # delete | mask (the erasure policy's masking)
        schedule: daily at 03:00       # or a cron expression; default daily at 03:00

Pure: the caller passes the file's text and the parsed datasets; every problem is collected
with its line (see yaml_lines.py), like the rest of the data map.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

import yaml

from rightsflow.domain.categories import is_known, matches
from rightsflow.domain.datamap import Collection, Dataset
from rightsflow.domain.deadlines import add_months
from rightsflow.domain.errors import Problem
from rightsflow.domain.yaml_lines import PathStep, compose, problem_location

RETENTION_FILE = "retention.yml"
SweepAction = Literal["delete", "mask"]
DEFAULT_SCHEDULE = "daily at 03:00"
_KEY = re.compile(r"^[a-z0-9_\-]{1,64}$")
_DURATION = re.compile(r"^\s*(\d{1,5})\s*(day|week|month|year)s?\s*$", re.IGNORECASE)
_DAILY = re.compile(r"^daily at ([01]?\d|2[0-3]):([0-5]\d)$")
_CRON_FIELD = re.compile(
    r"^(\*|\d{1,2}(-\d{1,2})?)(/\d{1,2})?(,(\*|\d{1,2}(-\d{1,2})?)(/\d{1,2})?)*$"
)
# Declared types a date or timestamp can be stored as (text holds ISO-8601).
_DATE_DB_TYPE = re.compile(r"date|time", re.IGNORECASE)
_NOT_DATE_DATA_TYPES = frozenset({"integer", "float", "boolean", "object", "object_id"})
_FIELDS = ("key", "target", "age_field", "max_age", "action", "schedule")


@dataclass(frozen=True)
class MaxAge:
    amount: int
    unit: Literal["day", "week", "month", "year"]

    def __str__(self) -> str:
        return f"{self.amount} {self.unit}{'s' if self.amount != 1 else ''}"

    def cutoff(self, now: datetime) -> datetime:
        """Rows whose age field is before this instant are older than the maximum age.
        Months and years are calendar ones (31 March minus 1 month is 28/29 February)."""
        if self.unit == "day":
            return now - timedelta(days=self.amount)
        if self.unit == "week":
            return now - timedelta(weeks=self.amount)
        return add_months(now, -self.amount * (12 if self.unit == "year" else 1))


@dataclass(frozen=True)
class RetentionRule:
    key: str
    target: str  # a data category, or `dataset.collection`
    age_field: str
    max_age: MaxAge
    action: SweepAction
    schedule: str  # as written (or the default)
    cron: str  # the schedule as a cron expression (UTC)
    collections: tuple[str, ...]  # the addresses it sweeps (`dataset:collection`), in order

    @property
    def category(self) -> str | None:
        """The data category the rule targets, or None when it names one collection."""
        return self.target if is_known(self.target) else None


def parse_duration(text: object) -> MaxAge | None:
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None or int(match.group(1)) < 1:
        return None
    unit = match.group(2).lower()
    return MaxAge(int(match.group(1)), unit)  # type: ignore[arg-type]


def parse_schedule(text: str) -> str | None:
    """`daily at HH:MM` or a five-field cron expression, as cron; None if it is neither."""
    daily = _DAILY.match(text.strip())
    if daily:
        return f"{int(daily.group(2))} {int(daily.group(1))} * * *"
    parts = text.split()
    if len(parts) == 5 and all(_CRON_FIELD.match(p) for p in parts):
        return " ".join(parts)
    return None


def parse_retention(
    text: str | None, datasets: Sequence[Dataset], problems: list[Problem]
) -> list[RetentionRule]:
    """The rules of a retention file (none without one); problems are appended."""
    if text is None:
        return []
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problems.append(Problem(RETENTION_FILE, where, "not valid YAML"))
        return []
    node = compose(text)
    if doc is None:
        return []
    if not isinstance(doc, dict) or not isinstance(doc.get("retention"), list):
        where = problem_location(node, ())
        problems.append(Problem(RETENTION_FILE, where, "expected a top-level `retention:` list"))
        return []
    collections = {c.address: c for d in datasets for c in d.collections}
    rules: list[RetentionRule] = []
    for index, raw in enumerate(doc["retention"]):
        at = _At(node, index, problems)
        rule = _rule(raw, collections, at)
        if rule is None:
            continue
        if any(r.key == rule.key for r in rules):
            at.add("key", f"rule key '{rule.key}' is used twice")
            continue
        rules.append(rule)
    return rules


@dataclass(frozen=True)
class _At:
    node: Any
    index: int
    problems: list[Problem]

    def add(self, step: PathStep | None, message: str) -> None:
        path: tuple[PathStep, ...] = ("retention", self.index)
        if step is not None:
            path = (*path, step)
        self.problems.append(Problem(RETENTION_FILE, problem_location(self.node, path), message))


def _rule(raw: object, collections: dict[str, Collection], at: _At) -> RetentionRule | None:
    if not isinstance(raw, dict):
        at.add(None, "expected a mapping")
        return None
    before = len(at.problems)
    for unknown in sorted(str(k) for k in raw if k not in _FIELDS):
        at.add(unknown, f"unknown key '{unknown}'; a rule has {', '.join(_FIELDS)}")
    key, target, age_field = raw.get("key"), raw.get("target"), raw.get("age_field")
    if not isinstance(key, str) or not _KEY.match(key):
        at.add("key", "a key of 1 to 64 lowercase letters, digits, '_' or '-'")
    max_age = parse_duration(raw.get("max_age"))
    if max_age is None:
        at.add("max_age", "a duration like '90 days', '6 months' or '2 years'")
    action = raw.get("action", "delete")
    if action not in ("delete", "mask"):
        at.add("action", "'delete' or 'mask'")
    schedule = raw.get("schedule", DEFAULT_SCHEDULE)
    cron = parse_schedule(schedule) if isinstance(schedule, str) else None
    if cron is None:
        at.add("schedule", "'daily at HH:MM' (UTC) or a five-field cron expression")
    swept = _targets(target, age_field, collections, at)
    if len(at.problems) > before or max_age is None or cron is None:
        return None
    return RetentionRule(
        key=str(key),
        target=str(target),
        age_field=str(age_field),
        max_age=max_age,
        action=action,
        schedule=str(schedule),
        cron=cron,
        collections=swept,
    )


def _targets(
    target: object, age_field: object, collections: dict[str, Collection], at: _At
) -> tuple[str, ...]:
    """The collections a target names, each checked to have a date-like age field."""
    if not isinstance(target, str) or not target:
        at.add("target", "a data category (user.device) or one collection (dataset.collection)")
        return ()
    if not isinstance(age_field, str) or not age_field:
        at.add("age_field", "the date or timestamp field rows are aged by")
        return ()
    if is_known(target):
        chosen = [c for c in collections.values() if _holds(c, target)]
        if not chosen:
            at.add("target", f"no collection holds data of category '{target}'")
    elif target.replace(".", ":", 1) in collections:
        chosen = [collections[target.replace(".", ":", 1)]]
    else:
        at.add("target", f"unknown data category or collection '{target}'")
        return ()
    for collection in chosen:
        problem = age_field_problem(collection, age_field)
        if problem:
            at.add("age_field", problem)
    return tuple(c.address for c in sweep_order(chosen))


def _holds(collection: Collection, category: str) -> bool:
    return any(matches(c, category) for f in collection.leaf_fields() for c in f.categories)


def age_field_problem(collection: Collection, path: str) -> str | None:
    """Why `path` cannot age the collection's rows (None when it can). A field that declares
    no type is accepted: the connector checks the column when it sweeps."""
    field = collection.field(path)
    where = collection.address
    if field is None or field.has_children:
        return f"{where} has no field '{path}'"
    if "." in path:
        return f"{where}.{path}: a nested field cannot age rows (use a top-level column)"
    if not collection.primary_key:
        return f"{where} declares no primary key: it cannot be swept in chunks"
    if field.db_type is not None and not _DATE_DB_TYPE.search(field.db_type):
        return f"{where}.{path} is {field.db_type}, not a date or timestamp"
    if field.data_type in _NOT_DATE_DATA_TYPES:
        return f"{where}.{path} is {field.data_type}, not a date or timestamp"
    return None


def sweep_order(collections: Sequence[Collection]) -> list[Collection]:
    """Referencing collections before the ones they reference (children before parents), so
    deleting old rows never trips a foreign key to rows swept in the same run; else by name."""
    chosen = {c.address: c for c in collections}
    parents = {
        c.address: {
            r.target.collection_address
            for f in c.fields
            for r in f.references
            if r.target.collection_address in chosen and r.target.collection_address != c.address
        }
        for c in collections
    }
    out: list[Collection] = []
    placed: set[str] = set()

    def place(address: str, seen: frozenset[str]) -> None:
        if address in placed or address in seen:
            return
        children = sorted(a for a, ps in parents.items() if address in ps)
        for child in children:
            place(child, seen | {address})
        placed.add(address)
        out.append(chosen[address])

    for address in sorted(chosen):
        place(address, frozenset())
    return out


def targeted_fields(collection: Collection, rule: RetentionRule) -> tuple[str, ...]:
    """The leaf fields a masking rule changes in the collection: those of its category, or for
    a collection target every field with a `user` category (the erasure policy's rules say
    how each is masked)."""
    category = rule.category or "user"
    return tuple(
        f.path
        for f in collection.leaf_fields()
        if not f.primary_key and any(matches(c, category) for c in f.categories)
    )


@dataclass(frozen=True)
class ChunkPlan:
    """How a sweep of `matched` rows is cut into steps of `chunk_size` rows."""

    matched: int
    chunk_size: int

    @property
    def chunks(self) -> int:
        return -(-self.matched // self.chunk_size) if self.matched > 0 else 0

    def sizes(self) -> list[int]:
        full, rest = divmod(self.matched, self.chunk_size)
        return [self.chunk_size] * full + ([rest] if rest else [])
