"""The payload codec on the real dev server: a request runs end to end with distinctive values
through a worker whose client seals every payload; the Temporal database holds none of it in
the clear; the codec server shows the payloads to an operator only; after the request's key is
destroyed, they cannot be decoded at all."""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import sqlite3
import subprocess
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from google.protobuf.json_format import MessageToDict
from google.protobuf.message import Message
from temporalio.api.common.v1 import Payload
from temporalio.client import Client, WorkflowQueryFailedError

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import Runtime, build_runtime, step_policy
from rightsflow.services.requests import NewRequest, submit_and_start
from rightsflow.workflows.contracts import workflow_id
from rightsflow.workflows.devserver import DevServer, temporal_cli_path
from rightsflow.workflows.request_workflow import FEWER_ROUND_TRIPS
from rightsflow.workflows.starter import TemporalStarter
from rightsflow.workflows.worker import build_worker, connect
from tests.support.http_server import serve
from tests.support.principals import role_tokens
from tests.support.stack import make_shop, stack_settings
from tests.unit.fakes import all_ok

pytestmark = [pytest.mark.temporal, pytest.mark.slow]
EMAIL = "zebulon.quartermaine.7731@codec-test.example"
NAME = "Zebulon Quartermaine-Codecson"
STREET = "77 Xylograph Lane"
OWNER = "codec-test-owner-token"
UI = "http://127.0.0.1:8233"
ENCRYPTED = b"binary/rightsflow-encrypted"


@dataclass
class Ran:
    runtime: Runtime
    client: Client
    request_id: str
    temporal_db: Path
    app: FastAPI
    api: httpx.AsyncClient
    temporal_address: str


def distinctive_subject(db: Path) -> None:
    """Customer 7 gets values that appear nowhere else, to look for afterwards."""
    with sqlite3.connect(db) as conn:
        (old,) = conn.execute("select email from customers where id = 7").fetchone()
        conn.execute("update customers set email = ?, name = ? where id = 7", (EMAIL, NAME))
        conn.execute("update addresses set street = ? where customer_id = 7", (STREET,))
        for table in ("login_events", "support_tickets"):
            conn.execute(
                f"update {table} set customer_email = ? where customer_email = ?", (EMAIL, old)
            )


def app_for(runtime: Runtime, starter: TemporalStarter) -> FastAPI:
    settings = runtime.settings.model_copy(update={"codec_cors_origins": [UI]})
    deps = ApiDeps(
        platform=runtime.platform,
        workflows=starter,
        token_is_valid=lambda token: hmac.compare_digest(token, OWNER),
        readiness=all_ok,
        tokens=role_tokens(),
    )
    return create_app(settings, deps)


@pytest.fixture(scope="module")
async def ran(
    tmp_path_factory: pytest.TempPathFactory, temporal_server: DevServer
) -> AsyncIterator[Ran]:
    root = Path(tmp_path_factory.mktemp("payload-codec"))
    db, mapdir = make_shop(root, customers=20)
    distinctive_subject(db)
    settings = stack_settings(root, mapdir, temporal_server.address)
    runtime = build_runtime(settings)
    client = await connect(temporal_server.address, "default", runtime.platform.vault)
    starter = TemporalStarter(client, settings.task_queue, step_policy(settings))
    try:
        async with build_worker(client, runtime.platform, settings.task_queue):
            new = NewRequest("access", {"email": EMAIL}, "gdpr", verified=True)
            request, _ = await submit_and_start(runtime.platform, starter, new)
            handle = client.get_workflow_handle(workflow_id(request.id))
            assert await handle.result() == "completed"
        app = app_for(runtime, starter)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://rf.test") as api:
            db = temporal_server.db_path
            yield Ran(runtime, client, request.id, db, app, api, temporal_server.address)
    finally:
        runtime.close()


def payloads_in(message: Message) -> Iterator[Payload]:
    """Every Payload anywhere inside a protobuf message."""
    if isinstance(message, Payload):
        yield message
        return
    for field, value in message.ListFields():
        if field.message_type is None:
            continue
        if isinstance(value, Message):
            values = [value]
        elif field.message_type.GetOptions().map_entry:
            values = [v for v in value.values() if isinstance(v, Message)]
        else:  # a repeated field
            values = list(value)
        for item in values:
            yield from payloads_in(item)


# Marker metadata the SDK's core writes itself, never through our codec: a local activity's
# sequence number, type name and times, a patch's id (also kept as a search attribute).
# Checked to hold nothing of ours.
SDK_METADATA = {("core_local_activity", "data"), ("core_patch", "patch-data")}
CHANGE_VERSION = "TemporalChangeVersion"
SDK_FIELDS = {"seq", "attempt", "activity_id", "activity_type", "complete_time", "backoff",
              "original_schedule_time", "activation_index", "id", "deprecated"}  # fmt: skip


