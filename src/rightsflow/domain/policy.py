"""Policies: which data categories a request type targets, and how erasure treats each."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from rightsflow.domain.categories import best_match, is_known
from rightsflow.domain.datamap_parse import POLICIES_FILE
from rightsflow.domain.errors import DataMapInvalid, InvalidInput, Problem
from rightsflow.domain.requests import RequestType


class MaskStrategy(StrEnum):
    NULL = "null"
    FIXED = "fixed"
    HASH = "hash"  # keyed HMAC-SHA256, so equal inputs stay joinable without being readable
    DELETE = "delete"  # delete the whole row


class MaskRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    category: str
    strategy: MaskStrategy = MaskStrategy.NULL
    value: str | None = None

    @model_validator(mode="after")
    def _fixed_needs_value(self) -> MaskRule:
        if self.strategy is MaskStrategy.FIXED and self.value is None:
            raise ValueError("strategy 'fixed' needs a 'value'")
        if self.strategy is not MaskStrategy.FIXED and self.value is not None:
            raise ValueError("only strategy 'fixed' takes a 'value'")
        return self


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    key: str = Field(pattern=r"^[a-z0-9_\-]{1,64}$")
    type: RequestType
    targets: tuple[str, ...] = Field(min_length=1)
    masking: tuple[MaskRule, ...] = ()
    description: str = ""

    @field_validator("targets")
    @classmethod
    def _known_targets(cls, targets: tuple[str, ...]) -> tuple[str, ...]:
        unknown = [t for t in targets if not is_known(t)]
        if unknown:
            raise ValueError(f"unknown data categories: {', '.join(unknown)}")
        return targets

    @model_validator(mode="after")
    def _rules_within_targets(self) -> Policy:
        if self.type is RequestType.ACCESS and self.masking:
            raise ValueError("an access policy has no masking rules")
        for rule in self.masking:
            if best_match([rule.category], self.targets) is None:
                raise ValueError(f"masking rule for '{rule.category}' is outside the targets")
        return self

    def targeted(self, categories: Iterable[str]) -> bool:
        return best_match(categories, self.targets) is not None

    def rule_for(self, categories: Iterable[str]) -> MaskRule:
        """The most specific rule for a field's categories; null when no rule names them."""
        categories = tuple(categories)
        by_category = {r.category: r for r in self.masking}
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

DEFAULT_POLICIES: Mapping[str, Policy] = {p.key: p for p in (DEFAULT_ACCESS, DEFAULT_ERASURE)}


def parse_policies(doc: Any, file: str = POLICIES_FILE) -> dict[str, Policy]:
    """Built-in defaults plus the `policies:` list of a policies file (which may override them)."""
    policies = dict(DEFAULT_POLICIES)
    if doc is None:
        return policies
    if not isinstance(doc, dict) or not isinstance(doc.get("policies"), list):
        raise DataMapInvalid([Problem(file, "", "expected a top-level `policies:` list")])
    problems = []
    for index, raw in enumerate(doc["policies"]):
        try:
            policy = Policy.model_validate(raw)
        except ValidationError as exc:
            for e in exc.errors():
                loc = ".".join(str(p) for p in (f"policies[{index}]", *e["loc"]))
                problems.append(Problem(file, loc, e["msg"]))
            continue
        policies[policy.key] = policy
    if problems:
        raise DataMapInvalid(problems)
    return policies


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
