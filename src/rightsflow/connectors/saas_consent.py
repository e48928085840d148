"""The `saas` connector's consent call: a vendor file's `consent` operation filled for one
consent record (see `saas_spec.ConsentOp`)."""

from __future__ import annotations

import httpx

from rightsflow.connectors.saas_http import Call
from rightsflow.connectors.saas_pages import at_path, fill, fill_body, text_of
from rightsflow.connectors.saas_spec import ConsentOp
from rightsflow.domain.connector import ConsentNotice


def consent_call(op: ConsentOp, notice: ConsentNotice) -> Call:
    """The request telling the vendor; `{<by>}` is the subject's value, `{record_id}` the
    record's id (an idempotency key, where the vendor takes one)."""
    values = {op.by: notice.identities[op.by], "record_id": notice.record_id}
    return Call(
        operation="consent",
        method=op.method,
        url=fill(op.path, values, in_path=True),
        params={name: fill(template, values) for name, template in op.query.items()},
        json=fill_body(op.body, values) if op.body is not None else None,
        no_data=op.no_data_status,
    )


def consent_reference(op: ConsentOp, response: httpx.Response | None) -> str | None:
    """The vendor's id for what it did, from `reference_at` in a JSON answer; None when it
    gives none (a no-data status, an empty or non-JSON body, nothing at that path)."""
    if op.reference_at is None or response is None or not response.content:
        return None
    try:
        found = at_path(response.json(), op.reference_at)
    except ValueError:
        return None
    return None if found is None or isinstance(found, dict | list) else text_of(found)[:200]