async def history_payloads(ran: Ran, plain: Client) -> list[Payload]:
    """Every payload in the request's history except the SDK's own marker metadata."""
    history = await plain.get_workflow_handle(workflow_id(ran.request_id)).fetch_history()
    return [p for event in history.events for p in payloads_in(_without_sdk_metadata(event))]


async def sdk_metadata(ran: Ran, plain: Client) -> list[Payload]:
    history = await plain.get_workflow_handle(workflow_id(ran.request_id)).fetch_history()
    found = []
    for event in history.events:
        marker = event.marker_recorded_event_attributes
        for key, value in marker.details.items():
            if (marker.marker_name, key) in SDK_METADATA:
                found.extend(value.payloads)
        fields = event.upsert_workflow_search_attributes_event_attributes.search_attributes
        if CHANGE_VERSION in fields.indexed_fields:
            found.append(fields.indexed_fields[CHANGE_VERSION])
    return found


def _without_sdk_metadata(event: Message) -> Message:
    copy = type(event)()
    copy.CopyFrom(event)
    marker = copy.marker_recorded_event_attributes  # type: ignore[attr-defined]
    for name, key in SDK_METADATA:
        if marker.marker_name == name and key in marker.details:
            del marker.details[key]
    if copy.HasField("upsert_workflow_search_attributes_event_attributes"):
        upsert = copy.upsert_workflow_search_attributes_event_attributes  # type: ignore[attr-defined]
        upsert.search_attributes.indexed_fields.pop(CHANGE_VERSION, None)
    return copy


def as_json(payloads: list[Payload]) -> dict[str, Any]:
    return {"payloads": [MessageToDict(p) for p in payloads]}


async def test_every_payload_in_the_history_is_sealed(ran: Ran, temporal_client: Client) -> None:
    # Read with a client that has no codec: what the server (and its UI) holds.
    payloads = await history_payloads(ran, temporal_client)
    assert len(payloads) >= 8
    assert {p.metadata["encoding"] for p in payloads} == {ENCRYPTED}
    assert {p.metadata["encryption-key-id"] for p in payloads} == {
        f"request:{ran.request_id}".encode()
    }


async def test_the_only_plain_payloads_are_the_sdks_marker_metadata(
    ran: Ran, temporal_client: Client
) -> None:
    metadata = await sdk_metadata(ran, temporal_client)
    assert metadata  # the bookkeeping steps ran as local activities
    for payload in metadata:
        assert payload.metadata["encoding"] == b"json/plain"
        fields = json.loads(payload.data)
        if isinstance(fields, list):  # the change-version search attribute: patch ids
            assert fields == [FEWER_ROUND_TRIPS]
            continue
        assert set(fields) <= SDK_FIELDS
        assert ran.request_id.encode() not in payload.data
        for value in (EMAIL, NAME, STREET):
            assert value.encode() not in payload.data


def test_the_temporal_database_holds_no_readable_payload(ran: Ran) -> None:
    files = [ran.temporal_db, ran.temporal_db.with_name(ran.temporal_db.name + "-wal")]
    raw = b"".join(f.read_bytes() for f in files if f.exists())
    rid = ran.request_id.encode()
    assert workflow_id(ran.request_id).encode() in raw  # the right file: ids are there
    # The workflow's input and results as JSON would name the request id in a field.
    assert b'"request_id":"' + rid not in raw
    assert b'"request_id": "' + rid not in raw
    for value in (EMAIL, NAME, STREET):
        assert value.encode() not in raw
        assert value.encode("utf-16-le") not in raw


