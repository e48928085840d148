"""The access package: data.json (rows per collection, targeted fields only) and index.html."""

from __future__ import annotations

import html
import io
import json
import zipfile
from typing import Any

from rightsflow.domain.connector import Row
from rightsflow.domain.errors import Conflict, NotFound
from rightsflow.domain.plan import PlanNode
from rightsflow.domain.requests import RequestStatus, RequestType
from rightsflow.services import audit
from rightsflow.services.execution import load_plan
from rightsflow.services.platform import Platform
from rightsflow.services.rows import open_rows, to_json

# Fixed timestamp inside the zip so the same data always gives the same bytes.
_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _project(node: PlanNode, row: Row) -> dict[str, Any]:
    """Only the fields whose categories the policy targets (nested paths kept nested)."""
    out: dict[str, Any] = {}
    for target in node.targets:
        top, _, rest = target.path.partition(".")
        value: Any = row.get(top)
        if rest:
            doc = json.loads(value) if isinstance(value, str) else value
            for part in rest.split("."):
                doc = doc.get(part) if isinstance(doc, dict) else None
            _set_path(out, target.path.split("."), doc)
        else:
            out[top] = value
    return out


def _set_path(out: dict[str, Any], path: list[str], value: Any) -> None:
    for part in path[:-1]:
        out = out.setdefault(part, {})
    out[path[-1]] = value


def collect(platform: Platform, request_id: str) -> dict[str, list[dict[str, Any]]]:
    plan = load_plan(platform, request_id)
    data: dict[str, list[dict[str, Any]]] = {}
    with platform.uow() as uow:
        for node in (n for n in plan.nodes if n.action == "return"):
            found = uow.results.get(request_id, node.address, "retrieve")
            rows = open_rows(platform.vault, request_id, found.sealed_rows if found else None)
            data[node.address] = [_project(node, r) for r in rows]
    return data


def render_html(data: dict[str, list[dict[str, Any]]]) -> str:
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Your data</title></head><body><h1>Your data</h1>",
        "<p>Every record we hold about you, by system and collection. "
        "The same data is in data.json in this archive.</p>",
    ]
    for address, rows in data.items():
        parts.append(f"<h2>{html.escape(address)} ({len(rows)})</h2>")
        if not rows:
            parts.append("<p>No records.</p>")
            continue
        columns = sorted({c for r in rows for c in r})
        head = "".join(f"<th scope='col'>{html.escape(c)}</th>" for c in columns)
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>")
        for row in rows:
            cells = "".join(f"<td>{html.escape(_text(row.get(c)))}</td>" for c in columns)
            parts.append(f"<tr>{cells}</tr>")
        parts.append("</tbody></table>")
    parts.append("</body></html>")
    return "".join(parts)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return to_json(value).decode()
    return str(value)


def build(platform: Platform, request_id: str) -> int:
    """Assemble, seal and store the package; returns the number of rows in it."""
    data = collect(platform, request_id)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in (
            ("data.json", to_json(data)),
            ("index.html", render_html(data).encode()),
        ):
            archive.writestr(zipfile.ZipInfo(name, _ZIP_TIME), body)
    platform.packages.put(request_id, platform.vault.seal(request_id, buffer.getvalue()))
    rows = sum(len(v) for v in data.values())
    with platform.uow() as uow:
        audit.record(uow, request_id, "package.built", platform.clock(), rows=rows)
        uow.commit()
    return rows


def download(platform: Platform, request_id: str, actor: str) -> bytes:
    with platform.uow() as uow:
        request = uow.requests.get(request_id)
        if request.type is not RequestType.ACCESS:
            raise Conflict("only access requests have a package")
        if request.status is not RequestStatus.COMPLETED:
            raise Conflict(
                f"the package is ready when the request completes ({request.status.value})"
            )
        sealed = platform.packages.get(request_id)
        if sealed is None:
            raise NotFound("package not found")
        audit.record(uow, request_id, "package.downloaded", platform.clock(), actor=actor)
        uow.commit()
    return platform.vault.open(request_id, sealed)
