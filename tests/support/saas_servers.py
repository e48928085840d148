"""Real HTTP servers for the `saas` connector's tests: FastAPI apps served by uvicorn in a thread
on a free port of 127.0.0.1, shaped like two public APIs.

- `stripe_app`: Stripe's customers and charges: a bearer secret key, cursor pages
  (`starting_after`, `has_more`, at most 100 a page), form-encoded updates ("" unsets),
  `resource_missing` 404s, a deleted customer read back as `{"deleted": true}`.
- `okta_app`: Okta's users and grants: OAuth2 client credentials (HTTP basic client auth),
  tokens that expire, Link-header pages (`after` cursor), `E0000007` 404s, deactivate before
  delete.
- `sendgrid_app`: SendGrid's suppression lists (bounces by email) and the global unsubscribe
  list an opt-out adds to (201 with the addresses; adding one twice keeps it once).

Both take faults from `Faults`: the next responses as given statuses (429 carries Retry-After),
before auth; and every request is recorded (method and path, never query strings or bodies).
"""

from __future__ import annotations

import base64
import itertools
import re
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

STRIPE_KEY = "sk_test_4eC39HqLyjWDarjtT1zdp7dc"
SENDGRID_KEY = "SG.test-key.0123456789abcdef"
OKTA_CLIENT = ("0oa1client", "okta-client-secret-xyz")