async def test_an_operator_decodes_through_the_codec_server_and_it_is_audited(
    ran: Ran, temporal_client: Client
) -> None:
    payloads = await history_payloads(ran, temporal_client)
    answer = await ran.api.post(
        "/codec/decode",
        json=as_json(payloads),
        headers={
            "Authorization": "Bearer privacy_operator",
            "X-Namespace": "default",
            "Origin": UI,
        },
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["access-control-allow-origin"] == UI
    assert answer.headers["cache-control"] == "no-store"
    decoded = answer.json()["payloads"]
    assert len(decoded) == len(payloads)
    assert any(ran.request_id in Payload(**_bytes(p)).data.decode() for p in decoded)
    with ran.runtime.platform.uow() as uow:
        events = [
            e for e in uow.audit.for_request(ran.request_id) if e.action == "payloads.decoded"
        ]
    assert [(e.actor, e.detail["count"]) for e in events] == [
        ("client:privacy_operator", len(payloads))
    ]


def _bytes(payload: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {k: base64.b64decode(v) for k, v in payload.get("metadata", {}).items()},
        "data": base64.b64decode(payload.get("data", "")),
    }


async def test_a_viewer_or_a_stranger_cannot_decode(ran: Ran, temporal_client: Client) -> None:
    body = as_json((await history_payloads(ran, temporal_client))[:1])
    viewer = await ran.api.post(
        "/codec/decode", json=body, headers={"Authorization": "Bearer viewer"}
    )
    assert viewer.status_code == 403
    assert viewer.json()["required_scope"] == "payloads:decode"
    nobody = await ran.api.post("/codec/decode", json=body, headers={"Origin": UI})
    assert nobody.status_code == 401
    assert nobody.headers["access-control-allow-origin"] == UI  # the UI can show why


async def test_cors_is_for_the_temporal_ui_only(ran: Ran) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "x-namespace",
    }
    ui = await ran.api.options("/codec/decode", headers={"Origin": UI, **asked})
    assert ui.status_code == 204
    assert ui.headers["access-control-allow-origin"] == UI
    assert "X-Namespace" in ui.headers["access-control-allow-headers"]
    other = await ran.api.options(
        "/codec/decode", headers={"Origin": "https://evil.example", **asked}
    )
    assert "access-control-allow-origin" not in other.headers


def started_input(shown: str) -> dict[str, Any]:
    """The first event's (workflow started) input payload, as `temporal -o json` prints it."""
    event = json.loads(shown)["events"][0]
    (payload,) = event["workflowExecutionStartedEventAttributes"]["input"]["payloads"]
    return _bytes(payload)


def test_the_temporal_cli_shows_payloads_through_the_codec_server(ran: Ran) -> None:
    wid = workflow_id(ran.request_id)
    cli = [str(temporal_cli_path()), "workflow", "show", "-w", wid, "-o", "json"]
    cli += ["--address", ran.temporal_address]

    def show(url: str, token: str) -> subprocess.CompletedProcess[str]:
        codec = ["--codec-endpoint", f"{url}/codec", "--codec-auth", f"Bearer {token}"]
        return subprocess.run(
            [*cli, *codec], capture_output=True, text=True, timeout=60, check=False
        )

    with serve(ran.app) as url:
        operator, viewer = show(url, "privacy_operator"), show(url, "viewer")
    assert operator.returncode == 0, operator.stderr
    decoded = started_input(operator.stdout)
    assert decoded["metadata"]["encoding"] == b"json/plain"
    assert json.loads(decoded["data"])["request_id"] == ran.request_id
    assert viewer.returncode != 0
    assert "workflowExecutionStartedEventAttributes" not in viewer.stdout  # nothing shown


async def test_after_the_key_is_destroyed_the_payloads_cannot_be_decoded(
    ran: Ran, temporal_client: Client
) -> None:
    payloads = await history_payloads(ran, temporal_client)
    assert ran.runtime.platform.vault.destroy_key(ran.request_id)
    answer = await ran.api.post(
        "/codec/decode",
        json=as_json(payloads),
        headers={"Authorization": "Bearer privacy_operator"},
    )
    assert answer.status_code == 422
    assert answer.json()["type"].endswith("/payload-unreadable")
    assert "destroyed" in answer.json()["detail"]
    # A client with the codec fails the same way, clearly, instead of showing anything.
    with pytest.raises(Exception, match="destroyed"):
        await ran.client.get_workflow_handle(workflow_id(ran.request_id)).result()


async def test_a_worker_asked_to_replay_a_purged_history_fails_that_task_and_goes_on(
    ran: Ran,
) -> None:
    ran.runtime.platform.vault.destroy_key(ran.request_id)  # (already, by the test above)
    settings = ran.runtime.settings
    async with build_worker(ran.client, ran.runtime.platform, settings.task_queue):
        purged = ran.client.get_workflow_handle(workflow_id(ran.request_id))
        # A query on a closed workflow makes a worker replay its history: it cannot decode it.
        with pytest.raises(WorkflowQueryFailedError, match="data key was destroyed"):
            await asyncio.wait_for(purged.query("__stack_trace"), 30)
        starter = TemporalStarter(ran.client, settings.task_queue, step_policy(settings))
        other = NewRequest(
            "access", {"email": "customer0000003@shop.example"}, "gdpr", verified=True
        )
        request, _ = await submit_and_start(ran.runtime.platform, starter, other)
        handle = ran.client.get_workflow_handle(workflow_id(request.id))
        assert await asyncio.wait_for(handle.result(), 60) == "completed"
