"""Hand-built planner examples: reference cycles in the erase order, and determinism."""

from __future__ import annotations

import json
import subprocess
import sys

from rightsflow.domain.datamap import (
    Collection,
    DataField,
    DataMap,
    Dataset,
    FieldAddress,
    Reference,
    System,
)
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import DEFAULT_ERASURE

OPS = ("system.operations",)


def _key() -> DataField:
    return DataField("id", OPS, primary_key=True)


def _ref(collection: str, field: str = "id") -> tuple[Reference, ...]:
    return (Reference(FieldAddress("d", collection, field)),)


def _datamap(*collections: Collection) -> DataMap:
    return DataMap((System("s", "sql", ("d",)),), (Dataset("d", collections),))


def test_reference_cycle_is_erased_together_and_noted() -> None:
    a = Collection(
        "d",
        "a",
        (
            _key(),
            DataField("email", ("user.contact.email",), identity="email"),
            DataField("b_id", OPS, references=_ref("b")),
        ),
    )
    b = Collection(
        "d",
        "b",
        (_key(), DataField("name", ("user.name",)), DataField("a_id", OPS, references=_ref("a"))),
    )
    plan = plan_request(_datamap(a, b), DEFAULT_ERASURE, ["email"])
    assert plan.erase_order == (("d:a", "d:b"),)
    assert any("cycle" in n and "d:a" in n and "d:b" in n for n in plan.notes)


def test_a_parent_of_a_cycle_is_erased_after_the_cycle() -> None:
    """a <-> b reference each other; b also references p, which references nothing.

    p is not in the cycle: it is a parent of b, so it must be erased after a and b (the groups
    of one step run concurrently, so sharing a group breaks children-before-parents)."""
    a = Collection(
        "d",
        "a",
        (
            _key(),
            DataField("email", ("user.contact.email",), identity="email"),
            DataField("b_id", OPS, references=_ref("b")),
        ),
    )
    b = Collection(
        "d",
        "b",
        (
            _key(),
            DataField("name", ("user.name",)),
            DataField("a_id", OPS, references=_ref("a")),
            DataField("p_id", OPS, references=_ref("p")),
        ),
    )
    p = Collection("d", "p", (_key(), DataField("name", ("user.name",))))
    plan = plan_request(_datamap(a, b, p), DEFAULT_ERASURE, ["email"])
    assert plan.erase_order == (("d:a", "d:b"), ("d:p",))
    assert not any("d:p" in n for n in plan.notes)


def test_independent_collections_share_the_first_group() -> None:
    a = Collection(
        "d", "a", (_key(), DataField("email", ("user.contact.email",), identity="email"))
    )
    c = Collection(
        "d", "c", (_key(), DataField("email", ("user.contact.email",), identity="email"))
    )
    child = Collection(
        "d",
        "child",
        (
            _key(),
            DataField("ip", ("user.device.ip_address",)),
            DataField("a_id", OPS, references=_ref("a")),
        ),
    )
    plan = plan_request(_datamap(a, c, child), DEFAULT_ERASURE, ["email"])
    assert plan.erase_order == (("d:c", "d:child"), ("d:a",))
    assert plan.notes == ()


# One field references two fields of the same collection: the two edges into it tie on the
# planner's sort key (target collection, target field, source collection).
_TIE = """
import json
from rightsflow.domain.datamap import *
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import DEFAULT_ACCESS
F = DataField
a = Collection("d", "a", (F("id", ("system.operations",), primary_key=True),
    F("email", ("user.contact.email",), identity="email"),
    F("k1", ("system.operations",)), F("k2", ("system.operations",))))
b = Collection("d", "b", (F("id", ("system.operations",), primary_key=True),
    F("x", ("user.name",), references=(Reference(FieldAddress("d", "a", "k1"), "from"),
                                       Reference(FieldAddress("d", "a", "k2"), "from")))))
dm = DataMap((System("s", "sql", ("d",)),), (Dataset("d", (a, b)),))
print(json.dumps(plan_request(dm, DEFAULT_ACCESS, ["email"]).to_dict(), sort_keys=True))
"""


def test_plan_does_not_depend_on_the_hash_seed() -> None:
    """`rightsflow plan` and every worker must build the same plan from the same data map."""
    outputs = set()
    for seed in range(8):
        done = subprocess.run(
            [sys.executable, "-c", _TIE],
            env={"PYTHONHASHSEED": str(seed), "PYTHONPATH": ":".join(sys.path)},
            capture_output=True,
            text=True,
            check=True,
        )
        edges = json.loads(done.stdout)["nodes"][1]["edge_inputs"]
        assert len(edges) == 2
        outputs.add(done.stdout)
    assert len(outputs) == 1
