"""The bulk chunk engine over the in-memory connector: one call per collection for a chunk,
rows routed to their own subjects, failures kept to the subjects whose rows fail."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

import pytest

from rightsflow.connectors.testing import InMemoryConnector
from rightsflow.domain.bulk import BulkSubject, SubjectOutcome
from rightsflow.domain.connector import Connector, Row, RowChange, Scalar, SystemConnector
from rightsflow.domain.errors import Conflict, ConnectorFailure, InvalidInput
from rightsflow.domain.plan import ExecutionPlan, PlanNode
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import DEFAULT_ACCESS, DEFAULT_ERASURE, DEFAULT_RECTIFICATION
from rightsflow.services.bulk_engine import read_chunk, run_chunk
from rightsflow.services.platform import Platform
from tests.unit.fakes import make_platform

CUSTOMERS = 6


def email(i: int) -> str:
    return f"c{i}@shop.example"


def shop_rows() -> dict[str, list[Row]]:
    """Customer i has i % 3 + 1 addresses, one card, i login events, one ticket, two orders
    of two items each."""
    data: dict[str, list[Row]] = {
        f"shop:{t}": []
        for t in [
            "customers",
            "addresses",
            "payment_cards",
            "login_events",
            "support_tickets",
            "orders",
            "order_items",
        ]
    }
    for i in range(1, CUSTOMERS + 1):
        data["shop:customers"].append(
            {"id": i, "email": email(i), "name": f"N{i}", "phone": f"+44{i}", "created_at": "x"}
        )
        for a in range(i % 3 + 1):
            data["shop:addresses"].append(
                {"id": i * 10 + a, "customer_id": i, "street": "S", "city": "C"}
            )
        data["shop:payment_cards"].append(
            {"id": i, "customer_id": i, "last4": "1234", "ccn_hash": "h"}
        )
        for e in range(i):
            data["shop:login_events"].append(
                {"id": i * 100 + e, "customer_email": email(i), "ip": "10.0.0.1", "ts": "t"}
            )
        data["shop:support_tickets"].append({"id": i, "customer_email": email(i), "body": "b"})
        for o in range(2):
            order = i * 10 + o
            data["shop:orders"].append(
                {"id": order, "customer_id": i, "total": 1, "created_at": "t"}
            )
            data["shop:order_items"].extend(
                {"id": order * 10 + k, "order_id": order, "sku": "S", "qty": 1} for k in range(2)
            )
    return data


class Connectors:
    """Every system is the one in-memory connector; `asked` systems answer for themselves."""

    def __init__(self, connector: Connector, asked: frozenset[str] = frozenset()) -> None:
        self.connector = connector
        self.asked = asked

    def for_system(self, system_key: str) -> Connector:
        assert system_key not in self.asked, "a system asked per request was called"
        return self.connector

    def system_connector(self, system_key: str) -> SystemConnector:
        raise AssertionError(f"not set-based: {system_key}")

    def answers_itself(self, system_key: str) -> bool:
        return system_key in self.asked


class Poisoned(InMemoryConnector):
    """Refuses (not retryable) any write of one collection that includes a poisoned key."""

    def __init__(self, data: Mapping[str, list[Row]], address: str, bad: set[int]) -> None:
        super().__init__(data)
        self.address, self.bad = address, bad

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        self._refuse(node, [c.key for c in changes])
        return super().mask(node, changes)

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> int:
        self._refuse(node, keys)
        return super().delete(node, keys)

    def _refuse(self, node: PlanNode, keys: Sequence[Mapping[str, Any]]) -> None:
        if node.address == self.address and any(k["id"] in self.bad for k in keys):
            self.calls.append(("refused", node.address))
            raise ConnectorFailure(f"{node.address}: constraint violated", retryable=False)


def setup(
    connector: InMemoryConnector | None = None, asked: frozenset[str] = frozenset()
) -> tuple[Platform, InMemoryConnector]:
    platform, _ = make_platform()
    memory = connector or InMemoryConnector(shop_rows())
    return replace(platform, connectors=Connectors(memory, asked)), memory


def erasure_plan(platform: Platform, mode: str = "mask") -> ExecutionPlan:
    policy = DEFAULT_ERASURE.model_copy(update={"erasure_mode": mode})
    return plan_request(platform.datamap, policy, ("email",))


def subjects(*customers: int) -> list[BulkSubject]:
    return [BulkSubject(n, {"email": email(i)}) for n, i in enumerate(customers, start=1)]


def by_address(outcome: SubjectOutcome, field: str) -> dict[str, int]:
    return {c.address: getattr(c, field) for c in outcome.collections}


def calls(memory: InMemoryConnector, method: str) -> Counter[str]:
    return Counter(address for m, address in memory.calls if m == method)


def holds_email(memory: InMemoryConnector, i: int) -> bool:
    return any(
        email(i) in (r.get("email"), r.get("customer_email"))
        for address in ("shop:customers", "shop:login_events", "shop:support_tickets")
        for r in memory.rows(address)
    )


def test_an_erasure_chunk_reads_and_writes_each_collection_once() -> None:
    platform, memory = setup()
    plan = erasure_plan(platform)
    progress: list[int] = []
    outcomes = run_chunk(platform, plan, subjects(1, 2, 4), on_rows=progress.append)
    assert [o.seq for o in outcomes] == [1, 2, 3]
    assert all(o.ok for o in outcomes)
    erased = {n.address for n in plan.nodes}
    assert calls(memory, "retrieve_pages") == dict.fromkeys(erased, 1)
    assert calls(memory, "mask") == dict.fromkeys(erased, 1)
    assert calls(memory, "fetch_by_keys") == dict.fromkeys(erased, 1)
    assert calls(memory, "retrieve") == dict.fromkeys(erased, 1)  # the re-check's lookups
    found = by_address(outcomes[2], "rows_found")  # customer 4
    assert found == {
        "shop:customers": 1,
        "shop:login_events": 4,
        "shop:support_tickets": 1,
        "shop:addresses": 2,
        "shop:payment_cards": 1,
    }
    assert by_address(outcomes[2], "rows_masked") == found
    assert sum(progress) == sum(o.rows_written for o in outcomes)
    assert not any(holds_email(memory, i) for i in (1, 2, 4))
    assert all(holds_email(memory, i) for i in (3, 5, 6))
    untouched = [a for a in memory.rows("shop:addresses") if a["customer_id"] == 3]
    assert untouched
    assert all(a["street"] == "S" for a in untouched)


def test_a_delete_plan_follows_the_erase_order_and_counts_per_subject() -> None:
    platform, memory = setup()
    outcomes = run_chunk(platform, erasure_plan(platform, "delete"), subjects(2, 5))
    assert all(o.ok for o in outcomes)
    deleted = by_address(outcomes[1], "rows_deleted")  # customer 5
    assert deleted["shop:orders"] == 2
    assert deleted["shop:order_items"] == 4
    assert deleted["shop:login_events"] == 5
    assert {r["customer_id"] for r in memory.rows("shop:orders")} == {1, 3, 4, 6}
    order = [a for m, a in memory.calls if m == "delete"]
    assert order.index("shop:order_items") < order.index("shop:orders")
    assert order.index("shop:orders") < order.index("shop:customers")


def test_a_row_two_subjects_share_counts_for_both() -> None:
    platform, memory = setup()
    # The same person twice in a file: both lines own the same rows.
    chunk = [BulkSubject(1, {"email": email(3)}), BulkSubject(2, {"email": email(3)})]
    first, second = run_chunk(platform, erasure_plan(platform), chunk)
    assert first.ok
    assert second.ok
    assert by_address(first, "rows_masked") == by_address(second, "rows_masked")
    assert first.rows_written == 1 + 3 + 1 + 1 + 1
    assert calls(memory, "mask")["shop:login_events"] == 1


def test_a_failing_write_fails_only_the_subjects_whose_rows_fail() -> None:
    memory = Poisoned(shop_rows(), "shop:addresses", bad={40})  # customer 4's first address
    platform, _ = setup(memory)
    outcomes = run_chunk(platform, erasure_plan(platform), subjects(1, 2, 3, 4, 5, 6))
    failed = [o for o in outcomes if o.problem]
    assert [o.seq for o in failed] == [4]
    assert failed[0].problem == "shop:addresses: constraint violated"
    assert all(o.ok for o in outcomes if o.seq != 4)
    assert not any(holds_email(memory, i) for i in (1, 2, 3, 5, 6))
    # Customer 4 is left out of every later write (its customer row is masked last).
    assert email(4) in {r["email"] for r in memory.rows("shop:customers")}
    assert 1 < calls(memory, "mask")["shop:addresses"] <= 2 * 3 + 1  # bisected, not 1 by 1


def test_a_retryable_failure_raises_and_a_rerun_finishes_the_chunk() -> None:
    platform, memory = setup()
    plan = erasure_plan(platform)
    memory.fail_next(ConnectorFailure("shop:customers: database unreachable"), "mask")
    with pytest.raises(ConnectorFailure):
        run_chunk(platform, plan, subjects(1, 2))
    again = run_chunk(platform, plan, subjects(1, 2))
    assert all(o.ok for o in again)
    assert not any(holds_email(memory, i) for i in (1, 2))


def test_a_collection_that_cannot_be_read_fails_the_subjects_that_needed_it() -> None:
    platform, memory = setup()
    memory.fail_next(ConnectorFailure("table gone", retryable=False), "retrieve_pages")
    chunk = [*subjects(1, 2), BulkSubject(3, {"phone": "+449"})]  # no email: needs nothing
    outcomes = run_chunk(platform, erasure_plan(platform), chunk)
    first = memory.calls[0][1]
    assert [o.problem for o in outcomes[:2]] == [f"{first}: table gone"] * 2
    assert outcomes[2].ok
    assert outcomes[2].rows_found == 0
    assert not calls(memory, "mask")  # a request's workflow stops at its first failure too


def test_an_access_chunk_hands_out_each_subjects_rows() -> None:
    platform, memory = setup()
    plan = plan_request(platform.datamap, DEFAULT_ACCESS, ("email",))
    rows = read_chunk(platform, plan, subjects(2, 3))
    assert not rows.problems
    assert {r["order_id"] for r in rows[1]["shop:order_items"]} == {20, 21}
    assert [r["email"] for r in rows[2]["shop:customers"]] == [email(3)]
    outcomes = run_chunk(platform, plan, subjects(2, 3))
    assert by_address(outcomes[1], "rows_found")["shop:login_events"] == 3
    assert all(o.ok and o.rows_written == 0 for o in outcomes)
    assert not calls(memory, "mask")


def test_systems_that_answer_for_themselves_are_named_not_called() -> None:
    platform, memory = setup(asked=frozenset({"shop"}))
    outcomes = run_chunk(platform, erasure_plan(platform), subjects(1))
    assert outcomes[0].problem == "system shop must be asked per request"
    assert outcomes[0].collections == []
    assert memory.calls == []


def test_rectification_and_repeated_lines_are_refused() -> None:
    platform, _ = setup()
    rectify = plan_request(platform.datamap, DEFAULT_RECTIFICATION, ("email",))
    with pytest.raises(Conflict):
        run_chunk(platform, rectify, subjects(1))
    with pytest.raises(InvalidInput):
        run_chunk(platform, erasure_plan(platform), [*subjects(1), *subjects(2)])
