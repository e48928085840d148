"""Access and erasure requests through the real workflow, worker and Temporal dev server."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from temporalio.client import Client

from rightsflow.services import package, receipt
from rightsflow.services.requests import NewRequest, detail, submit_and_start
from rightsflow.workflows.devserver import DevServer
from tests.support.stack import make_shop, rows, running_stack, stack_settings

pytestmark = pytest.mark.temporal
EMAIL = "customer0000007@shop.example"


async def test_access_returns_exactly_the_subjects_rows(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    async with running_stack(settings, temporal_client) as stack:
        new = NewRequest("access", {"email": EMAIL.upper()}, "gdpr", verified=True)
        request, _ = await submit_and_start(stack.runtime.platform, stack.starter, new)
        assert await stack.wait(request.id) == "completed"
        archive = package.download(stack.runtime.platform, request.id, actor="test")
    data = json.loads(zipfile.ZipFile(io.BytesIO(archive)).read("data.json"))
    (customer_id,) = rows(db, "select id from customers where email = ?", EMAIL)[0]
    expected_orders = rows(db, "select total from orders where customer_id = ?", customer_id)
    assert data["shop:customers"] == [
        dict(zip(["email", "id", "name", "phone"], r, strict=True))
        for r in rows(db, "select email, id, name, phone from customers where id = ?", customer_id)
    ]
    assert sorted(float(r["total"]) for r in data["shop:orders"]) == sorted(
        float(str(t)) for (t,) in expected_orders
    )
    items = rows(
        db,
        "select sku from order_items join orders o on o.id = order_id where o.customer_id = ?",
        customer_id,
    )
    assert sorted(r["sku"] for r in data["shop:order_items"]) == sorted(s for (s,) in items)
    logins = rows(db, "select ip from login_events where customer_email = ?", EMAIL)
    assert sorted(r["ip"] for r in data["shop:login_events"]) == sorted(i for (i,) in logins)
    # Only targeted categories: foreign keys (system.operations) never leave.
    assert all("customer_id" not in r for r in data["shop:addresses"])


async def test_erasure_leaves_nothing_behind_and_the_receipt_says_so(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    before_other = rows(db, "select * from customers where email != ? order by id", EMAIL)
    (customer_id,) = rows(db, "select id from customers where email = ?", EMAIL)[0]
    orders_before = rows(db, "select * from orders where customer_id = ?", customer_id)
    async with running_stack(settings, temporal_client) as stack:
        new = NewRequest("erasure", {"email": EMAIL}, "ccpa", verified=True)
        request, _ = await submit_and_start(stack.runtime.platform, stack.starter, new)
        assert await stack.wait(request.id) == "completed"
        proof = receipt.build(stack.runtime.platform, request.id)
        state = detail(stack.runtime.platform, request.id)
    assert rows(db, "select email, name, phone from customers where id = ?", customer_id) == [
        (None, "MASKED", None)
    ]
    assert rows(db, "select count(*) from login_events where customer_email = ?", EMAIL) == [(0,)]
    assert rows(db, "select count(*) from support_tickets where customer_email = ?", EMAIL) == [
        (0,)
    ]
    assert rows(
        db,
        "select count(*) from addresses where customer_id = ? and street is not null",
        customer_id,
    ) == [(0,)]
    assert rows(db, "select * from customers where email != ? order by id", EMAIL) == before_other
    assert rows(db, "select * from orders where customer_id = ?", customer_id) == orders_before
    assert proof.verified
    by_collection = {line.collection: line for line in proof.lines}
    assert by_collection["shop:customers"].rows_masked == 1
    assert all(line.recheck == "verified" for line in proof.lines)
    assert {s["collection"] for s in proof.not_reached} == {"shop:orders", "shop:order_items"}
    assert state.request.status.value == "completed"
