"""The ExecutionPlan: what the planner produces and the workflow follows. No personal data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from rightsflow.domain.datamap import Exemption, RestrictionFlag
from rightsflow.domain.masking import MaskContext
from rightsflow.domain.policy import MaskRule, MaskStrategy
from rightsflow.domain.requests import RequestType


@dataclass(frozen=True)
class Edge:
    """Rows of `target_collection` are those whose `target_field` is among the values of
    `source_field` in the rows already found in `source_collection`."""

    source_collection: str
    source_field: str
    target_collection: str
    target_field: str


@dataclass(frozen=True)
class IdentityInput:
    identity: str
    field: str


@dataclass(frozen=True)
class TargetField:
    path: str
    categories: tuple[str, ...]
    strategy: MaskStrategy | None = None  # erasure only
    value: str | None = None
    length: int | None = None
    granularity: str | None = None  # generalize only
    data_type: str | None = None
    db_type: str | None = None
    unique: bool = False
    nullable: bool | None = None

    def mask_rule(self) -> MaskRule:
        """The erasure rule the plan fixed for this field (null when it names none)."""
        return MaskRule(
            category=self.categories[0] if self.categories else "user",
            strategy=self.strategy or MaskStrategy.NULL,
            value=self.value,
            granularity=self.granularity,
        )

    def mask_context(self) -> MaskContext:
        """What the data map knows about the column, for masking it."""
        return MaskContext(
            data_type=self.data_type,
            db_type=self.db_type,
            length=self.length,
            unique=self.unique,
            nullable=self.nullable,
        )


@dataclass(frozen=True)
class PlanNode:
    address: str  # "dataset:collection"
    system: str
    connector: str
    wave: int
    primary_key: tuple[str, ...]
    identity_inputs: tuple[IdentityInput, ...]
    edge_inputs: tuple[Edge, ...]
    targets: tuple[TargetField, ...]
    fetch_fields: tuple[str, ...]  # top-level fields the connector reads
    # "read" (traverse only) | "return" (access, portability) | "mask" | "delete" | "keep"
    # (erasure exemption) | "restrict" | "rectify"
    action: str
    exemption: Exemption | None = None  # action "keep"
    detach: tuple[str, ...] = ()  # reference fields set to NULL: the rows they point at go
    restriction: RestrictionFlag | None = None  # action "restrict"

    @property
    def dataset(self) -> str:
        return self.address.split(":", 1)[0]

    @property
    def collection(self) -> str:
        return self.address.split(":", 1)[1]

    @property
    def erases(self) -> bool:
        """Whether the node changes rows (erasure, detaching, restriction, rectification)."""
        return self.action in ("mask", "delete", "restrict", "rectify") or bool(self.detach)


@dataclass(frozen=True)
class Skipped:
    address: str
    reason: str
    holds_targeted_data: bool


@dataclass(frozen=True)
class ExecutionPlan:
    request_type: RequestType
    policy_key: str
    identity_types: tuple[str, ...]
    nodes: tuple[PlanNode, ...]
    erase_order: tuple[tuple[str, ...], ...]  # groups; each group erased before the next
    skipped: tuple[Skipped, ...]
    notes: tuple[str, ...] = field(default=())

    @property
    def waves(self) -> tuple[tuple[str, ...], ...]:
        depth = max((n.wave for n in self.nodes), default=-1)
        return tuple(tuple(n.address for n in self.nodes if n.wave == w) for w in range(depth + 1))

    def node(self, address: str) -> PlanNode:
        for n in self.nodes:
            if n.address == address:
                return n
        raise KeyError(address)

    @property
    def unreachable(self) -> tuple[Skipped, ...]:
        """Collections with targeted data the plan cannot reach: a data-map gap to report."""
        return tuple(s for s in self.skipped if s.holds_targeted_data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> ExecutionPlan:
        return cls(
            request_type=RequestType(raw["request_type"]),
            policy_key=raw["policy_key"],
            identity_types=tuple(raw["identity_types"]),
            nodes=tuple(_node_from_dict(n) for n in raw["nodes"]),
            erase_order=tuple(tuple(g) for g in raw["erase_order"]),
            skipped=tuple(Skipped(**s) for s in raw["skipped"]),
            notes=tuple(raw.get("notes", ())),
        )


def _node_from_dict(raw: dict[str, Any]) -> PlanNode:
    exemption, restriction = raw.get("exemption"), raw.get("restriction")
    return PlanNode(
        address=raw["address"],
        system=raw["system"],
        connector=raw["connector"],
        wave=raw["wave"],
        primary_key=tuple(raw["primary_key"]),
        identity_inputs=tuple(IdentityInput(**i) for i in raw["identity_inputs"]),
        edge_inputs=tuple(Edge(**e) for e in raw["edge_inputs"]),
        targets=tuple(_target_from_dict(t) for t in raw["targets"]),
        fetch_fields=tuple(raw["fetch_fields"]),
        action=raw["action"],
        exemption=Exemption(**exemption) if exemption else None,
        detach=tuple(raw.get("detach", ())),
        restriction=RestrictionFlag(**restriction) if restriction else None,
    )


def _target_from_dict(raw: dict[str, Any]) -> TargetField:
    strategy = raw.get("strategy")
    return TargetField(
        **{
            **raw,
            "categories": tuple(raw["categories"]),
            "strategy": MaskStrategy(strategy) if strategy else None,
        }
    )
