"""docs/authorization.md is the authorization matrix, and this test holds the app to it.

Every route of the real app (real SQLite, real access tokens) is called by every caller of the
matrix: no credentials, an expired token, owner, privacy operator, reviewer, viewer (a client
granted exactly ROLE_SCOPES[role], which a person with that role is equivalent to), and a
client holding only the route's scope. Path parameters are random UUIDs, the body is `{}`. Each
answer's class (401, 403, or ok: anything else) must be the one the file states. A route the
file lacks fails the test with its rows ready to paste; a row the app lacks fails it too.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from fastapi.routing import APIRoute, iter_route_contexts

from rightsflow.api.auth import AuthenticatedRoute
from rightsflow.cli.clients_cmd import CLI_OWNER
from rightsflow.domain.access import ROLE_SCOPES, Role, Scope
from rightsflow.storage.access_tokens import JwtAccessTokens
from tests.support.access_stack import AccessStack, access_stack
from tests.support.drp_agent import DrpAgent, write_directory
from tests.support.drp_stack import BUSINESS_ID

MATRIX = Path(__file__).resolve().parents[2] / "docs" / "authorization.md"
ROLES = (Role.OWNER, Role.PRIVACY_OPERATOR, Role.REVIEWER, Role.VIEWER)
CALLERS = ("none", "expired-token", *(r.value for r in ROLES), "client")
CLASSES = frozenset({"401", "403", "ok"})
# For a route without a scope, the "client" column is a client holding this scope alone.
ANY_CLIENT_SCOPE = Scope.REQUESTS_READ
# Route classes whose callers prove something other than a scope (a hint for new rows).
KIND_HINTS = {
    "SubjectTokenRoute": "subject-token",
    "TaskTokenRoute": "task-token",
    "DrpRoute": "drp-agent",
    "PersonRoute": "person-session",
}
_ROW = re.compile(r"^\|\s*(GET|POST|PUT|PATCH|DELETE|OPTIONS|HEAD) (\S+)\s*\|")
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    scope: Scope | None
    kind_hint: str

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"


@dataclass(frozen=True)
class Row:
    key: str
    auth: str
    cells: dict[str, str]


def app_routes(stack: AccessStack) -> list[Route]:
    routes = []
    for context in iter_route_contexts(stack.app.routes):
        route = context.original_route
        if not isinstance(route, APIRoute):
            continue  # /openapi.json and /docs: FastAPI's own pages
        scope = route.scope if isinstance(route, AuthenticatedRoute) else None
        for method in sorted(context.methods or ()):
            hint = KIND_HINTS.get(type(route).__name__, "public")
            routes.append(Route(method, str(context.path), scope, hint))
    return routes


def read_matrix(text: str) -> dict[str, Row]:
    rows: dict[str, Row] = {}
    for line in text.splitlines():
        if not _ROW.match(line):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        assert len(cells) == 2 + len(CALLERS), f"a row needs {2 + len(CALLERS)} cells: {line}"
        assert cells[0] not in rows, f"row listed twice: {cells[0]}"
        values = dict(zip(CALLERS, cells[2:], strict=True))
        assert set(values.values()) <= CLASSES, f"cells are 401, 403 or ok: {line}"
        rows[cells[0]] = Row(cells[0], cells[1], values)
    return rows


def format_row(route: Route, cells: dict[str, str]) -> str:
    auth = f"scope:{route.scope.value}" if route.scope else route.kind_hint
    return "| " + " | ".join([route.key, auth, *(cells[c] for c in CALLERS)]) + " |"


class Callers:
    """A bearer token per caller; a client per scope, made on first use."""

    def __init__(self, stack: AccessStack) -> None:
        self.stack = stack
        self.tokens: dict[str, str] = {role.value: self._token(ROLE_SCOPES[role]) for role in ROLES}
        codec = stack.clients.tokens
        assert isinstance(codec, JwtAccessTokens)
        expired_at = datetime.now(UTC) - timedelta(hours=1)
        client = stack.clients.create("expired", [s.value for s in Scope], CLI_OWNER).client
        self.tokens["expired-token"] = codec.issue(client.id, client.scopes, expired_at, 600)
        self._per_scope: dict[Scope, str] = {}

    def _token(self, scopes: frozenset[Scope]) -> str:
        made = self.stack.clients.create("matrix", [s.value for s in scopes], CLI_OWNER)
        return self.stack.clients.issue_token(made.client).access_token

    def headers(self, caller: str, route: Route) -> dict[str, str]:
        if caller == "none":
            return {}
        if caller == "client":
            scope = route.scope or ANY_CLIENT_SCOPE
            if scope not in self._per_scope:
                self._per_scope[scope] = self._token(frozenset({scope}))
            return self.stack.bearer(self._per_scope[scope])
        return self.stack.bearer(self.tokens[caller])


def observe(stack: AccessStack, callers: Callers, route: Route) -> dict[str, str]:
    path = re.sub(r"\{[^}]+\}", lambda _: str(uuid.uuid4()), route.path)
    seen = {}
    for caller in CALLERS:
        body = None if route.method in _BODYLESS else {}
        response = stack.http.request(
            route.method, path, json=body, headers=callers.headers(caller, route)
        )
        status = response.status_code
        seen[caller] = str(status) if status in (401, 403) else "ok"
    return seen


def expected_for_scope(scope: Scope) -> dict[str, str]:
    cells = {"none": "401", "expired-token": "401", "client": "ok"}
    for role in ROLES:
        cells[role.value] = "ok" if scope in ROLE_SCOPES[role] else "403"
    return cells


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AccessStack]:
    root = tmp_path_factory.mktemp("matrix")
    agents = root / "agents.json"  # DRP on, with one authorized agent in the directory
    with httpx.Client() as unused:
        write_directory(agents, [DrpAgent("MATRIX_AGENT", BUSINESS_ID, unused).directory_entry()])
    with access_stack(root, drp_business_id=BUSINESS_ID, drp_agents_file=agents) as built:
        yield built


def test_every_route_is_in_the_matrix_and_every_row_is_a_route(stack: AccessStack) -> None:
    rows = read_matrix(MATRIX.read_text())
    routes = {r.key: r for r in app_routes(stack)}
    missing = [routes[key] for key in routes if key not in rows]
    extra = sorted(key for key in rows if key not in routes)
    message = []
    if missing:
        callers = Callers(stack)
        message.append(f"{MATRIX.name} lacks these routes; check each cell, then paste:")
        message += [format_row(r, observe(stack, callers, r)) for r in missing]
    if extra:
        message.append(f"{MATRIX.name} lists routes the app does not have: {extra}")
    assert not message, "\n".join(message)


def test_scoped_rows_name_the_routes_scope_and_its_roles(stack: AccessStack) -> None:
    rows = read_matrix(MATRIX.read_text())
    wrong = []
    for route in app_routes(stack):
        row = rows.get(route.key)
        if row is None or route.scope is None:
            continue
        if row.auth != f"scope:{route.scope.value}" or row.cells != expected_for_scope(route.scope):
            wrong.append(format_row(route, expected_for_scope(route.scope)))
    assert not wrong, "rows that disagree with the route's scope; the code says:\n" + "\n".join(
        wrong
    )


def test_every_caller_gets_the_answer_the_matrix_states(stack: AccessStack) -> None:
    rows = read_matrix(MATRIX.read_text())
    callers = Callers(stack)
    wrong = []
    for route in app_routes(stack):
        row = rows.get(route.key)
        if row is None:
            continue  # the first test names it
        seen = observe(stack, callers, route)
        if seen != row.cells:
            diff = {c: f"{row.cells[c]}->{seen[c]}" for c in CALLERS if seen[c] != row.cells[c]}
            wrong.append(f"{route.key}: {diff}")
    assert not wrong, "answers that differ from the matrix (stated->got):\n" + "\n".join(wrong)
