"""The data map: systems, datasets, collections, fields and references (no I/O)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from rightsflow.domain.retention_rules import RetentionRule

Direction = Literal["from", "to"] | None
ErasureMode = Literal["delete", "mask", "keep"]
OnParentErase = Literal["delete", "detach"]


@dataclass(frozen=True)
class FieldAddress:
    dataset: str
    collection: str
    field: str  # dotted path for nested fields

    @property
    def collection_address(self) -> str:
        return f"{self.dataset}:{self.collection}"

    def __str__(self) -> str:
        return f"{self.dataset}:{self.collection}.{self.field}"


@dataclass(frozen=True)
class Reference:
    target: FieldAddress
    # "from": values flow from the target into this field; "to": from this field to the target;
    # None: either way (fideslang's default).
    direction: Direction = None


@dataclass(frozen=True)
class DataField:
    path: str
    categories: tuple[str, ...] = ()
    identity: str | None = None
    primary_key: bool = False
    data_type: str | None = None
    length: int | None = None
    references: tuple[Reference, ...] = ()
    has_children: bool = False
    # Column facts (from introspection or by hand) that masking must respect.
    nullable: bool | None = None
    unique: bool = False
    db_type: str | None = None
    review: str | None = None  # an introspection suggestion no human has confirmed yet

    @property
    def top_level(self) -> str:
        return self.path.split(".", 1)[0]


@dataclass(frozen=True)
class Exemption:
    """Why rows are kept despite an erasure request (e.g. a tax-law retention duty)."""

    legal_basis: str
    retain_for: str | None = None  # e.g. "10 years"


@dataclass(frozen=True)
class RestrictionFlag:
    """How restriction of processing is recorded in a collection: set `field` to `value`."""

    field: str
    value: str | int | bool


@dataclass(frozen=True)
class Collection:
    dataset: str
    name: str
    fields: tuple[DataField, ...]
    erasure: ErasureMode | None = None  # None: the policy's default
    exemption: Exemption | None = None  # with erasure == "keep"
    # What erasing a referenced (parent) row does to this collection's rows that point at it.
    on_parent_erase: OnParentErase | None = None  # None: delete them
    restriction: RestrictionFlag | None = None
    erase_after: tuple[str, ...] = ()  # collection addresses erased before this one

    @property
    def address(self) -> str:
        return f"{self.dataset}:{self.name}"

    @property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(f.path for f in self.fields if f.primary_key)

    def field(self, path: str) -> DataField | None:
        return next((f for f in self.fields if f.path == path), None)

    def leaf_fields(self) -> Iterator[DataField]:
        return (f for f in self.fields if not f.has_children)


@dataclass(frozen=True)
class Dataset:
    key: str
    collections: tuple[Collection, ...]
    source_file: str = ""


@dataclass(frozen=True)
class System:
    key: str
    connector: str
    datasets: tuple[str, ...]
    config: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class DataMap:
    systems: tuple[System, ...]
    datasets: tuple[Dataset, ...]
    warnings: tuple[str, ...] = ()
    retention: tuple[RetentionRule, ...] = ()  # retention.yml (domain/retention_rules.py)

    def collections(self) -> Iterator[Collection]:
        for dataset in self.datasets:
            yield from dataset.collections

    def collection(self, address: str) -> Collection:
        for c in self.collections():
            if c.address == address:
                return c
        raise KeyError(address)

    def system_for(self, dataset_key: str) -> System | None:
        return next((s for s in self.systems if dataset_key in s.datasets), None)

    def identity_types(self) -> frozenset[str]:
        return frozenset(
            f.identity for c in self.collections() for f in c.fields if f.identity is not None
        )
