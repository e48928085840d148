"""The consent propagation workflow on the Temporal dev server: internal services built with
`rightsflow.sdk` told over HTTP, retries, giving up, a worker killed mid-way, and histories
holding no identity."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import ExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import Runtime, build_runtime, step_policy
from rightsflow.config import Settings
from rightsflow.domain.consent_delivery import CONFIRMED, FAILED
from rightsflow.services import consent_propagation as propagation
from rightsflow.workflows.consent_workflow import TemporalConsentPropagator, consent_workflow_id
from rightsflow.workflows.devserver import DevServer
from rightsflow.workflows.worker import build_worker
from tests.support.consent_service import (
    USER,
    Inbox,
    add_consent_service,
    consent_app,
    write_record,
)
from tests.support.http_server import serve
from tests.support.stack import make_shop, stack_settings
from tests.unit.fakes import RecordingStarter, TestClient, all_ok

pytestmark = pytest.mark.temporal


@dataclass
class Setup:
    settings: Settings
    orders: Inbox
    crm: Inbox


@asynccontextmanager
async def services(tmp_path: Path, temporal: DevServer, **extra: Any) -> AsyncIterator[Setup]:
    """Two consent services in the shop's data map (one try per connector call, so each
    activity attempt is one POST)."""
    _db, mapdir = make_shop(tmp_path, customers=5)
    orders, crm = Inbox(), Inbox()
    with ExitStack() as stack:
        for key, inbox in (("orders-svc", orders), ("crm-svc", crm)):
            url = stack.enter_context(serve(consent_app(inbox, key)))
            add_consent_service(mapdir, key, url, max_attempts=1)
        yield Setup(stack_settings(tmp_path, mapdir, temporal.address, **extra), orders, crm)


@asynccontextmanager
async def worker(settings: Settings, client: Client) -> AsyncIterator[Runtime]:
    runtime = build_runtime(settings)
    try:
        async with build_worker(client, runtime.platform, settings.task_queue):
            yield runtime
    finally:
        runtime.close()


async def _propagated(client: Client, settings: Settings, record_id: str) -> dict[str, int]:
    propagator = TemporalConsentPropagator(client, settings.task_queue, step_policy(settings))
    await propagator.propagate(record_id)
    handle = client.get_workflow_handle(consent_workflow_id(record_id))
    result: dict[str, int] = await asyncio.wait_for(handle.result(), 90)
    return result


async def test_every_system_confirms_once_and_the_history_holds_ids_only(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with (
        services(tmp_path, temporal_server) as setup,
        worker(setup.settings, temporal_client) as runtime,
    ):
        platform = runtime.platform
        write_record(runtime.engine, platform.vault, "rec-1", {"advertising": False})
        assert await _propagated(temporal_client, setup.settings, "rec-1") == {CONFIRMED: 2}
        again = TemporalConsentPropagator(
            temporal_client, setup.settings.task_queue, step_policy(setup.settings)
        )
        await again.propagate("rec-1")  # idempotent: the record is not propagated again
        deliveries, receipt = propagation.deliveries_of(platform, "rec-1")
        handle = temporal_client.get_workflow_handle(consent_workflow_id("rec-1"))
        history = json.dumps((await handle.fetch_history()).to_json_dict())
    assert [(d.system, d.status) for d in deliveries] == [
        ("crm-svc", CONFIRMED),
        ("orders-svc", CONFIRMED),
    ]
    assert receipt is not None
    assert (setup.orders.posts, setup.crm.posts) == (1, 1)
    assert [n.identities for n in setup.orders.told] == [{"user_id": USER}]
    assert "rec-1" in history
    assert USER not in history


async def test_a_service_that_fails_then_recovers_is_retried_and_confirmed(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with (
        services(tmp_path, temporal_server) as setup,
        worker(setup.settings, temporal_client) as runtime,
    ):
        setup.crm.faults = ["503", "503"]  # two attempts fail, the third goes through
        write_record(runtime.engine, runtime.platform.vault, "rec-2", {"analytics": False})
        assert await _propagated(temporal_client, setup.settings, "rec-2") == {CONFIRMED: 2}
        deliveries, _ = propagation.deliveries_of(runtime.platform, "rec-2")
    assert [(d.system, d.status, d.attempts) for d in deliveries] == [
        ("crm-svc", CONFIRMED, 3),
        ("orders-svc", CONFIRMED, 1),
    ]
    assert len(setup.crm.told) == 1


async def test_a_service_that_keeps_failing_ends_failed_audited_and_operators_told(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with (
        services(tmp_path, temporal_server) as setup,
        worker(setup.settings, temporal_client) as runtime,
    ):
        setup.crm.faults = ["503"] * 10
        write_record(runtime.engine, runtime.platform.vault, "rec-3", {"analytics": False})
        outcome = await _propagated(temporal_client, setup.settings, "rec-3")
        deliveries, receipt = propagation.deliveries_of(runtime.platform, "rec-3")
        with runtime.platform.uow() as uow:
            actions = [(e.action, e.detail.get("system")) for e in uow.audit.for_request("rec-3")]
    assert outcome == {CONFIRMED: 1, FAILED: 1}
    crm = next(d for d in deliveries if d.system == "crm-svc")
    assert (crm.status, crm.attempts) == (FAILED, 3)
    assert crm.failure is not None
    assert "HTTP 503" in crm.failure
    assert ("consent.delivery_failed", "crm-svc") in actions
    assert receipt is not None
    assert {s["system"]: s["status"] for s in receipt["systems"]} == {
        "crm-svc": FAILED,
        "orders-svc": CONFIRMED,
    }
    mails = [m.read_text() for m in setup.settings.outbox_dir.glob("*.eml")]
    assert any("crm-svc failed" in m for m in mails)


def _crash_worker(settings: Settings) -> subprocess.Popen[bytes]:
    raw = json.loads(settings.model_dump_json())
    root = Path(__file__).parents[2]
    return subprocess.Popen(
        [sys.executable, "-m", "tests.support.crash_worker", json.dumps(raw), ""],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
    )


@pytest.mark.slow
async def test_a_worker_killed_mid_way_is_replaced_and_no_system_is_told_twice(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with services(tmp_path, temporal_server, step_timeout_s=3.0) as setup:
        setup.crm.gate = threading.Event()  # crm-svc holds the call until the worker is dead
        runtime = build_runtime(setup.settings)  # migrates before the worker starts
        write_record(runtime.engine, runtime.platform.vault, "rec-4", {"analytics": False})
        first = _crash_worker(setup.settings)
        try:
            propagator = TemporalConsentPropagator(
                temporal_client, setup.settings.task_queue, step_policy(setup.settings)
            )
            await propagator.propagate("rec-4")
            assert await asyncio.to_thread(setup.crm.arrived.wait, 60), "crm-svc was never told"
            for _ in range(100):  # orders-svc confirmed (in our store) before the kill
                if propagation.deliveries_of(runtime.platform, "rec-4")[0][1].status == CONFIRMED:
                    break
                await asyncio.sleep(0.1)
            else:
                raise AssertionError("orders-svc did not confirm before the kill")
            first.send_signal(signal.SIGKILL)
            first.wait()
        finally:
            first.kill()
            setup.crm.gate.set()
        runtime.close()
        async with worker(setup.settings, temporal_client) as resumed:
            handle = temporal_client.get_workflow_handle(consent_workflow_id("rec-4"))
            assert await asyncio.wait_for(handle.result(), 90) == {CONFIRMED: 2}
            deliveries, _ = propagation.deliveries_of(resumed.platform, "rec-4")
    assert [d.status for d in deliveries] == [CONFIRMED, CONFIRMED]
    assert setup.orders.posts == 1  # confirmed before the crash: never sent again
    assert len(setup.orders.told) == 1
    assert setup.crm.posts >= 2  # asked again after the crash ...
    assert len(setup.crm.told) == 1  # ... and answered from its store, not run twice


async def test_an_operator_retry_tells_only_the_failed_system_in_a_new_run(
    tmp_path: Path, temporal_server: DevServer, temporal_client: Client
) -> None:
    async with (
        services(tmp_path, temporal_server) as setup,
        worker(setup.settings, temporal_client) as runtime,
    ):
        setup.crm.faults = ["503"] * 3  # every attempt of the first run fails
        write_record(runtime.engine, runtime.platform.vault, "rec-5", {"analytics": False})
        assert await _propagated(temporal_client, setup.settings, "rec-5") == {
            CONFIRMED: 1,
            FAILED: 1,
        }
        propagator = TemporalConsentPropagator(
            temporal_client, setup.settings.task_queue, step_policy(setup.settings)
        )
        platform = dataclasses.replace(runtime.platform, consent_propagator=propagator)
        token = "owner-token-for-this-test-0123456789"
        deps = ApiDeps(
            platform=platform,
            workflows=RecordingStarter(),
            token_is_valid=lambda given: given == token,
            readiness=all_ok,
        )
        url = "/api/v1/consent/records/rec-5/deliveries/retry"
        auth = {"Authorization": f"Bearer {token}"}
        with TestClient(create_app(setup.settings, deps)) as client:
            retried = client.post(url, json={"systems": ["crm-svc"]}, headers=auth)
            handle = temporal_client.get_workflow_handle(consent_workflow_id("rec-5", 1))
            assert await asyncio.wait_for(handle.result(), 90) == {CONFIRMED: 2}
            nothing_failed = client.post(url, headers=auth)
        deliveries, receipt = propagation.deliveries_of(runtime.platform, "rec-5")
    assert retried.status_code == 202, retried.text
    assert retried.json() == {"record_id": "rec-5", "systems": ["crm-svc"], "run": 1}
    assert nothing_failed.status_code == 409
    assert [(d.system, d.status, d.attempts) for d in deliveries] == [
        ("crm-svc", CONFIRMED, 4),
        ("orders-svc", CONFIRMED, 1),
    ]
    assert receipt is not None
    assert {s["system"]: s["status"] for s in receipt["systems"]} == {
        "crm-svc": CONFIRMED,
        "orders-svc": CONFIRMED,
    }
    assert setup.orders.posts == 1  # confirmed in the first run: not told again
    assert len(setup.crm.told) == 1
