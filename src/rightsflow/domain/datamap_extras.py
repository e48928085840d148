"""Rightsflow's own annotations in a fideslang dataset, under `fides_meta.rightsflow`.

fideslang ignores unknown keys in `fides_meta`, so these files stay valid for Fides. A field may
say what the column is like (`nullable`, `unique`, `db_type`, and `review` while an
introspection suggestion awaits a human); a collection may say what erasure means there
(`erasure`, `exemption`, `on_parent_erase`) and how restriction of processing is recorded
(`restriction`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from rightsflow.domain.datamap import Exemption, RestrictionFlag
from rightsflow.domain.errors import Problem

_STRICT = ConfigDict(extra="forbid", frozen=True)
M = TypeVar("M", bound=BaseModel)


class FieldExtras(BaseModel):
    model_config = _STRICT

    nullable: bool | None = None
    unique: bool = False
    db_type: str | None = Field(default=None, max_length=200)
    review: str | bool | None = None


class ExemptionIn(BaseModel):
    model_config = _STRICT

    legal_basis: str = Field(min_length=3, max_length=500)
    retain_for: str | None = Field(default=None, max_length=100)


class RestrictionIn(BaseModel):
    model_config = _STRICT

    field: str = Field(min_length=1)
    value: bool | int | str = True


class CollectionExtras(BaseModel):
    model_config = _STRICT

    erasure: Literal["delete", "mask", "keep"] | None = None
    exemption: ExemptionIn | None = None
    on_parent_erase: Literal["delete", "detach"] | None = None
    restriction: RestrictionIn | None = None

    @model_validator(mode="after")
    def _keep_needs_basis(self) -> CollectionExtras:
        if self.erasure == "keep" and self.exemption is None:
            raise ValueError("`erasure: keep` needs an `exemption` with its `legal_basis`")
        if self.exemption is not None and self.erasure != "keep":
            raise ValueError("an `exemption` only applies with `erasure: keep`")
        return self

    def exemption_value(self) -> Exemption | None:
        e = self.exemption
        return Exemption(e.legal_basis, e.retain_for) if e else None

    def restriction_value(self) -> RestrictionFlag | None:
        r = self.restriction
        return RestrictionFlag(r.field, r.value) if r else None


def raw_extras(raw: object) -> object:
    """The `fides_meta.rightsflow` member of a raw collection or field mapping, if any."""
    if not isinstance(raw, Mapping):
        return None
    meta = raw.get("fides_meta") or raw.get("fidesops_meta")
    return meta.get("rightsflow") if isinstance(meta, Mapping) else None


def field_extras(raw: object, file: str, where: str, problems: list[Problem]) -> FieldExtras:
    return _parse(FieldExtras, raw_extras(raw), file, where, problems) or FieldExtras()


def collection_extras(
    raw: object, file: str, where: str, problems: list[Problem]
) -> CollectionExtras:
    extras = _parse(CollectionExtras, raw_extras(raw), file, where, problems)
    extras = extras or CollectionExtras()
    if extras.erasure is None and _fides_delete_override(raw):
        extras = extras.model_copy(update={"erasure": "delete"})
    return extras


def _fides_delete_override(raw: object) -> bool:
    """Fides' own way to say "delete these rows": masking_strategy_override: {strategy: delete}."""
    meta = raw.get("fides_meta") if isinstance(raw, Mapping) else None
    override = meta.get("masking_strategy_override") if isinstance(meta, Mapping) else None
    return isinstance(override, Mapping) and override.get("strategy") == "delete"


def _parse(model: type[M], raw: Any, file: str, where: str, problems: list[Problem]) -> M | None:
    if raw is None:
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        for e in exc.errors():
            loc = ".".join(str(p) for p in (f"{where}.fides_meta.rightsflow", *e["loc"]))
            problems.append(Problem(file, loc, e["msg"]))
        return None
