"""An opt-out request through the real workflow and Temporal: its begin step writes one ledger
record opting the subject out of the gpc purposes, and the request completes."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.client import Client

from rightsflow.domain.consent import Source, SubjectKind, SubjectRef
from rightsflow.services import consent, consent_requests, requests
from rightsflow.services.requests import NewRequest, submit_and_start
from rightsflow.workflows.devserver import DevServer
from tests.support.stack import make_shop, running_stack, stack_settings

pytestmark = pytest.mark.temporal


async def test_an_opt_out_request_writes_the_ledger(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    _db, mapdir = make_shop(tmp_path, customers=3)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    async with running_stack(settings, temporal_client) as stack:
        platform = stack.runtime.platform
        new = NewRequest("opt_out", {"user_id": "u-77"}, "ccpa")
        request, _ = await submit_and_start(platform, stack.starter, new)
        assert await stack.wait(request.id) == "completed"
        page = consent.history(platform, SubjectRef(SubjectKind.USER_ID, "u-77"), None, 10)
        trail = [e.action for e in requests.audit_trail(platform, request.id)]
    [(record, entries)] = page.items
    assert record.id == consent_requests.opt_out_record_id(request.id)
    assert (record.source, record.request_id) == (Source.API, request.id)
    assert {e.purpose: e.effective for e in entries} == {
        "advertising": False,
        "sale_sharing": False,
    }
    assert consent_requests.OPT_OUT_RECORDED in trail
