"""Propagating consent records, step by step, without the workflow engine: the systems chosen,
real Privacy Services (rightsflow.sdk, served by uvicorn) told over HTTP, failures counted and
given up on, the signed receipt, the audit trail and the deliveries route."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import pytest

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from rightsflow.bootstrap import Runtime, build_runtime
from rightsflow.connectors.pool import ConnectorPool
from rightsflow.domain.consent_delivery import CONFIRMED, FAILED, PENDING
from rightsflow.domain.errors import ConnectorFailure, RightsflowError
from rightsflow.domain.signature import verify_document
from rightsflow.services import consent_propagation as propagation
from rightsflow.services import consent_read
from tests.support.consent_service import (
    USER,
    Inbox,
    add_consent_service,
    consent_app,
    write_record,
)
from tests.support.http_server import serve
from tests.support.saas_servers import SENDGRID_KEY, SendgridState, sendgrid_app
from tests.support.service_stack import add_system
from tests.support.stack import make_shop, stack_settings
from tests.unit.fakes import RecordingStarter, TestClient, all_ok

EMAIL = "ada@example.test"
SAMPLE_SAAS = Path(__file__).parents[2] / "src" / "rightsflow" / "sample" / "saas"


@dataclass
class World:
    runtime: Runtime
    orders: Inbox  # told (http_service, consent on)
    quiet: Inbox  # consent turned off in its config: never told
    mail: SendgridState  # a saas vendor told about advertising withdrawals of emails


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    _db, mapdir = make_shop(tmp_path, customers=5)
    orders, quiet, mail = Inbox(), Inbox(), SendgridState()
    with ExitStack() as stack:
        add_consent_service(
            mapdir, "orders-svc", stack.enter_context(serve(consent_app(orders, "orders-svc")))
        )
        quiet_url = stack.enter_context(serve(consent_app(quiet, "quiet-svc")))
        add_consent_service(mapdir, "quiet-svc", quiet_url, consent=False)
        mail_url = stack.enter_context(serve(sendgrid_app(mail)))
        add_system(
            mapdir,
            {
                "key": "mail",
                "connector": "saas",
                "datasets": [],
                "config": {
                    "vendor": "sendgrid",
                    "base_url": mail_url,
                    "secrets": {"api_key": SENDGRID_KEY},
                    "allow_private_network": True,
                    "retries": {"attempts": 1},
                },
            },
            "mail.yml",
            "dataset: []\n",
        )
        runtime = build_runtime(stack_settings(tmp_path, mapdir, "127.0.0.1:1"))
        stack.callback(runtime.close)
        yield World(runtime, orders, quiet, mail)


def _audit(world: World, record_id: str) -> list[tuple[str, dict[str, object]]]:
    with world.runtime.platform.uow() as uow:
        return [(e.action, dict(e.detail)) for e in uow.audit.for_request(record_id)]


def test_the_systems_with_the_consent_capability_that_want_the_record_are_told(
    world: World,
) -> None:
    platform = world.runtime.platform
    write_record(world.runtime.engine, platform.vault, "r-user", {"analytics": False})
    write_record(
        world.runtime.engine, platform.vault, "r-mail", {"advertising": False},
        subject=("email", EMAIL),
    )  # fmt: skip
    write_record(world.runtime.engine, platform.vault, "r-yes", {"analytics": True})
    assert propagation.begin(platform, "r-user") == ["orders-svc"]  # not the shop, not quiet-svc
    assert propagation.begin(platform, "r-mail") == ["mail", "orders-svc"]
    assert propagation.begin(platform, "r-yes") == []  # nothing withdrawn: nobody to tell
    assert propagation.begin(platform, "r-user") == ["orders-svc"]  # chosen once
    started = [d for a, d in _audit(world, "r-user") if a == "consent.propagation_started"]
    assert started == [{"systems": ["orders-svc"]}]


def test_a_confirmed_delivery_is_signed_on_the_receipt_and_never_sent_twice(world: World) -> None:
    platform = world.runtime.platform
    digest = write_record(
        world.runtime.engine, platform.vault, "r-1", {"analytics": False, "advertising": True}
    )
    propagation.begin(platform, "r-1")
    assert propagation.tell(platform, "r-1", "orders-svc") == CONFIRMED
    assert propagation.tell(platform, "r-1", "orders-svc") == CONFIRMED  # a retried activity
    assert world.orders.posts == 1
    (told,) = world.orders.told
    assert told.identities == {"user_id": USER}
    assert told.purposes == {"analytics": False, "advertising": True}
    assert (told.record_id, told.system, told.regime) == ("r-1", "orders-svc", "gdpr")
    assert propagation.finish(platform, "r-1") == {CONFIRMED: 1}
    deliveries, receipt = propagation.deliveries_of(platform, "r-1")
    assert [(d.system, d.status, d.attempts, d.reference) for d in deliveries] == [
        ("orders-svc", CONFIRMED, 1, "ref-r-1")
    ]
    assert receipt is not None
    assert verify_document(receipt).valid
    assert receipt["record_id"] == "r-1"
    assert receipt["withdrawn"] == ["analytics"]
    assert [(s["system"], s["status"]) for s in receipt["systems"]] == [("orders-svc", CONFIRMED)]
    text = json.dumps(receipt) + json.dumps(_audit(world, "r-1"))
    assert USER not in text
    assert digest not in text  # not even the subject's hash
    actions = [a for a, _ in _audit(world, "r-1")]
    assert actions == ["consent.propagation_started", "consent.delivered", "consent.propagated"]
    with platform.uow() as uow:
        assert [(d["system"], d["status"]) for d in uow.deliveries.for_subject(digest)] == [
            ("orders-svc", CONFIRMED)
        ]
    # The subject's state (refreshed in the cache by each delivery) shows who confirmed.
    assert platform.consent_cache.get(consent_read.cache_key(digest)) is not None
    state = json.loads(consent_read.current(platform, digest, "gdpr"))
    assert [(s["system"], s["status"]) for s in state["systems"]] == [("orders-svc", CONFIRMED)]


def test_a_failing_system_is_counted_retried_and_given_up_on(world: World) -> None:
    platform = world.runtime.platform
    write_record(world.runtime.engine, platform.vault, "r-2", {"analytics": False})
    propagation.begin(platform, "r-2")
    world.orders.faults = ["503"] * 3  # the connector's three tries of one attempt
    with pytest.raises(ConnectorFailure) as down:
        propagation.tell(platform, "r-2", "orders-svc")
    assert down.value.retryable
    (pending,), _ = propagation.deliveries_of(platform, "r-2")
    assert (pending.status, pending.attempts) == (PENDING, 1)
    assert pending.failure is not None
    assert "HTTP 503" in pending.failure
    reason = propagation.give_up(platform, "r-2", "orders-svc", pending.failure)
    assert reason.startswith("orders-svc: consent not delivered")
    (failed,), _ = propagation.deliveries_of(platform, "r-2")
    assert failed.status == FAILED
    assert propagation.tell(platform, "r-2", "orders-svc") == FAILED  # not sent again
    assert world.orders.told == []
    assert ("consent.delivery_failed", {"system": "orders-svc", "reason": reason}) in _audit(
        world, "r-2"
    )
    mails = list(world.runtime.settings.outbox_dir.glob("*.eml"))
    assert any("orders-svc failed" in m.read_text() for m in mails)
    assert all(USER not in m.read_text() for m in mails)


def test_a_system_told_after_a_failure_confirms_and_give_up_then_changes_nothing(
    world: World,
) -> None:
    platform = world.runtime.platform
    write_record(world.runtime.engine, platform.vault, "r-3", {"analytics": False})
    propagation.begin(platform, "r-3")
    world.orders.faults = ["503"] * 3
    with pytest.raises(ConnectorFailure):
        propagation.tell(platform, "r-3", "orders-svc")
    assert propagation.tell(platform, "r-3", "orders-svc") == CONFIRMED
    assert propagation.give_up(platform, "r-3", "orders-svc", "late") == ""
    (done,), _ = propagation.deliveries_of(platform, "r-3")
    assert (done.status, done.attempts, done.failure) == (CONFIRMED, 2, None)


def test_a_service_that_applies_later_stays_pending_with_its_reference(world: World) -> None:
    platform = world.runtime.platform
    write_record(world.runtime.engine, platform.vault, "r-4", {"analytics": False})
    propagation.begin(platform, "r-4")
    world.orders.later = True
    assert propagation.tell(platform, "r-4", "orders-svc") == PENDING
    assert propagation.tell(platform, "r-4", "orders-svc") == PENDING
    assert world.orders.posts == 1  # taken: not told again
    (accepted,), _ = propagation.deliveries_of(platform, "r-4")
    assert (accepted.reference, accepted.failure) == ("job-1", None)


def test_a_record_without_its_sealed_subject_cannot_be_told(world: World) -> None:
    platform = world.runtime.platform
    write_record(world.runtime.engine, platform.vault, "r-5", {"analytics": False}, sealed=False)
    propagation.begin(platform, "r-5")
    with pytest.raises(RightsflowError, match="not kept"):
        propagation.tell(platform, "r-5", "orders-svc")
    assert world.orders.posts == 0


def test_the_deliveries_route_shows_the_outcomes_and_the_receipt(world: World) -> None:
    platform = world.runtime.platform
    write_record(world.runtime.engine, platform.vault, "r-6", {"analytics": False})
    propagation.begin(platform, "r-6")
    propagation.tell(platform, "r-6", "orders-svc")
    propagation.finish(platform, "r-6")
    token = "owner-token-for-this-test-0123456789"
    deps = ApiDeps(
        platform=platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda given: given == token,
        readiness=all_ok,
    )
    with TestClient(create_app(world.runtime.settings, deps)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        found = client.get("/api/v1/consent/records/r-6/deliveries", headers=auth)
        missing = client.get("/api/v1/consent/records/nope/deliveries", headers=auth)
    assert found.status_code == 200
    body = found.json()
    assert [(d["system"], d["status"]) for d in body["deliveries"]] == [("orders-svc", CONFIRMED)]
    assert verify_document(body["receipt"]).valid
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


def _break_vendor(tmp_path: Path, mapdir: Path, url: str) -> Path:
    """A saas system `news` with its own copy of the SendGrid vendor file (valid when the
    runtime starts); returns the file, to be broken afterwards."""
    vendor = tmp_path / "news-vendor.yml"
    vendor.write_text((SAMPLE_SAAS / "sendgrid.yml").read_text())
    add_system(
        mapdir,
        {
            "key": "news",
            "connector": "saas",
            "datasets": [],
            "config": {
                "vendor": str(vendor),
                "base_url": url,
                "secrets": {"api_key": SENDGRID_KEY},
                "allow_private_network": True,
                "retries": {"attempts": 1},
            },
        },
        "news.yml",
        "dataset: []\n",
    )
    return vendor


def test_a_system_whose_connector_cannot_be_opened_fails_alone_and_can_be_retried(
    world: World, tmp_path: Path
) -> None:
    vendor = _break_vendor(tmp_path, tmp_path / "datamap", "http://127.0.0.1:9")
    runtime = build_runtime(world.runtime.settings)
    try:
        platform = runtime.platform
        assert isinstance(platform.connectors, ConnectorPool)
        assert platform.connectors.declares("news", "consent") is True
        assert platform.connectors.declares("shop", "consent") is False
        # The vendor file now needs a secret the system's config does not give.
        vendor.write_text(vendor.read_text().replace("api_key", "api_token"))
        write_record(
            runtime.engine, platform.vault, "r-7", {"advertising": False}, subject=("email", EMAIL)
        )
        assert propagation.begin(platform, "r-7") == ["mail", "orders-svc"]  # still told
        assert propagation.tell(platform, "r-7", "news") == FAILED  # not tried again by itself
        deliveries, _ = propagation.deliveries_of(platform, "r-7")
        news = next(d for d in deliveries if d.system == "news")
        assert (news.status, news.attempts) == (FAILED, 0)
        assert news.failure is not None
        assert "connector could not be opened" in news.failure
        assert "secrets: missing api_token" in news.failure
        assert SENDGRID_KEY not in news.failure
        assert EMAIL not in news.failure
        audited = _audit(world, "r-7")
        assert ("consent.delivery_failed", {"system": "news", "reason": news.failure}) in audited
        assert ("consent.propagation_started", {"systems": ["mail", "news", "orders-svc"]}) in (
            audited
        )
        mails = [m.read_text() for m in runtime.settings.outbox_dir.glob("*.eml")]
        assert any("news failed" in m for m in mails)
        # Still broken when retried: counted, and refused as a connector failure.
        assert propagation.retry(platform, "r-7", ["news"], "ops") == (["news"], 1)
        with pytest.raises(ConnectorFailure, match="could not be opened"):
            propagation.tell(platform, "r-7", "news")
        (again,) = [d for d in propagation.deliveries_of(platform, "r-7")[0] if d.system == "news"]
        assert (again.status, again.attempts) == (PENDING, 1)
    finally:
        runtime.close()


class _Started:
    """The ConsentPropagator port, recording what it was asked to start."""

    def __init__(self) -> None:
        self.retries: list[tuple[str, int, list[str]]] = []

    async def propagate(self, record_id: str) -> None:
        raise AssertionError(f"not expected: {record_id}")

    async def retry(self, record_id: str, run: int, systems: Sequence[str]) -> None:
        self.retries.append((record_id, run, list(systems)))


def test_the_retry_route_resets_failed_deliveries_only(world: World) -> None:
    started = _Started()
    platform = dataclasses.replace(world.runtime.platform, consent_propagator=started)
    write_record(world.runtime.engine, platform.vault, "r-8", {"advertising": False},
                 subject=("email", EMAIL))  # fmt: skip
    propagation.begin(platform, "r-8")
    assert propagation.tell(platform, "r-8", "orders-svc") == CONFIRMED
    world.mail.faults.fail_next(503)  # the vendor's one try
    with pytest.raises(ConnectorFailure):
        propagation.tell(platform, "r-8", "mail")
    propagation.give_up(platform, "r-8", "mail", "down")
    token = "owner-token-for-this-test-0123456789"
    deps = ApiDeps(
        platform=platform,
        workflows=RecordingStarter(),
        token_is_valid=lambda given: given == token,
        readiness=all_ok,
    )
    url = "/api/v1/consent/records/{}/deliveries/retry"
    with TestClient(create_app(world.runtime.settings, deps)) as client:
        auth = {"Authorization": f"Bearer {token}"}
        unknown = client.post(url.format("nope"), headers=auth)
        confirmed_only = client.post(
            url.format("r-8"), json={"systems": ["orders-svc"]}, headers=auth
        )
        stranger = client.post(url.format("r-8"), json={"systems": ["shop"]}, headers=auth)
        first = client.post(url.format("r-8"), headers=auth)
        second = client.post(url.format("r-8"), headers=auth)
    assert unknown.status_code == 404
    assert confirmed_only.status_code == 409
    assert stranger.status_code == 422
    assert "systems[0]" in stranger.json()["detail"]
    assert first.status_code == 202, first.text
    assert first.json() == {"record_id": "r-8", "systems": ["mail"], "run": 1}
    assert second.status_code == 409  # nothing failed any more: the run tells it
    assert started.retries == [("r-8", 1, ["mail"])]
    deliveries, _ = propagation.deliveries_of(platform, "r-8")
    assert {d.system: d.status for d in deliveries} == {"mail": PENDING, "orders-svc": CONFIRMED}
    assert propagation.tell(platform, "r-8", "mail") == CONFIRMED
    assert propagation.tell(platform, "r-8", "orders-svc") == CONFIRMED
    assert world.orders.posts == 1  # the confirmed system was not told twice
    retried = [d for a, d in _audit(world, "r-8") if a == "consent.delivery_retried"]
    assert retried == [{"systems": ["mail"], "run": 1}]
