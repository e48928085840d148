"""Attesting a manual task from the request page, on its assignee's behalf.

The REST route (api/rest/tasks.py) opens a task with the assignee's one-time token; here a
console operator with requests:approve (the scope that acts on a request's decisions) attests
instead, through services/tasks.attest_from_console: same checks, same answer, audited with
the operator as actor. Then the request's workflow is told, exactly as the REST route does.
Erase tasks take a count per collection; access tasks take rows per collection as a JSON list
of objects (declared fields only). The attester is the operator.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from fastapi import APIRouter, Request
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from rightsflow.api.choices import request_id_of
from rightsflow.api.deps import api_deps
from rightsflow.api.web.console_auth import PostingOperatorDep
from rightsflow.api.web.console_request_page import FormError, request_page
from rightsflow.domain.access import Scope
from rightsflow.domain.errors import InvalidInput
from rightsflow.services import tasks

router = APIRouter()

MAX_ROWS_TEXT = 200_000  # characters of JSON per collection


def _text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def _count(name: str, raw: str) -> int:
    try:
        count = int(raw.strip())
    except ValueError:
        raise InvalidInput(
            "a count is a whole number of rows, 0 or more", field=f"counts.{name}"
        ) from None
    return count


def _rows(name: str, raw: str) -> list[Any]:
    where = f"rows.{name}"
    if len(raw) > MAX_ROWS_TEXT:
        raise InvalidInput(f"at most {MAX_ROWS_TEXT} characters", field=where)
    try:
        rows = json.loads(raw)
    except ValueError:
        raise InvalidInput(
            'enter a JSON list of objects, e.g. [{"field": "value"}]', field=where
        ) from None
    if not isinstance(rows, list):
        raise InvalidInput('enter a JSON list of objects, e.g. [{"field": "value"}]', field=where)
    return rows


def attestation_of(
    form: FormData, collections: Mapping[str, str], attester: str
) -> tasks.Attestation:
    """The form's attestation; `collections` maps each collection to its task's operation.
    Empty fields are left out (the service decides what the outcome needs)."""
    counts: dict[str, int] = {}
    rows: dict[str, list[Any]] = {}
    for name, operation in collections.items():
        raw = _text(form, f"{'counts' if operation == 'erase' else 'rows'}.{name}").strip()
        if not raw:
            continue
        if operation == "erase":
            counts[name] = _count(name, raw)
        else:
            rows[name] = _rows(name, raw)
    return tasks.Attestation(
        outcome=_text(form, "outcome"),
        attested_by=attester,
        reason=_text(form, "reason").strip() or None,
        rows=rows,
        counts=counts,
    )


def _field_of(error: InvalidInput) -> str:
    """The form field a service error names: `rows.contacts.0.nickname` -> `rows.contacts`."""
    parts = (error.field or "outcome").split(".")
    return ".".join(parts[:2]) if parts[0] in ("rows", "counts") else parts[0]


@router.post("/requests/{request_id}/tasks/{task_id}/attest")
async def attest(
    request: Request, request_id: str, task_id: str, operator: PostingOperatorDep
) -> Response:
    operator.require(Scope.REQUESTS_APPROVE)
    rid = request_id_of(request_id)
    deps = api_deps(request)
    form = await request.form()
    open_tasks = await asyncio.to_thread(tasks.request_tasks, deps.platform, rid)
    collections = {
        c.name: task.operation for task, cols in open_tasks if task.id == task_id for c in cols
    }
    try:
        attestation = attestation_of(form, collections, operator.actor)
        call = await asyncio.to_thread(
            tasks.attest_from_console, deps.platform, rid, task_id, operator.actor, attestation
        )
    except InvalidInput as refused:
        form_error = FormError(f"task-{task_id}", _field_of(refused), str(refused))
        return await request_page(request, operator, rid, form_error=form_error)
    await deps.workflows.answered(call.request_id, call.system, call.operation)
    return RedirectResponse(f"/console/requests/{rid}?done=attested", status_code=303)
