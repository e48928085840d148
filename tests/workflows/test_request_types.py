"""Restriction, rectification and portability through the real workflow and Temporal."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

import pytest
from temporalio.client import Client

from rightsflow.services import package, receipt
from rightsflow.services.requests import NewRequest, submit_and_start
from rightsflow.workflows.devserver import DevServer
from tests.support.stack import make_shop, rows, running_stack, stack_settings

pytestmark = pytest.mark.temporal
EMAIL = "customer0000009@shop.example"


async def test_restriction_flags_only_the_subjects_row(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    async with running_stack(settings, temporal_client) as stack:
        new = NewRequest("restriction", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(stack.runtime.platform, stack.starter, new)
        assert await stack.wait(request.id) == "completed"
        proof = receipt.build(stack.runtime.platform, request.id)
    assert rows(db, "select email from customers where processing_restricted = 1") == [(EMAIL,)]
    (line,) = [ln for ln in proof.lines if ln.collection == "shop:customers"]
    assert (line.action, line.rows_updated, line.recheck) == ("restrict", 1, "verified")
    assert [f.strategy for f in line.fields] == ["restricted"]
    # The data map declares the flag on customers only: the rest is reported, not skipped quietly.
    assert "shop:addresses" in {s["collection"] for s in proof.not_reached}


async def test_rectification_sets_the_new_values(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    others = rows(db, "select * from customers where email != ? order by id", EMAIL)
    async with running_stack(settings, temporal_client) as stack:
        corrections = {"shop:customers.name": "Ada Lovelace", "shop:customers.phone": None}
        new = NewRequest(
            "rectification", {"email": EMAIL}, "gdpr", corrections=corrections, verified=True
        )
        request, _ = await submit_and_start(stack.runtime.platform, stack.starter, new)
        assert await stack.wait(request.id) == "completed"
        proof = receipt.build(stack.runtime.platform, request.id)
    assert rows(db, "select name, phone from customers where email = ?", EMAIL) == [
        ("Ada Lovelace", None)
    ]
    assert rows(db, "select * from customers where email != ? order by id", EMAIL) == others
    (line,) = [ln for ln in proof.lines if ln.action == "rectify"]
    assert (line.collection, line.rows_updated, line.recheck) == (
        "shop:customers",
        1,
        "verified",
    )
    assert proof.verified


async def test_portability_package_has_json_and_a_csv_per_collection(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    db, mapdir = make_shop(tmp_path)
    settings = stack_settings(tmp_path, mapdir, temporal_server.address)
    async with running_stack(settings, temporal_client) as stack:
        new = NewRequest("portability", {"email": EMAIL}, "gdpr", verified=True)
        request, _ = await submit_and_start(stack.runtime.platform, stack.starter, new)
        assert await stack.wait(request.id) == "completed"
        archive = zipfile.ZipFile(
            io.BytesIO(package.download(stack.runtime.platform, request.id, actor="test"))
        )
    data = json.loads(archive.read("data.json"))
    logins = list(csv.DictReader(io.StringIO(archive.read("csv/shop.login_events.csv").decode())))
    expected = rows(db, "select ip from login_events where customer_email = ?", EMAIL)
    assert sorted(r["ip"] for r in logins) == sorted(ip for (ip,) in expected)
    assert len(data["shop:login_events"]) == len(expected)
    manifest = json.loads(archive.read("manifest.json"))
    assert manifest["collections"]
