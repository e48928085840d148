"""/graphql's guards over the real app: unexpected errors masked (a real database failure),
depth and cost refused before anything runs, and the dataloaders' one query per kind (counted
on the engine: the count does not grow with the number of requests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from rightsflow.services import requests
from tests.support.access_stack import AccessStack, access_stack

EMAIL = "customer0000002@shop.example"
NESTED = """query Page($first: Int!) { requests(first: $first) { nodes {
    id status
    plan { nodes { address } }
    results { system collections { collection retrieve { status rowsFound } } }
    audit { action at actor }
} } }"""


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[AccessStack]:
    with access_stack(tmp_path, graphql_max_depth=5, graphql_max_cost=15000) as built:
        yield built


def post(stack: AccessStack, query: str, **variables: Any) -> dict[str, Any]:
    answer = stack.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=stack.owner
    )
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def submit_many(stack: AccessStack, count: int) -> list[str]:
    new = requests.NewRequest(type="erasure", identities={"email": EMAIL}, regime="gdpr")
    return [requests.submit(stack.runtime.platform, new)[0].id for _ in range(count)]


@contextmanager
def counted(stack: AccessStack) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    engine = stack.runtime.engine
    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)


def test_an_internal_error_is_masked_and_a_domain_error_is_not(stack: AccessStack) -> None:
    [request_id] = submit_many(stack, 1)
    with stack.runtime.engine.begin() as conn:  # a real failure: the table is gone
        conn.execute(sa.text("ALTER TABLE node_results RENAME TO node_results_away"))
    query = """query($id: ID!) { request(id: $id) { status results { system } } }"""
    body = post(stack, query, id=request_id)
    assert body["data"] == {"request": {"status": "awaiting_verification", "results": None}}
    [error] = body["errors"]
    assert error["message"] == "Unexpected error."
    assert error["extensions"] == {"code": "INTERNAL"}
    assert error["path"] == ["request", "results"]
    text = str(body).lower()
    for leak in ("node_results", "select", "sqlite", "traceback", "operationalerror", EMAIL):
        assert leak not in text
    missing = post(stack, '{ request(id: "00000000-0000-4000-8000-000000000000") { id } }')
    assert missing["errors"][0]["message"] == "privacy request not found"
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_too_deep_a_query_is_refused_before_it_runs(stack: AccessStack) -> None:
    deep = """{ requests { edges { node { results { collections { retrieve { status } } } } } } }"""
    with counted(stack) as statements:
        body = post(stack, deep)
    assert body["data"] is None
    assert "exceeds maximum operation depth of 5" in body["errors"][0]["message"]
    assert len(statements) == 1  # the owner token's check; nothing of the query ran


def test_too_costly_a_query_is_refused_naming_cost_and_limit(stack: AccessStack) -> None:
    with counted(stack) as statements:
        body = post(stack, NESTED, first=100)
    assert body["data"] is None
    [error] = body["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COSTLY"
    assert error["extensions"]["limit"] == 15000
    assert error["extensions"]["cost"] > 15000
    assert error["message"] == f"The query costs {error['extensions']['cost']}; the limit is 15000."
    assert len(statements) == 1
    cheap = post(stack, NESTED, first=2)  # the same query over a smaller page runs
    assert "errors" not in cheap, cheap


def test_aliases_beyond_the_limit_are_refused(stack: AccessStack) -> None:
    many = "{ " + " ".join(f"a{i}: systems {{ key }}" for i in range(20)) + " }"
    body = post(stack, many)
    assert body["data"] is None
    assert "aliases" in body["errors"][0]["message"].lower()


def test_nested_reads_take_one_query_per_kind_whatever_the_page_size(stack: AccessStack) -> None:
    submit_many(stack, 20)
    counts = {}
    for first in (5, 20):
        with counted(stack) as statements:
            body = post(stack, NESTED, first=first)
        assert "errors" not in body, body
        nodes = body["data"]["requests"]["nodes"]
        assert len(nodes) == first
        assert all(n["audit"] for n in nodes)
        counts[first] = len(statements)
    assert counts[5] == counts[20], counts
    # token check + the page + plans, results and audit events: one statement each
    assert counts[20] <= 6, counts