@dataclass
class Faults:
    """Statuses to answer the next requests with (after auth), and what was asked."""

    queue: list[tuple[int, str | None]] = field(default_factory=list)  # (status, Retry-After)
    requests: list[tuple[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail_next(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        with self.lock:
            self.queue.extend([(status, retry_after)] * times)

    def count(self, method: str, prefix: str = "") -> int:
        with self.lock:
            return sum(1 for m, p in self.requests if m == method and p.startswith(prefix))

    def install(self, app: FastAPI, error: Callable[[int], dict[str, Any]]) -> None:
        @app.middleware("http")
        async def inject(request: Request, call_next: Callable[..., Awaitable[Response]]) -> Any:
            with self.lock:
                self.requests.append((request.method, request.url.path))
                due = self.queue.pop(0) if self.queue else None
            if due is None:
                return await call_next(request)
            status, retry_after = due
            headers = {"Retry-After": retry_after} if retry_after is not None else {}
            return JSONResponse(error(status), status_code=status, headers=headers)


def _page(items: list[dict[str, Any]], after: str | None, limit: int) -> tuple[list[Any], bool]:
    """Items after the one with id `after`, at most `limit`, and whether more follow."""
    start = 0
    if after:
        ids = [item["id"] for item in items]
        start = ids.index(after) + 1 if after in ids else len(items)
    chunk = items[start : start + limit]
    return chunk, start + limit < len(items)


# -- Stripe ---------------------------------------------------------------------------------


@dataclass
class StripeState:
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)
    faults: Faults = field(default_factory=Faults)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_customer(self, email: str, **values: Any) -> str:
        cid = f"cus_{next(self._ids):08d}"
        self.customers[cid] = {"id": cid, "object": "customer", "email": email, "name": None,
                               "phone": None, "metadata": {}, **values}  # fmt: skip
        return cid

    def add_charge(self, customer: str, amount: int, description: str | None = None) -> str:
        cid = f"ch_{next(self._ids):08d}"
        self.charges[cid] = {
            "id": cid,
            "object": "charge",
            "customer": customer,
            "amount": amount,
            "description": description,
            "metadata": {},
        }
        return cid


def _stripe_error(status: int, message: str = "error", code: str | None = None) -> dict[str, Any]:
    kind = "api_error" if status >= 500 else "invalid_request_error"
    return {"error": {"type": kind, "code": code, "message": message}}


def _stripe_form(text: str) -> dict[str, Any]:
    """Stripe's form encoding: `metadata[k]=v` nests; an empty value unsets the field."""
    out: dict[str, Any] = {}
    for name, value in parse_qsl(text, keep_blank_values=True):
        match = re.fullmatch(r"(\w+)\[(\w+)\]", name)
        if match:
            out.setdefault(match.group(1), {})[match.group(2)] = value or None
        else:
            out[name] = value or None
    return out


def stripe_app(state: StripeState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def auth(request: Request, call_next: Callable[..., Awaitable[Response]]) -> Any:
        if request.headers.get("authorization") != f"Bearer {STRIPE_KEY}":
            body = _stripe_error(401, "Invalid API Key provided: sk_test_****")
            return JSONResponse(body, status_code=401)
        return await call_next(request)

    state.faults.install(app, _stripe_error)  # outermost: records every request

    def listing(items: list[dict[str, Any]], request: Request, url: str) -> Any:
        limit = int(request.query_params.get("limit", "10"))
        if not 1 <= limit <= 100:
            return JSONResponse(_stripe_error(400, "limit must be 1..100"), status_code=400)
        data, more = _page(items, request.query_params.get("starting_after"), limit)
        return {"object": "list", "url": url, "has_more": more, "data": data}

    def missing(kind: str) -> JSONResponse:
        body = _stripe_error(404, f"No such {kind}", code="resource_missing")
        return JSONResponse(body, status_code=404)

    @app.get("/v1/balance")
    def balance() -> Any:
        return {"object": "balance", "available": [{"amount": 0, "currency": "usd"}]}

    @app.get("/v1/customers")
    def customers(request: Request) -> Any:
        email = request.query_params.get("email")
        rows = [c for c in state.customers.values() if email is None or c["email"] == email]
        return listing(rows, request, "/v1/customers")

    @app.get("/v1/customers/{cid}")
    def customer(cid: str) -> Any:
        if cid in state.deleted:
            return {"id": cid, "object": "customer", "deleted": True}
        return state.customers.get(cid) or missing("customer")

    @app.post("/v1/customers/{cid}")
    async def update_customer(cid: str, request: Request) -> Any:
        row = state.customers.get(cid)
        if row is None:
            return missing("customer")
        values = _stripe_form((await request.body()).decode())
        metadata = values.pop("metadata", None)
        row.update(values)
        if metadata:
            row["metadata"] = {k: v for k, v in {**row["metadata"], **metadata}.items() if v}
        return row

    @app.delete("/v1/customers/{cid}")
    def delete_customer(cid: str) -> Any:
        if state.customers.pop(cid, None) is None:
            return missing("customer")
        state.deleted.add(cid)
        return {"id": cid, "object": "customer", "deleted": True}

    @app.get("/v1/charges")
    def charges(request: Request) -> Any:
        customer = request.query_params.get("customer")
        rows = [c for c in state.charges.values() if customer in (None, c["customer"])]
        return listing(rows, request, "/v1/charges")

    @app.get("/v1/charges/{cid}")
    def charge(cid: str) -> Any:
        return state.charges.get(cid) or missing("charge")

    return app


# -- Okta -----------------------------------------------------------------------------------


@dataclass
class OktaState:
    users: dict[str, dict[str, Any]] = field(default_factory=dict)
    grants: dict[str, dict[str, Any]] = field(default_factory=dict)
    token_ttl: int = 3600
    link_origin: str | None = None  # next links on this origin instead of the server's
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    faults: Faults = field(default_factory=Faults)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    def add_user(self, email: str, first: str = "Ada", last: str = "Lovelace") -> str:
        uid = f"00u{next(self._ids):06d}"
        profile = {"email": email, "login": email, "firstName": first, "lastName": last}
        self.users[uid] = {"id": uid, "status": "ACTIVE", "profile": profile}
        return uid

    def add_grant(self, user: str, client: str) -> str:
        gid = f"oag{next(self._ids):06d}"
        self.grants[gid] = {"id": gid, "userId": user, "clientId": client, "status": "ACTIVE"}
        return gid

    def revoke_tokens(self) -> None:
        self.tokens.clear()


def _okta_error(status: int, summary: str = "error", code: str = "E0000009") -> dict[str, Any]:
    codes = {401: "E0000011", 404: "E0000007", 429: "E0000047"}
    return {"errorCode": codes.get(status, code), "errorSummary": summary, "errorCauses": []}


def okta_app(state: OktaState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def auth(request: Request, call_next: Callable[..., Awaitable[Response]]) -> Any:
        if request.url.path.startswith("/api/"):
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            if state.tokens.get(token, 0) < time.monotonic():
                body = _okta_error(401, "Invalid token provided")
                headers = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
                return JSONResponse(body, status_code=401, headers=headers)
        return await call_next(request)

    state.faults.install(app, _okta_error)  # outermost: records every request

    @app.post("/oauth2/v1/token")
    async def token(request: Request) -> Any:
        basic = request.headers.get("authorization", "").removeprefix("Basic ")
        form = dict(parse_qsl((await request.body()).decode()))
        pair = ":".join(OKTA_CLIENT).encode()
        if basic != base64.b64encode(pair).decode() or form.get("grant_type") != (
            "client_credentials"
        ):
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        value = f"tok-{next(state._ids)}"
        state.tokens[value] = time.monotonic() + state.token_ttl
        return {"token_type": "Bearer", "expires_in": state.token_ttl,
                "access_token": value, "scope": form.get("scope", "")}  # fmt: skip

    def linked(request: Request, items: list[dict[str, Any]]) -> Response:
        limit = int(request.query_params.get("limit", "20"))
        chunk, more = _page(items, request.query_params.get("after"), limit)
        base = str(request.url.remove_query_params("after"))
        if state.link_origin:
            base = base.replace(str(request.base_url).rstrip("/"), state.link_origin)
        links = [f'<{request.url}>; rel="self"']
        if more:
            links.append(f'<{base}&after={chunk[-1]["id"]}>; rel="next"')
        return JSONResponse(chunk, headers={"Link": ", ".join(links)})

    def missing() -> JSONResponse:
        return JSONResponse(_okta_error(404, "Not found: Resource not found"), status_code=404)

    @app.get("/api/v1/users")
    def users(request: Request) -> Response:
        search = request.query_params.get("search", "")
        match = re.fullmatch(r'profile\.email eq "([^"]*)"', search)
        if search and not match:
            return JSONResponse(_okta_error(400, "Invalid search"), status_code=400)
        rows = [u for u in state.users.values() if not match
                or u["profile"]["email"] == match.group(1)]  # fmt: skip
        return linked(request, rows)

    @app.get("/api/v1/users/{uid}")
    def user(uid: str) -> Any:
        return state.users.get(uid) or missing()

    @app.post("/api/v1/users/{uid}")
    async def update(uid: str, request: Request) -> Any:
        row = state.users.get(uid)
        if row is None:
            return missing()
        row["profile"].update((await request.json()).get("profile", {}))
        return row

    @app.post("/api/v1/users/{uid}/lifecycle/deactivate")
    def deactivate(uid: str) -> Any:
        row = state.users.get(uid)
        if row is None:
            return missing()
        row["status"] = "DEPROVISIONED"
        return {}

    @app.delete("/api/v1/users/{uid}")
    def delete(uid: str) -> Response:
        row = state.users.get(uid)
        if row is None:
            return missing()
        if row["status"] != "DEPROVISIONED":
            row["status"] = "DEPROVISIONED"  # Okta: the first delete only deactivates
        else:
            del state.users[uid]
        return Response(status_code=204)

    @app.get("/api/v1/users/{uid}/grants")
    def grants(uid: str, request: Request) -> Response:
        return linked(request, [g for g in state.grants.values() if g["userId"] == uid])

    @app.delete("/api/v1/users/{uid}/grants/{gid}")
    def revoke(uid: str, gid: str) -> Response:
        grant = state.grants.get(gid)
        if grant is None or grant["userId"] != uid:
            return missing()
        del state.grants[gid]
        return Response(status_code=204)

    return app


# -- SendGrid -------------------------------------------------------------------------------


@dataclass
class SendgridState:
    bounces: dict[str, dict[str, Any]] = field(default_factory=dict)
    unsubscribed: list[str] = field(default_factory=list)  # the global list, in order added
    posts: int = 0  # global unsubscribe calls that reached the handler (faults excluded)
    faults: Faults = field(default_factory=Faults)


def _sendgrid_error(status: int, message: str = "error") -> dict[str, Any]:
    return {"errors": [{"field": None, "message": message}]}


def sendgrid_app(state: SendgridState) -> FastAPI:
    app = FastAPI()

    @app.middleware("http")
    async def auth(request: Request, call_next: Callable[..., Awaitable[Response]]) -> Any:
        if request.headers.get("authorization") != f"Bearer {SENDGRID_KEY}":
            return JSONResponse(_sendgrid_error(401, "authorization required"), status_code=401)
        return await call_next(request)

    state.faults.install(app, _sendgrid_error)

    @app.get("/v3/scopes")
    def scopes() -> Any:
        return {"scopes": ["asm.suppressions.global.create", "suppression.bounces.read"]}

    @app.get("/v3/suppression/bounces/{email}")
    def bounce(email: str) -> Any:
        found = state.bounces.get(email)
        return [found] if found else []

    @app.delete("/v3/suppression/bounces/{email}")
    def forget_bounce(email: str) -> Response:
        state.bounces.pop(email, None)
        return Response(status_code=204)

    @app.post("/v3/asm/suppressions/global")
    async def unsubscribe(request: Request) -> Any:
        emails = (await request.json()).get("recipient_emails")
        if not isinstance(emails, list) or not emails:
            return JSONResponse(_sendgrid_error(400, "recipient_emails"), status_code=400)
        state.posts += 1
        for email in emails:
            if email not in state.unsubscribed:
                state.unsubscribed.append(email)
        return JSONResponse({"recipient_emails": emails}, status_code=201)

    return app
