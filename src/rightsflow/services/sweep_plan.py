"""What a retention rule does to one collection: the plan node a sweep reads and writes with,
or why the collection cannot be swept (reported, never silently skipped)."""

from __future__ import annotations

from dataclasses import dataclass, replace

from rightsflow.domain.connector import AgedRows, Connector
from rightsflow.domain.errors import InvalidInput, NotFound
from rightsflow.domain.plan import PlanNode, TargetField
from rightsflow.domain.policy import Policy
from rightsflow.domain.requests import RequestType
from rightsflow.domain.retention_rules import RetentionRule, targeted_fields
from rightsflow.services.platform import Platform

ERASURE_POLICY = "default_erasure"


@dataclass(frozen=True)
class SweepTarget:
    """A collection a sweep can work on: its node and its connector (with AgedRows)."""

    node: PlanNode
    connector: Connector
    finder: AgedRows


def rule_for(platform: Platform, key: str) -> RetentionRule:
    for rule in platform.datamap.retention:
        if rule.key == key:
            return rule
    raise NotFound("no retention rule with this key")


def target_for(platform: Platform, rule: RetentionRule, address: str) -> SweepTarget | str:
    """The collection's sweep target, or the reason it cannot be swept."""
    datamap = platform.datamap
    collection = datamap.collection(address)
    system = datamap.system_for(collection.dataset)
    if system is None:
        return f"dataset {collection.dataset} is bound to no system"
    if platform.connectors.answers_itself(system.key):
        return f"system {system.key} answers for itself: its rows cannot be read by age"
    connector = platform.connectors.for_system(system.key)
    if not isinstance(connector, AgedRows):
        return f"connector kind '{system.connector}' cannot find rows by age"
    targets: tuple[TargetField, ...] = ()
    if rule.action == "mask":
        targets = _mask_targets(platform, rule, address)
        if not targets:
            return "no field here is in a user data category: nothing to mask"
    node = PlanNode(
        address=address,
        system=system.key,
        connector=system.connector,
        wave=0,
        primary_key=collection.primary_key,
        identity_inputs=(),
        edge_inputs=(),
        targets=targets,
        fetch_fields=tuple(dict.fromkeys(t.path.split(".", 1)[0] for t in targets)),
        action=rule.action,
    )
    return SweepTarget(node, connector, connector)


def _mask_targets(platform: Platform, rule: RetentionRule, address: str) -> tuple[TargetField, ...]:
    """The targeted fields, each masked as the erasure policy masks it."""
    policy = _erasure_policy(platform)
    collection = platform.datamap.collection(address)
    out = []
    for path in targeted_fields(collection, rule):
        field = collection.field(path)
        if field is None:
            continue
        mask = policy.rule_for(field.categories, f"{address}.{path}")
        granularity = None if mask.granularity is None else str(mask.granularity)
        target = TargetField(
            path,
            field.categories,
            length=field.length,
            data_type=field.data_type,
            db_type=field.db_type,
            unique=field.unique,
            nullable=field.nullable,
        )
        out.append(
            replace(target, strategy=mask.strategy, value=mask.value, granularity=granularity)
        )
    return tuple(out)


def _erasure_policy(platform: Platform) -> Policy:
    policy = platform.policies.get(ERASURE_POLICY)
    if policy is None or policy.type is not RequestType.ERASURE:
        raise InvalidInput("masking sweeps need the default_erasure policy", field="policy")
    return policy
