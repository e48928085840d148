"""/graphql over the real app (SQLite, the shop data map, real access tokens): queries with a
request's plan, results and audit trail, the mutations changing state (and audited as REST
does), and the same credentials and scopes as REST."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rightsflow.cli.clients_cmd import CLI_OWNER
from rightsflow.domain.access import ROLE_SCOPES, Role, Scope
from rightsflow.domain.records import NodeResult
from rightsflow.services import execution, requests
from tests.support.access_stack import AccessStack, access_stack
from tests.support.web_stack import web_stack

EMAIL = "customer0000001@shop.example"
SUBMIT = """mutation Submit($input: SubmitRequestInput!) {
  submitRequest(input: $input) { created subjectToken request { id status type regime } }
}"""


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccessStack]:
    with access_stack(tmp_path_factory.mktemp("graphql")) as built:
        yield built


def token(stack: AccessStack, scopes: frozenset[Scope]) -> dict[str, str]:
    made = stack.clients.create("graphql-test", [s.value for s in scopes], CLI_OWNER)
    return stack.bearer(stack.clients.issue_token(made.client).access_token)


def gql(
    stack: AccessStack,
    query: str,
    headers: dict[str, str] | None = None,
    status: int = 200,
    **variables: Any,
) -> dict[str, Any]:
    answer = stack.http.post(
        "/graphql", json={"query": query, "variables": variables}, headers=headers or stack.owner
    )
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    return body


def submit(stack: AccessStack, type_: str = "access", verified: bool = True) -> str:
    given = {
        "type": type_,
        "regime": "gdpr",
        "identityVerified": verified,
        "identities": [{"type": "email", "value": EMAIL}],
    }
    body = gql(stack, SUBMIT, input=given)
    assert "errors" not in body, body
    request_id: str = body["data"]["submitRequest"]["request"]["id"]
    return request_id


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


def test_a_request_with_its_plan_results_and_audit(stack: AccessStack) -> None:
    request_id = submit(stack)
    platform = stack.runtime.platform
    execution.begin(platform, request_id)  # what the workflow does first: plan it
    with platform.uow() as uow:
        uow.results.put(NodeResult(request_id, "shop:customers", "retrieve", "done", rows_found=1))
        uow.commit()
    query = """query One($id: ID!) { request(id: $id) {
        id status type
        plan { nodes { address system action wave } edges { sourceCollection targetCollection } }
        results { system collections { collection action retrieve { status rowsFound } } }
        audit { action actor toStatus detail }
    } }"""
    found = gql(stack, query, id=request_id)["data"]["request"]
    assert (found["id"], found["status"], found["type"]) == (request_id, "executing", "access")
    nodes = {n["address"]: n for n in found["plan"]["nodes"]}
    assert nodes["shop:customers"] == {
        "address": "shop:customers",
        "system": "shop",
        "action": "return",
        "wave": 0,
    }
    assert {"sourceCollection": "shop:orders", "targetCollection": "shop:order_items"} in found[
        "plan"
    ]["edges"]
    [shop] = found["results"]
    collections = {c["collection"]: c for c in shop["collections"]}
    assert collections["shop:customers"]["retrieve"] == {"status": "done", "rowsFound": 1}
    assert collections["shop:orders"]["retrieve"] == {"status": "pending", "rowsFound": 0}
    actions = [e["action"] for e in found["audit"]]
    assert actions == [e.action for e in requests.audit_trail(platform, request_id)]
    assert actions[0] == "request.received"
    assert "request.planned" in actions
    assert EMAIL not in str(found)  # identities go in, never out


def test_requests_page_filters_and_follows_the_cursor(stack: AccessStack) -> None:
    ids = {submit(stack, "erasure") for _ in range(3)}
    query = """query Page($after: String) {
      requests(type: "erasure", status: "awaiting_approval", first: 2, after: $after) {
        nodes { id type status } edges { cursor node { id } }
        pageInfo { hasNextPage endCursor }
    } }"""
    seen: list[str] = []
    after = None
    while True:
        page = gql(stack, query, after=after)["data"]["requests"]
        assert [e["node"]["id"] for e in page["edges"]] == [n["id"] for n in page["nodes"]]
        assert {(n["type"], n["status"]) for n in page["nodes"]} <= {
            ("erasure", "awaiting_approval")
        }
        seen += [n["id"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert ids <= set(seen)
    assert len(seen) == len(set(seen))
    bad = gql(stack, '{ requests(status: "lost") { nodes { id } } }')
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert bad["errors"][0]["extensions"]["field"] == "status"


def test_decisions_change_the_state_and_are_audited_with_the_caller(stack: AccessStack) -> None:
    approver = token(stack, ROLE_SCOPES[Role.REVIEWER])
    first, second, third = (submit(stack, "erasure") for _ in range(3))
    approve = "mutation($id: ID!) { approveRequest(id: $id) { id status decidedBy } }"
    done = gql(stack, approve, approver, id=first)["data"]["approveRequest"]
    assert done["status"] == "executing"
    assert done["decidedBy"].startswith("client:")
    deny = """mutation($id: ID!, $r: String!) {
      denyRequest(id: $id, reason: $r) { status denialReason } }"""
    denied = gql(stack, deny, approver, id=second, r="manifestly_unfounded_or_excessive")
    assert denied["data"]["denyRequest"] == {
        "status": "denied",
        "denialReason": "manifestly_unfounded_or_excessive",
    }
    extend = """mutation($id: ID!) { extendRequest(id: $id, reason: "Many systems to search.") {
        extensionReason } }"""
    extended = gql(stack, extend, approver, id=third)["data"]["extendRequest"]
    assert extended == {"extensionReason": "Many systems to search."}
    trail = requests.audit_trail(stack.runtime.platform, first)
    assert trail[-1].to_status == "executing"
    assert trail[-1].actor == done["decidedBy"]
    again = gql(stack, approve, approver, id=first)  # no longer awaiting approval
    assert codes(again) == ["CONFLICT"]
    assert again["errors"][0]["extensions"]["current"] == "executing"
    assert again["data"] == {"approveRequest": None}
    missing = gql(stack, approve, approver, id="not-a-uuid")
    assert codes(missing) == ["NOT_FOUND"]


def test_verify_by_hand_moves_an_unverified_request_on(stack: AccessStack) -> None:
    request_id = submit(stack, "erasure", verified=False)
    verify = "mutation($id: ID!) { verifyRequest(id: $id) { status verifiedAt } }"
    verified = gql(stack, verify, id=request_id)["data"]["verifyRequest"]
    assert verified["status"] == "awaiting_approval"
    assert verified["verifiedAt"] is not None


def test_consent_recorded_and_read_back_with_the_catalogue(stack: AccessStack) -> None:
    purposes = gql(stack, "{ purposes { key gpc essential } }")["data"]["purposes"]
    keys = [p["key"] for p in purposes]
    assert keys, "the standard purposes are in the catalogue"
    choose = """mutation($s: String!, $p: String!) {
      recordConsent(subject: $s, input: {choices: [{purpose: $p, granted: false}]}) {
        id entries { purpose granted effective } withdrawn } }"""
    recorded = gql(stack, choose, s="user_id:gql-1", p=keys[0])["data"]["recordConsent"]
    assert recorded["entries"] == [{"purpose": keys[0], "granted": False, "effective": False}]
    state = gql(
        stack,
        '{ consent(subject: "user_id:gql-1") { regime purposes { purpose granted default } } }',
    )
    mine = {p["purpose"]: p for p in state["data"]["consent"]["purposes"]}
    assert mine[keys[0]] == {"purpose": keys[0], "granted": False, "default": False}
    bad = gql(stack, choose, s="user_id:gql-1", p="no_such_purpose")
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert "gql-1" not in str(bad)


def test_systems_show_kind_capabilities_and_collections_never_config(stack: AccessStack) -> None:
    query = "{ systems { key kind capabilities datasets { key collections { address } } } }"
    [shop] = gql(stack, query)["data"]["systems"]
    assert (shop["key"], shop["kind"]) == ("shop", "sql")
    assert shop["capabilities"] == ["delete", "mask", "retrieve"]
    addresses = {c["address"] for d in shop["datasets"] for c in d["collections"]}
    assert {"shop:customers", "shop:orders"} <= addresses
    assert "config" not in str(gql(stack, '{ __type(name: "System") { fields { name } } }'))


def test_no_or_bad_credentials_are_refused_before_anything_is_read(stack: AccessStack) -> None:
    for headers in ({}, stack.bearer("not-a-token")):
        answer = stack.http.post(
            "/graphql", json={"query": "{ __schema { types { name } } }"}, headers=headers
        )
        assert answer.status_code == 401
        assert [e["extensions"]["code"] for e in answer.json()["errors"]] == ["UNAUTHENTICATED"]
        assert "types" not in answer.text


@pytest.mark.parametrize(
    ("query", "scope"),
    [
        ("{ requests { nodes { id } } }", Scope.REQUESTS_READ),
        ("{ systems { key } }", Scope.DATAMAP_READ),
        ('{ consent(subject: "user_id:1") { regime } }', Scope.CONSENT_READ),
        ("{ purposes { key } }", Scope.CONSENT_READ),
        ('mutation { approveRequest(id: "x") { id } }', Scope.REQUESTS_APPROVE),
        ('mutation { denyRequest(id: "x", reason: "other") { id } }', Scope.REQUESTS_APPROVE),
        ('mutation { verifyRequest(id: "x") { id } }', Scope.REQUESTS_APPROVE),
        ('mutation { extendRequest(id: "x", reason: "r") { id } }', Scope.REQUESTS_APPROVE),
        (
            'mutation { submitRequest(input: {type: "access", regime: "gdpr", identities: []}) '
            "{ created } }",
            Scope.REQUESTS_WRITE,
        ),
        (
            'mutation { recordConsent(subject: "user_id:1", input: {choices: []}) { id } }',
            Scope.CONSENT_WRITE,
        ),
    ],
)
def test_each_field_needs_the_scope_of_its_rest_route(
    stack: AccessStack, query: str, scope: Scope
) -> None:
    others = frozenset(Scope) - {scope}
    refused = gql(stack, query, token(stack, others))
    [error] = refused["errors"]
    assert error["extensions"] == {"code": "FORBIDDEN", "required_scope": scope.value}
    assert scope.value in error["message"]
    allowed = gql(stack, query, token(stack, frozenset({scope})))
    assert "FORBIDDEN" not in codes(allowed)


def test_a_viewer_reads_requests_but_not_their_consent_nor_decides(stack: AccessStack) -> None:
    viewer = token(stack, ROLE_SCOPES[Role.VIEWER])
    request_id = submit(stack, "erasure")
    query = """query($id: ID!) { request(id: $id) { status } purposes { key } }"""
    body = gql(stack, query, viewer, id=request_id)
    assert body["data"] == {"request": {"status": "awaiting_approval"}, "purposes": None}
    assert codes(body) == ["FORBIDDEN"]
    approve = "mutation($id: ID!) { approveRequest(id: $id) { status } }"
    assert codes(gql(stack, approve, viewer, id=request_id)) == ["FORBIDDEN"]
    assert requests.get(stack.runtime.platform, request_id).status.value == "awaiting_approval"


def test_get_answers_queries_only_and_serves_no_ide(stack: AccessStack) -> None:
    read = stack.http.get("/graphql", params={"query": "{ systems { key } }"}, headers=stack.owner)
    assert read.status_code == 200
    assert read.json()["data"] == {"systems": [{"key": "shop"}]}
    write = stack.http.get(
        "/graphql",
        params={"query": 'mutation { verifyRequest(id: "x") { id } }'},
        headers=stack.owner,
    )
    assert write.status_code in (400, 405)
    assert "verifyRequest" not in write.text
    page = stack.http.get("/graphql", headers={**stack.owner, "Accept": "text/html"})
    assert "graphiql" not in page.text.lower()
    assert not [p for p in stack.app.openapi()["paths"] if p.startswith("/graphql")]


def test_a_console_session_needs_its_csrf_token_to_post(tmp_path: Path) -> None:
    with web_stack(tmp_path) as web:
        browser = web.client()
        signed = browser.post(
            "/api/v1/session",
            json={"login": "reviewer@ops.example", "password": "correct horse battery staple 42"},
        )
        assert signed.status_code == 200, signed.text
        csrf = signed.json()["csrf_token"]
        query = {"query": "{ requests { nodes { id } } }"}
        refused = browser.post("/graphql", json=query, headers={"Origin": "http://testserver"})
        assert refused.status_code == 403
        headers = {"X-CSRF-Token": csrf, "Origin": "http://testserver"}
        answered = browser.post("/graphql", json=query, headers=headers)
        assert answered.status_code == 200
        assert answered.json()["data"]["requests"]["nodes"] == []
        read = browser.get("/graphql", params=query)  # GET reads need no CSRF token
        assert read.status_code == 200, read.text
