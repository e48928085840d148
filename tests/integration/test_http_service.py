"""The `http_service` connector against a real service built with `rightsflow.sdk`."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI, Request

from rightsflow.connectors.http_service import HttpServiceConfig, HttpServiceConnector
from rightsflow.domain.connector import Callback, SystemCall
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.sdk.models import AccessResult, CallbackBody
from rightsflow.sdk.signing import HEADER, sign
from rightsflow.services import execution, requests
from tests.support.erasure_checks import platform_for, run_request
from tests.support.http_server import serve
from tests.support.privacy_service import (
    DATASET_YAML,
    SECRET,
    Shipments,
    service_app,
    shipments_for,
)

EMAIL = "subject@example.com"


Connect = Callable[..., HttpServiceConnector]


@pytest.fixture
def connector() -> Iterator[Connect]:
    opened: list[HttpServiceConnector] = []

    def connect(url: str, **config: object) -> HttpServiceConnector:
        settings = {"url": f"{url}/privacy/v1", "secret": SECRET, "backoff_s": 0.01, **config}
        settings.setdefault("allow_private_network", True)  # the test services are on 127.0.0.1
        opened.append(HttpServiceConnector(HttpServiceConfig.model_validate(settings)))
        return opened[-1]

    yield connect
    for c in opened:
        c.close()


def question(operation: str, request_id: str = "req-1") -> SystemCall:
    return SystemCall(
        request_id=request_id,
        system="orders-service",
        operation=operation,
        collections=(),
        identities={"email": EMAIL},
        keys={},
        callback=Callback("http://127.0.0.1:9/cb", "t" * 32),
    )


@pytest.fixture
def data() -> Shipments:
    return shipments_for([EMAIL, "other@example.com"])


@pytest.fixture
def service(data: Shipments) -> Iterator[str]:
    with serve(service_app(data)) as url:
        yield url


def test_access_and_erase_answer_at_once(service: str, data: Shipments, connector: Connect) -> None:
    c = connector(service)
    rows = c.call(question("access")).rows["shipments"]
    assert sorted(r["id"] for r in rows) == [0, 1]
    assert c.call(question("erase")).counts == {"shipments": 2}
    assert data.of(EMAIL) == []
    assert len(data.of("other@example.com")) == 2
    # The same request again is answered from the service's store: nothing erased twice.
    assert c.call(question("erase")).counts == {"shipments": 2}
    c.check()


def test_5xx_and_timeouts_are_retried_then_succeed(
    service: str, data: Shipments, connector: Connect
) -> None:
    data.faults = ["500", "503"]
    answer = connector(service, max_attempts=3).call(question("access"))
    assert len(answer.rows["shipments"]) == 2
    assert data.calls == ["access"] * 3


def test_5xx_every_time_fails_retryable_after_the_attempts(
    service: str, data: Shipments, connector: Connect
) -> None:
    data.faults = ["502"] * 5
    with pytest.raises(ConnectorFailure) as failure:
        connector(service, max_attempts=4).call(question("access"))
    assert failure.value.retryable
    assert "HTTP 502" in str(failure.value)
    assert "4 attempt" in str(failure.value)
    assert data.calls == ["access"] * 4


def test_4xx_is_not_retried(service: str, data: Shipments, connector: Connect) -> None:
    data.faults = ["404"]
    with pytest.raises(ConnectorFailure) as failure:
        connector(service, max_attempts=5).call(question("erase"))
    assert not failure.value.retryable
    assert "HTTP 404" in str(failure.value)
    assert data.calls == ["erase"]


def test_a_wrong_secret_is_refused_by_the_service(
    service: str, data: Shipments, connector: Connect
) -> None:
    bad = connector(service, secret="another-secret-0123456789")
    with pytest.raises(ConnectorFailure, match="HTTP 401") as failure:
        bad.call(question("erase"))
    assert not failure.value.retryable
    assert len(data.of(EMAIL)) == 2


def test_timeouts_are_retried(data: Shipments, connector: Connect) -> None:
    data.faults = ["hang"]
    with serve(service_app(data)) as url:
        answer = connector(url, timeout_s=0.5, max_attempts=2).call(question("access"))
    assert len(answer.rows["shipments"]) == 2


def test_garbage_is_a_failure_that_quotes_nothing(
    service: str, data: Shipments, connector: Connect
) -> None:
    data.faults = ["garbage"]
    with pytest.raises(ConnectorFailure) as failure:
        connector(service).call(question("access"))
    assert "not a v1 result" in str(failure.value)
    assert "not a mapping" not in str(failure.value)
    assert EMAIL not in str(failure.value)


def test_slow_work_is_accepted_and_called_back_signed(data: Shipments, connector: Connect) -> None:
    received: list[tuple[bytes, dict[str, str]]] = []
    inbox = FastAPI()

    @inbox.post("/cb")
    async def callback(request: Request) -> dict[str, str]:
        received.append((await request.body(), dict(request.headers)))
        return {"status": "ok"}

    with serve(inbox) as inbox_url, serve(service_app(data, slow=True)) as url:
        c = connector(url)
        ask = replace(question("erase"), callback=Callback(f"{inbox_url}/cb", "t" * 32))
        assert c.call(ask).pending
        deadline = time.monotonic() + 10
        while not received and time.monotonic() < deadline:
            time.sleep(0.05)
    ((body, headers),) = received
    assert headers["authorization"] == "Bearer " + "t" * 32
    answer = c.read_callback(body, headers)
    assert answer.about == ("req-1", "orders-service", "erase")
    assert answer.counts == {"shipments": 2}


def test_concurrency_is_capped_per_system(data: Shipments, connector: Connect) -> None:
    with serve(service_app(data, delay_s=0.2)) as url:
        c = connector(url, max_concurrency=2)
        threads = [
            threading.Thread(target=c.call, args=(question("access", f"r{i}"),)) for i in range(6)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert len(data.calls) == 6
    assert data.most_in_flight == 2


def test_the_rate_limit_spaces_calls(service: str, data: Shipments, connector: Connect) -> None:
    c = connector(service, rate_per_s=10)
    started = time.monotonic()
    for i in range(6):
        c.call(question("access", f"r{i}"))
    # One call may go at once, the other five wait a tenth of a second each.
    assert time.monotonic() - started >= 0.45
    assert len(data.calls) == 6


def _callback(body: CallbackBody, secret: str = SECRET) -> tuple[bytes, dict[str, str]]:
    raw = body.model_dump_json().encode()
    return raw, {HEADER.lower(): sign(secret.encode(), raw)}


def test_a_callback_is_read_only_with_the_services_signature(connector: Connect) -> None:
    c = connector("http://127.0.0.1:9")
    body = CallbackBody(
        request_id="req-1",
        system="orders-service",
        operation="access",
        result=AccessResult(rows={"shipments": [{"id": 1}]}),
    )
    raw, headers = _callback(body)
    answer = c.read_callback(raw, headers)
    assert answer.about == ("req-1", "orders-service", "access")
    assert answer.rows == {"shipments": [{"id": 1}]}
    forged, forged_headers = _callback(body, secret="not-the-shared-secret-000")
    with pytest.raises(ConnectorFailure, match="bad signature"):
        c.read_callback(forged, forged_headers)
    with pytest.raises(ConnectorFailure, match="bad signature"):
        c.read_callback(raw + b" ", headers)  # altered after signing
    with pytest.raises(ConnectorFailure, match="not a Privacy Service API callback"):
        c.read_callback(b"{}", {HEADER.lower(): sign(SECRET.encode(), b"{}")})


def test_config_refuses_bad_urls_and_short_secrets() -> None:
    with pytest.raises(ValueError, match="http"):
        HttpServiceConfig(url="ftp://x", secret=SECRET)
    with pytest.raises(ValueError, match="at least 16"):
        HttpServiceConfig(url="http://x", secret="short")


def test_inline_requests_ask_the_service_and_verify_the_erase(
    service: str, data: Shipments, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDERS_SECRET", SECRET)
    system = {
        "key": "orders-service",
        "connector": "http_service",
        "datasets": ["orders_service"],
        "config": {
            "url": f"{service}/privacy/v1",
            "secret": "${ORDERS_SECRET}",
            "allow_private_network": True,  # the test service listens on 127.0.0.1
        },
    }
    files = {
        "orders_service.yml": DATASET_YAML,
        "systems.yml": yaml.safe_dump({"systems": [system]}),
    }
    with platform_for(tmp_path, files) as platform:
        access = run_request(
            platform, requests.NewRequest("access", {"email": EMAIL}, "gdpr", verified=True)
        )
        found = execution.rows_found(platform, access.request_id, "orders_service:shipments")
        erasure = run_request(
            platform, requests.NewRequest("erasure", {"email": EMAIL}, "gdpr", verified=True)
        )
    assert access.status == "completed"
    assert len(found) == 2
    assert erasure.status == "completed", erasure.failure
    assert erasure.receipt is not None
    assert erasure.receipt.verified
    (line,) = erasure.receipt.lines
    assert (line.rows_found, line.recheck) == (2, "verified")
    assert data.of(EMAIL) == []
    assert data.calls == ["access", "access", "erase", "access"]
