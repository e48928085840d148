"""The SSRF guard on real outbound HTTP: connectors, the OAuth2 token URL, DRP status callbacks
and the DRP directory refuse 127.0.0.1 (and names resolving to it) until the config allows it,
and nothing reaches the server before that."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rightsflow.connectors.http_service import HttpServiceConfig, HttpServiceConnector
from rightsflow.connectors.saas import SaasConfig, SaasConnector
from rightsflow.connectors.ssrf import AddressRefused, guarded_transport
from rightsflow.domain.connector import SystemCall
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.storage.drp_directory import url_source
from rightsflow.workflows.drp_activities import HttpStatusPoster
from tests.support.drp_stack import callback_inbox
from tests.support.http_server import serve
from tests.support.privacy_service import SECRET, Shipments, service_app, shipments_for
from tests.support.saas_servers import OKTA_CLIENT, OktaState, okta_app

EMAIL = "subject@example.com"
ASK = SystemCall(
    request_id="req-1",
    system="orders-service",
    operation="erase",
    collections=(),
    identities={"email": EMAIL},
    keys={},
)


@pytest.fixture
def shipments() -> Shipments:
    return shipments_for([EMAIL])


@pytest.fixture
def service(shipments: Shipments) -> Iterator[str]:
    with serve(service_app(shipments)) as url:
        yield url


def http_service(url: str, **config: Any) -> HttpServiceConnector:
    settings = {"url": f"{url}/privacy/v1", "secret": SECRET, "max_attempts": 1, **config}
    return HttpServiceConnector(HttpServiceConfig.model_validate(settings))


def test_a_service_on_loopback_is_refused_without_the_allow(
    service: str, shipments: Shipments
) -> None:
    connector = http_service(service)
    with pytest.raises(AddressRefused) as refused:
        connector.call(ASK)
    connector.close()
    assert refused.value.rule == "loopback"
    assert not refused.value.retryable
    assert "allow_private_network" in str(refused.value)
    assert shipments.calls == []  # nothing reached the service


def test_a_name_that_resolves_to_loopback_is_refused_and_not_disclosed(
    service: str, shipments: Shipments
) -> None:
    by_name = service.replace("127.0.0.1", "localhost")
    connector = http_service(by_name)
    with pytest.raises(AddressRefused) as refused:
        connector.call(ASK)
    connector.close()
    message = str(refused.value)
    assert message.startswith("localhost: refused by the outbound address guard (loopback")
    assert "127.0.0.1" not in message  # the name configured, never what it resolved to
    assert shipments.calls == []


def test_with_the_allow_the_same_service_is_called(service: str, shipments: Shipments) -> None:
    connector = http_service(service.replace("127.0.0.1", "localhost"), allow_private_network=True)
    try:
        assert connector.call(ASK).counts == {"shipments": 2}
    finally:
        connector.close()
    assert shipments.of(EMAIL) == []


def test_a_saas_oauth2_token_url_on_loopback_is_refused_without_the_allow() -> None:
    state = OktaState()
    secrets = {"client_id": OKTA_CLIENT[0], "client_secret": OKTA_CLIENT[1]}
    with serve(okta_app(state)) as url:
        config = {"vendor": "okta", "base_url": url, "secrets": secrets}
        refused = SaasConnector(SaasConfig.model_validate(config))
        with pytest.raises(AddressRefused):
            refused.check()  # the first request is the token request
        refused.close()
        assert state.tokens == {}
        allowed = SaasConnector(
            SaasConfig.model_validate({**config, "allow_private_network": True})
        )
        allowed.check()
        allowed.close()
    assert len(state.tokens) == 1


def test_a_drp_status_callback_to_loopback_is_refused_unless_allowed() -> None:
    with callback_inbox() as (inbox, url):
        with pytest.raises(ConnectorFailure, match="drp_allow_private_network") as refused:
            HttpStatusPoster().post(url, {"status": "open"})
        assert not refused.value.retryable
        assert inbox.received == []
        assert HttpStatusPoster(allow_private_network=True).post(url, {"status": "open"}) == 200
    assert len(inbox.received) == 1


def test_the_drp_directory_url_passes_the_guard() -> None:
    with callback_inbox() as (_, url):  # any local server: the guard refuses before any request
        fetch = url_source(url, transport=guarded_transport(allow_private=False))
        with pytest.raises(AddressRefused):
            fetch()
