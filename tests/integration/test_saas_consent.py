"""The `saas` connector's consent call: the shipped SendGrid vendor file against a server shaped
like SendGrid (global unsubscribe list, suppression lists), over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from rightsflow.connectors.base import ConsentNotice, ConsentReceiver
from rightsflow.connectors.saas import SaasConfig, SaasConnector
from rightsflow.connectors.saas_spec import parse_vendor
from rightsflow.domain.errors import ConnectorFailure, InvalidInput
from rightsflow.domain.plan import PlanNode
from tests.support.http_server import serve
from tests.support.saas_servers import SENDGRID_KEY, SendgridState, sendgrid_app

EMAIL = "ada@example.test"
FAST = {"attempts": 3, "backoff": 0.01, "max_backoff": 0.05}


@pytest.fixture
def sendgrid() -> Iterator[tuple[SendgridState, str]]:
    state = SendgridState()
    with serve(sendgrid_app(state)) as url:
        yield state, url


@pytest.fixture
def opened() -> Iterator[list[SaasConnector]]:
    made: list[SaasConnector] = []
    yield made
    for connector in made:
        connector.close()


def _connector(made: list[SaasConnector], url: str, **extra: Any) -> SaasConnector:
    config = {
        "vendor": "sendgrid",
        "base_url": url,
        "secrets": {"api_key": extra.pop("key", SENDGRID_KEY)},
        "retries": FAST,
        "allow_private_network": True,
        **extra,
    }
    connector = SaasConnector(SaasConfig.model_validate(config))
    made.append(connector)
    return connector


def _notice(record_id: str = "rec-1", **purposes: bool) -> ConsentNotice:
    return ConsentNotice(
        record_id=record_id,
        system="mail",
        identities={"email": EMAIL},
        purposes=purposes or {"advertising": False, "analytics": True},
        source="preferences",
        regime="gdpr",
        recorded_at=datetime(2026, 11, 25, tzinfo=UTC),
    )


def test_the_vendor_is_told_about_withdrawals_of_its_purposes_only(
    sendgrid: tuple[SendgridState, str], opened: list[SaasConnector]
) -> None:
    _state, url = sendgrid
    connector = _connector(opened, url)
    assert isinstance(connector, ConsentReceiver)
    assert connector.wants_consent("email", frozenset({"advertising"}))
    assert not connector.wants_consent("email", frozenset({"analytics"}))
    assert not connector.wants_consent("device_id", frozenset({"advertising"}))
    assert not _connector(opened, url, consent=False).wants_consent(
        "email", frozenset({"advertising"})
    )
    mine = _connector(opened, url, consent_purposes=["marketing_email"])
    assert mine.wants_consent("email", frozenset({"marketing_email"}))
    assert not mine.wants_consent("email", frozenset({"advertising"}))


def test_an_opt_out_joins_the_global_unsubscribe_list_once(
    sendgrid: tuple[SendgridState, str], opened: list[SaasConnector]
) -> None:
    state, url = sendgrid
    connector = _connector(opened, url)
    first = connector.tell_consent(_notice())
    again = connector.tell_consent(_notice())
    assert first.confirmed
    assert again.confirmed
    assert state.unsubscribed == [EMAIL]
    assert state.faults.count("POST", "/v3/asm/suppressions/global") == 2


def test_a_vendor_down_for_a_moment_is_retried_and_a_refusal_is_final(
    sendgrid: tuple[SendgridState, str], opened: list[SaasConnector]
) -> None:
    state, url = sendgrid
    state.faults.fail_next(503, times=2)
    assert _connector(opened, url).tell_consent(_notice()).confirmed
    assert state.posts == 1
    state.faults.fail_next(503, times=3)
    with pytest.raises(ConnectorFailure) as down:
        _connector(opened, url).tell_consent(_notice("rec-2"))
    assert down.value.retryable
    with pytest.raises(ConnectorFailure) as refused:
        _connector(opened, url, key="SG.wrong-key-0000").tell_consent(_notice("rec-3"))
    assert not refused.value.retryable
    assert EMAIL not in str(refused.value)
    assert EMAIL not in str(down.value)


def test_the_suppression_lists_are_read_and_erased_by_email(
    sendgrid: tuple[SendgridState, str], opened: list[SaasConnector]
) -> None:
    state, url = sendgrid
    state.bounces[EMAIL] = {"email": EMAIL, "reason": "550 mailbox full", "status": "5.2.2"}
    node = PlanNode(
        address="mail:bounces",
        system="mail",
        connector="saas",
        wave=0,
        primary_key=("email",),
        identity_inputs=(),
        edge_inputs=(),
        targets=(),
        fetch_fields=("email", "reason"),
        action="return",
    )
    connector = _connector(opened, url)
    assert connector.retrieve(node, {"email": [EMAIL]}) == [
        {"email": EMAIL, "reason": "550 mailbox full"}
    ]
    assert connector.delete(node, [{"email": EMAIL}]) == 1
    assert state.bounces == {}


def test_a_consent_call_may_only_use_its_identity_and_the_record_id() -> None:
    text = """\
name: acme
base_url: https://api.acme.test
auth: {kind: none}
check: {path: /ping}
collections:
  users:
    primary_key: [id]
    read: [{by: id, path: "/users/{id}"}]
consent:
  by: email
  purposes: [advertising]
  path: /optout/{user_id}
  body: {key: "{record_id}", who: "{email}"}
"""
    with pytest.raises(InvalidInput) as bad:
        parse_vendor(text)
    assert "line 12: consent.path: unknown placeholder {user_id}" in str(bad.value)
    vendor = parse_vendor(text.replace("/optout/{user_id}", "/optout"))
    assert vendor.consent is not None
    assert vendor.consent.by == "email"
