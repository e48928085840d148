"""A small JSON API holding the connector contract's two collections in memory, and the vendor
file that describes it, so `run_contract` can run against the `saas` connector over real HTTP.

customers: cursor pages (`after`/`next_cursor`/`has_more`) when found by email, Link-header
pages when found by phone, one object (404 when unknown) by id. orders: offset pages by
customer, one object by the composite key. PATCH updates, DELETE removes (404 when gone).
The API key goes in a header.
"""

from __future__ import annotations

import threading
from typing import Any

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from rightsflow.connectors.testing import CHILD, PARENT
from rightsflow.domain.connector import Row

API_KEY = "contract-key-0123456789"

VENDOR = """\
name: contract
secrets: [key]
auth: {kind: api_key, in: header, name: X-Api-Key, value: "{key}"}
check: {path: /health}
retries: {attempts: 3, backoff: 0.01, max_backoff: 0.05}
collections:
  customers:
    primary_key: [id]
    read:
      - by: email
        path: /customers
        query: {email: "{email}"}
        rows_at: data
        pagination: {kind: cursor, param: after, next_from: next_cursor, has_more: has_more,
                     size_param: limit, size: 3}
      - by: phone
        path: /customers
        query: {phone: "{phone}"}
        rows_at: data
        pagination: {kind: link, size_param: limit, size: 2}
      - by: id
        path: /customers/{id}
    update: {method: PATCH, path: "/customers/{id}"}
    delete: {method: DELETE, path: "/customers/{id}"}
  orders:
    primary_key: [customer_id, line]
    read:
      - by: customer_id
        path: /customers/{customer_id}/orders
        rows_at: data
        pagination: {kind: offset, param: offset, size_param: limit, size: 1}
      - by: [customer_id, line]
        path: /orders/{customer_id}/{line}
    update: {method: PATCH, path: "/orders/{customer_id}/{line}"}
    delete: {method: DELETE, path: "/orders/{customer_id}/{line}"}
"""


class Store:
    """The rows, by contract address; `seed` and `read_all` are run_contract's hooks."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.rows: dict[str, list[Row]] = {PARENT: [], CHILD: []}

    def seed(self, address: str, rows: list[Row]) -> None:
        with self.lock:
            self.rows[address].extend(dict(row) for row in rows)

    def read_all(self, address: str) -> list[Row]:
        with self.lock:
            return [dict(row) for row in self.rows[address]]


def contract_app(store: Store) -> FastAPI:
    app = FastAPI()
    customers, orders = store.rows[PARENT], store.rows[CHILD]

    @app.middleware("http")
    async def auth(request: Request, call_next: Any) -> Any:
        if request.headers.get("x-api-key") != API_KEY:
            return JSONResponse({"message": "bad key"}, status_code=401)
        return await call_next(request)

    def find(rows: list[Row], **key: Any) -> Row | None:
        return next((r for r in rows if all(str(r[k]) == str(v) for k, v in key.items())), None)

    def missing() -> JSONResponse:
        return JSONResponse({"message": "not found"}, status_code=404)

    @app.get("/health")
    def health() -> Any:
        return {"ok": True}

    @app.get("/customers")
    def list_customers(request: Request) -> Any:
        query = request.query_params
        field = "email" if "email" in query else "phone"
        found = [r for r in customers if r[field] is not None and str(r[field]) == query[field]]
        limit = int(query["limit"])
        start = int(query.get("after", "0"))
        page = found[start : start + limit]
        more = start + limit < len(found)
        if field == "email":
            return {"data": page, "has_more": more, "next_cursor": str(start + limit)}
        link = f'<{request.url.include_query_params(after=start + limit)}>; rel="next"'
        return JSONResponse({"data": page}, headers={"Link": link} if more else {})

    @app.get("/customers/{cid}")
    def get_customer(cid: str) -> Any:
        return find(customers, id=cid) or missing()

    @app.get("/customers/{cid}/orders")
    def list_orders(cid: str, offset: int, limit: int) -> Any:
        found = [r for r in orders if str(r["customer_id"]) == cid]
        return {"data": found[offset : offset + limit]}

    @app.get("/orders/{cid}/{line}")
    def get_order(cid: str, line: str) -> Any:
        return find(orders, customer_id=cid, line=line) or missing()

    async def patch(row: Row | None, request: Request) -> Any:
        if row is None:
            return missing()
        row.update(await request.json())
        return row

    @app.patch("/customers/{cid}")
    async def patch_customer(cid: str, request: Request) -> Any:
        return await patch(find(customers, id=cid), request)

    @app.patch("/orders/{cid}/{line}")
    async def patch_order(cid: str, line: str, request: Request) -> Any:
        return await patch(find(orders, customer_id=cid, line=line), request)

    def remove(rows: list[Row], row: Row | None) -> Response:
        if row is None:
            return missing()
        rows.remove(row)
        return Response(status_code=204)

    @app.delete("/customers/{cid}")
    def delete_customer(cid: str) -> Response:
        return remove(customers, find(customers, id=cid))

    @app.delete("/orders/{cid}/{line}")
    def delete_order(cid: str, line: str) -> Response:
        return remove(orders, find(orders, customer_id=cid, line=line))

    return app
