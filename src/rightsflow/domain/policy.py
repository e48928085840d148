"""Policies: which data categories a request type targets, and how erasure treats each."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from enum import StrEnum
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from rightsflow.domain.categories import best_match, is_known
from rightsflow.domain.datamap_parse import POLICIES_FILE
from rightsflow.domain.errors import DataMapInvalid, InvalidInput, Problem
from rightsflow.domain.requests import RequestType
from rightsflow.domain.yaml_lines import PathStep, compose, line_of, problem_location


class MaskStrategy(StrEnum):
    NULL = "null"
    FIXED = "fixed"  # a fixed string (with a per-row suffix on unique columns)
    RANDOM = "random"  # random-looking characters, reproducible from the row's salt
    HASH = "hash"  # keyed HMAC-SHA256, so equal inputs stay joinable without being readable
    ENCRYPT = "encrypt"  # AES-GCM, reversible under the platform key (pseudonymisation)
    GENERALIZE = "generalize"  # dates truncated to year/month/day, numbers floored to a bucket
    DELETE = "delete"  # delete the whole row


DATE_GRANULARITIES = ("year", "month", "day")
Granularity = Literal["year", "month", "day"] | int | float
_FIELD_ADDRESS = re.compile(r"^[A-Za-z0-9_.\-]+:[^.\s]+\.\S+$")
_POLICY_KEY = re.compile(r"^[a-z0-9_\-]{1,64}$")


def _known_category(category: str) -> str:
    if not is_known(category):
        raise ValueError(f"unknown data category '{category}'")
    return category


def _field_address(address: str) -> str:
    if not _FIELD_ADDRESS.match(address):
        raise ValueError("a field is named `dataset:collection.path`")
    return address


def _policy_key(key: str) -> str:
    if not _POLICY_KEY.match(key):
        raise ValueError("a policy key is 1 to 64 lowercase letters, digits, '_' or '-'")
    return key


Category = Annotated[str, AfterValidator(_known_category)]
FieldAddressText = Annotated[str, AfterValidator(_field_address)]


class MaskRule(BaseModel):
    """How one data category, or one field (`dataset:collection.path`), is erased."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    category: Category | None = None
    field: FieldAddressText | None = None
    strategy: MaskStrategy = MaskStrategy.NULL
    value: str | None = None  # fixed only
    granularity: Granularity | None = None  # generalize only

    @field_validator("strategy", mode="before")
    @classmethod
    def _yaml_null(cls, raw: object) -> object:
        # YAML reads `strategy: null` as None; whoever wrote it meant the null strategy.
        return MaskStrategy.NULL if raw is None else raw

    @field_validator("value")
    @classmethod
    def _value_for_fixed(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None:
            _only_for(info, MaskStrategy.FIXED, "value")
        return value

    @field_validator("granularity", mode="before")
    @classmethod
    def _granularity(cls, raw: object, info: ValidationInfo) -> object:
        if raw is None:
            return raw
        _only_for(info, MaskStrategy.GENERALIZE, "granularity")
        if isinstance(raw, str) and raw not in DATE_GRANULARITIES:
            raw = _number_text(raw)  # "10" as a plan carries it, or as quoted YAML
        if raw in DATE_GRANULARITIES or _positive_number(raw):
            return raw
        raise ValueError(
            "granularity is 'year', 'month' or 'day' for dates, or a positive number for numbers"
        )

    @model_validator(mode="after")
    def _complete(self) -> MaskRule:
        if (self.category is None) == (self.field is None):
            raise ValueError("a rule names exactly one of 'category' or 'field'")
        if self.strategy is MaskStrategy.FIXED and self.value is None:
            raise ValueError("strategy 'fixed' needs a 'value'")
        if self.strategy is MaskStrategy.GENERALIZE and self.granularity is None:
            raise ValueError("strategy 'generalize' needs a 'granularity'")
        return self

    @property
    def subject(self) -> str:
        """What the rule names: its category or its field address."""
        return self.category or self.field or ""


def _only_for(info: ValidationInfo, strategy: MaskStrategy, option: str) -> None:
    # `strategy` is declared before the options, so info.data holds it (or its default) once
    # it is valid; an invalid strategy has its own error already.
    chosen = info.data.get("strategy")
    if chosen is not None and chosen is not strategy:
        raise ValueError(f"only strategy '{strategy.value}' takes a '{option}'")


def _number_text(text: str) -> object:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _positive_number(raw: object) -> bool:
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        return False
    return math.isfinite(raw) and raw > 0


def _a(request_type: RequestType) -> str:
    article = "an" if request_type.value[0] in "aeiou" else "a"
    return f"{article} {request_type.value}"


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: Annotated[str, AfterValidator(_policy_key)]
    type: RequestType
    targets: tuple[Category, ...] = Field(min_length=1)
    masking: tuple[MaskRule, ...] = ()
    # What erasure does to collections the data map does not annotate with their own mode.
    erasure_mode: Literal["mask", "delete"] = "mask"
    description: str = ""

    @model_validator(mode="after")
    def _rules_fit_the_type(self) -> Policy:
        if self.type is not RequestType.ERASURE:
            if self.masking:
                raise ValueError(f"{_a(self.type)} policy has no masking rules (erasure only)")
            if "erasure_mode" in self.model_fields_set:
                raise ValueError("only an erasure policy has an 'erasure_mode'")
        seen: set[str] = set()
        for rule in self.masking:
            if rule.subject in seen:
                raise ValueError(f"more than one masking rule for '{rule.subject}'")
            seen.add(rule.subject)
            if rule.category and best_match([rule.category], self.targets) is None:
                raise ValueError(f"masking rule for '{rule.category}' is outside the targets")
        return self

    def targeted(self, categories: Iterable[str], field_address: str | None = None) -> bool:
        """Whether the policy reaches a field: by category, or by a rule naming the field."""
        if field_address is not None and any(r.field == field_address for r in self.masking):
            return True
        return best_match(categories, self.targets) is not None

    def rule_for(self, categories: Iterable[str], field_address: str | None = None) -> MaskRule:
        """A rule naming the field wins; then the most specific category rule; then null."""
        if field_address is not None:
            for rule in self.masking:
                if rule.field == field_address:
                    return rule
        categories = tuple(categories)
        by_category = {r.category: r for r in self.masking if r.category}
        hit = best_match(categories, by_category)
        if hit is not None:
            return by_category[hit]
        target = best_match(categories, self.targets) or self.targets[0]
        return MaskRule(category=target)


DEFAULT_ACCESS = Policy(
    key="default_access",
    type=RequestType.ACCESS,
    targets=("user",),
    description="Every field in a user.* data category, from every collection.",
)

DEFAULT_ERASURE = Policy(
    key="default_erasure",
    type=RequestType.ERASURE,
    targets=(
        "user.contact",
        "user.financial",
        "user.device.ip_address",
        "user.name",
        "user.content.private",
    ),
    masking=(
        MaskRule(category="user.contact"),
        MaskRule(category="user.financial"),
        MaskRule(category="user.device.ip_address"),
        MaskRule(category="user.name", strategy=MaskStrategy.FIXED, value="MASKED"),
        MaskRule(category="user.content.private", strategy=MaskStrategy.FIXED, value="MASKED"),
    ),
    description="Null contact, financial and IP data; overwrite names and private text; "
    "keep purchase history.",
)

DEFAULT_PORTABILITY = Policy(
    key="default_portability",
    type=RequestType.PORTABILITY,
    targets=("user",),
    description="Every field in a user.* data category, machine-readable.",
)

DEFAULT_RECTIFICATION = Policy(
    key="default_rectification",
    type=RequestType.RECTIFICATION,
    targets=("user",),
    description="Any field in a user.* data category may be corrected.",
)

DEFAULT_RESTRICTION = Policy(
    key="default_restriction",
    type=RequestType.RESTRICTION,
    targets=("user",),
    description="Every collection holding user.* data is flagged as restricted.",
)

DEFAULT_POLICIES: Mapping[str, Policy] = {
    p.key: p
    for p in (
        DEFAULT_ACCESS,
        DEFAULT_ERASURE,
        DEFAULT_PORTABILITY,
        DEFAULT_RECTIFICATION,
        DEFAULT_RESTRICTION,
    )
}


def parse_policies(text: str | None, file: str = POLICIES_FILE) -> dict[str, Policy]:
    """Built-in defaults plus the `policies:` list of a policies file (which may override them).

    Raises DataMapInvalid with every problem, each located as `line N: policies[i]...`.
    """
    policies = dict(DEFAULT_POLICIES)
    doc = _load(text, file)
    if doc is None:
        return policies
    node = compose(text or "")
    if not isinstance(doc, dict) or not isinstance(doc.get("policies"), list):
        where = problem_location(node, ())
        raise DataMapInvalid([Problem(file, where, "expected a top-level `policies:` list")])
    problems: list[Problem] = []
    first_index: dict[str, int] = {}
    for index, raw in enumerate(doc["policies"]):
        try:
            policy = Policy.model_validate(raw)
        except ValidationError as exc:
            for loc, msg in _errors(exc):
                where = problem_location(node, ("policies", index, *loc))
                problems.append(Problem(file, where, msg))
            continue
        if policy.key in first_index:
            line = line_of(node, ("policies", first_index[policy.key]))
            where = problem_location(node, ("policies", index, "key"))
            problems.append(Problem(file, where, f"policy key also defined on line {line}"))
            continue
        first_index[policy.key] = index
        policies[policy.key] = policy
    if problems:
        raise DataMapInvalid(problems)
    return policies


def _load(text: str | None, file: str) -> Any:
    if text is None:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        reason = getattr(exc, "problem", None) or type(exc).__name__
        raise DataMapInvalid([Problem(file, where, f"not valid YAML ({reason})")]) from None


def _errors(exc: ValidationError) -> list[tuple[tuple[PathStep, ...], str]]:
    """pydantic's errors as (loc, message), without the noise.

    A list whose bad items were dropped also reports it is now too short: the item's own
    error says it better. And pydantic prefixes our ValueErrors with "Value error, ".
    """
    errors = exc.errors()
    out = []
    for e in errors:
        loc = tuple(e["loc"])
        shadowed = any(len(o["loc"]) > len(loc) and o["loc"][: len(loc)] == loc for o in errors)
        if e["type"] == "too_short" and shadowed:
            continue
        out.append((loc, e["msg"].removeprefix("Value error, ")))
    return out


def field_override_problems(
    known_fields: set[str] | frozenset[str], text: str | None, file: str = POLICIES_FILE
) -> list[Problem]:
    """Per-field rules of a policies file that name a field the data map does not have.

    Read from the file itself, so they are found next to the file's other problems, even in a
    policy that is invalid for another reason. Malformed addresses are parse_policies' to report.
    """
    try:
        doc = _load(text, file)
    except DataMapInvalid:
        return []  # not YAML: parse_policies says so
    if not isinstance(doc, dict) or not isinstance(doc.get("policies"), list):
        return []
    node = compose(text or "")
    problems = []
    for index, raw in enumerate(doc["policies"]):
        rules = raw.get("masking") if isinstance(raw, dict) else None
        for position, rule in enumerate(rules if isinstance(rules, list) else ()):
            field = rule.get("field") if isinstance(rule, dict) else None
            if isinstance(field, str) and _FIELD_ADDRESS.match(field) and field not in known_fields:
                path: Sequence[PathStep] = ("policies", index, "masking", position, "field")
                message = f"unknown field '{field}': not a leaf field of the data map"
                problems.append(Problem(file, problem_location(node, path), message))
    return problems


def policy_for(
    policies: Mapping[str, Policy], request_type: RequestType, key: str | None
) -> Policy:
    key = key or f"default_{request_type.value}"
    policy = policies.get(key)
    if policy is None:
        raise InvalidInput(f"unknown policy; known: {', '.join(sorted(policies))}", field="policy")
    if policy.type is not request_type:
        raise InvalidInput(f"policy is for {policy.type.value} requests", field="policy")
    return policy
