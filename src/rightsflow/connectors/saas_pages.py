"""Requests of the `saas` connector filled from templates, and rows read page after page.

`read_rows` sends one read operation for one set of values and follows the vendor's
pagination lazily: the next page is requested only when the rows of this one are used up.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from rightsflow.connectors.saas_http import Call, SaasHttp
from rightsflow.connectors.saas_spec import (
    CursorPages,
    LinkPages,
    OffsetPages,
    ReadOp,
    WriteOp,
    placeholders,
)
from rightsflow.domain.connector import Row, Scalar
from rightsflow.domain.errors import ConnectorFailure

MAX_PAGES = 100_000  # a loop guard: an API repeating its cursor must not keep us forever


def text_of(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def fill(template: str, values: Mapping[str, Any], *, in_path: bool = False) -> str:
    """`template` with `{field}` replaced by its value. In a path a value is percent-encoded
    whole, so `../` or `/` inside an identity cannot change which resource is addressed."""
    for name in placeholders(template):
        text = text_of(values[name])
        template = template.replace("{" + name + "}", quote(text, safe="") if in_path else text)
    return template


def fill_body(body: Any, values: Mapping[str, Any]) -> Any:
    """A JSON body with its string leaves filled; a leaf that is one placeholder keeps the
    value's type (`{"id": "{id}"}` sends a number when the id is one)."""
    if isinstance(body, str):
        names = placeholders(body)
        if len(names) == 1 and body == "{" + names[0] + "}":
            return values[names[0]]
        return fill(body, values)
    if isinstance(body, Mapping):
        return {key: fill_body(item, values) for key, item in body.items()}
    if isinstance(body, list):
        return [fill_body(item, values) for item in body]
    return body


def at_path(document: Any, path: str) -> Any:
    """The value at a dotted path in a JSON document ("" is the document); None if absent."""
    current = document
    for part in path.split(".") if path else ():
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


def read_rows(
    http: SaasHttp, op: ReadOp, values: Mapping[str, Scalar], operation: str
) -> Iterator[Row]:
    """Every row `op` returns for `values`, across all its pages, fetched lazily."""
    call = _first_call(op, values, operation)
    for _ in range(MAX_PAGES):
        response = http.send(call)
        if response is None:
            return  # a no-data status: nothing for these values
        body = _json(response, operation)
        rows = _rows(body, op.rows_at, operation)
        yield from (row for row in rows if not _absent(op, row))
        following = _next_call(op, call, response, body, rows)
        if following is None:
            return
        call = following
    raise ConnectorFailure(f"{operation}: more than {MAX_PAGES} pages", retryable=False)


def write_call(
    op: WriteOp, key: Mapping[str, Scalar], values: Mapping[str, Any], name: str
) -> Call:
    """The request that sets `values` on the row with `key` (or deletes it: no values)."""
    body: Any = dict(values)
    if op.body_at:
        for part in reversed(op.body_at.split(".")):
            body = {part: body}
    return Call(
        operation=name,
        method=op.method,
        url=fill(op.path, key, in_path=True),
        params={k: fill(v, key) for k, v in op.query.items()},
        json=body if op.body == "json" and values else None,
        form=form_fields(body) if op.body == "form" and values else None,
        no_data=op.no_data_status,
    )


def form_fields(value: Any, prefix: str = "") -> dict[str, str]:
    """Form encoding with nested keys as `a[b]` (Stripe's convention); None sends "" (which
    such APIs read as "unset")."""
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for key, item in value.items():
            out.update(form_fields(item, f"{prefix}[{key}]" if prefix else str(key)))
        return out
    if isinstance(value, list):
        out = {}
        for index, item in enumerate(value):
            out.update(form_fields(item, f"{prefix}[{index}]"))
        return out
    return {prefix: "" if value is None else text_of(value)}


def _first_call(op: ReadOp, values: Mapping[str, Scalar], operation: str) -> Call:
    params = {name: fill(template, values) for name, template in op.query.items()}
    pages = op.pagination
    if isinstance(pages, OffsetPages):
        params[pages.param] = str(pages.start)
    if pages is not None and pages.size_param:
        params[pages.size_param] = str(pages.size)
    return Call(
        operation=operation,
        method=op.method,
        url=fill(op.path, values, in_path=True),
        params=params,
        json=fill_body(op.body, values) if op.body is not None else None,
        no_data=op.no_data_status,
    )


def _next_call(
    op: ReadOp, call: Call, response: httpx.Response, body: Any, rows: list[Row]
) -> Call | None:
    pages = op.pagination
    if pages is None or not rows:
        return None
    if isinstance(pages, LinkPages):
        link = response.links.get("next", {}).get("url")
        # The link carries every parameter; the first request's ones must not be added again.
        return (
            Call(call.operation, call.method, link, {}, call.json, None, call.no_data)
            if link
            else None
        )
    if isinstance(pages, OffsetPages):
        if len(rows) < pages.size:
            return None
        step = 1 if pages.unit == "pages" else len(rows)
        offset = int(call.params[pages.param]) + step
        return _with_param(call, pages.param, str(offset))
    return _next_cursor(pages, call, body, rows)


def _next_cursor(pages: CursorPages, call: Call, body: Any, rows: list[Row]) -> Call | None:
    if pages.has_more is not None and at_path(body, pages.has_more) is not True:
        return None
    if pages.next_from is not None:
        cursor = at_path(body, pages.next_from)
    else:
        cursor = rows[-1].get(pages.next_from_row or "")
    if cursor is None or cursor == "" or text_of(cursor) == call.params.get(pages.param):
        return None  # no cursor, or the same one again: the last page
    return _with_param(call, pages.param, text_of(cursor))


def _with_param(call: Call, name: str, value: str) -> Call:
    params = {**call.params, name: value}
    return Call(call.operation, call.method, call.url, params, call.json, None, call.no_data)


def _absent(op: ReadOp, row: Row) -> bool:
    wanted = op.absent_when
    return bool(wanted) and all(row.get(name) == value for name, value in wanted.items())


def _json(response: httpx.Response, operation: str) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise ConnectorFailure(f"{operation}: the response is not JSON", retryable=False) from None


def _rows(body: Any, rows_at: str, operation: str) -> list[Row]:
    found = at_path(body, rows_at)
    if found is None:
        return []
    if isinstance(found, Mapping):
        return [dict(found)]  # one object: a read by id
    if isinstance(found, list) and all(isinstance(row, Mapping) for row in found):
        return [dict(row) for row in found]
    raise ConnectorFailure(f"{operation}: rows_at does not lead to objects", retryable=False)
