"""The `saas` connector against real HTTP servers started here (uvicorn, in a thread): the
connector contract over a vendor file, and the shipped Stripe and Okta vendor files against
servers shaped like those APIs (auth, pagination, errors, rate limits)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rightsflow.connectors.base import RowChange
from rightsflow.connectors.registry import ConnectorRegistry
from rightsflow.connectors.saas import SAAS_CONNECTOR, SaasConfig, SaasConnector
from rightsflow.connectors.testing import run_contract
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import PlanNode
from tests.support.http_server import serve
from tests.support.saas_contract import API_KEY, VENDOR, Store, contract_app
from tests.support.saas_servers import (
    OKTA_CLIENT,
    STRIPE_KEY,
    OktaState,
    StripeState,
    okta_app,
    stripe_app,
)

FAST = {"attempts": 3, "backoff": 0.01, "max_backoff": 0.05}
_OPEN: list[SaasConnector] = []


@pytest.fixture(autouse=True)
def _close_connectors() -> Iterator[None]:
    """Every connector a test builds is closed after it (open sockets warn, warnings fail)."""
    yield
    while _OPEN:
        _OPEN.pop().close()


def opened(config: dict[str, Any] | SaasConfig) -> SaasConnector:
    # The test APIs listen on 127.0.0.1: the SSRF guard refuses that unless the config allows it.
    local = {"allow_private_network": True}
    model = config if isinstance(config, SaasConfig) else SaasConfig.model_validate(local | config)
    connector = SaasConnector(model)
    _OPEN.append(connector)
    return connector


def node(collection: str, fetch: tuple[str, ...] = (), key: tuple[str, ...] = ("id",)) -> PlanNode:
    return PlanNode(
        address=f"app:{collection}",
        system="app",
        connector="saas",
        wave=0,
        primary_key=key,
        identity_inputs=(),
        edge_inputs=(),
        targets=(),
        fetch_fields=fetch,
        action="return",
    )


@pytest.fixture
def stripe() -> Iterator[tuple[StripeState, str]]:
    state = StripeState()
    with serve(stripe_app(state)) as url:
        yield state, url


@pytest.fixture
def okta() -> Iterator[tuple[OktaState, str]]:
    state = OktaState()
    with serve(okta_app(state)) as url:
        yield state, url


def stripe_connector(url: str, key: str = STRIPE_KEY, **extra: Any) -> SaasConnector:
    config = {"vendor": "stripe", "base_url": url, "secrets": {"api_key": key}, **extra}
    return opened({"retries": FAST, **config})


def okta_connector(url: str, secret: str = OKTA_CLIENT[1]) -> SaasConnector:
    secrets = {"client_id": OKTA_CLIENT[0], "client_secret": secret}
    fast = {"per_second": 1000, "burst": 100}  # okta.yml allows 10/s: not what is tested here
    config = {
        "vendor": "okta",
        "base_url": url,
        "secrets": secrets,
        "retries": FAST,
        "rate_limit": fast,
    }
    return opened(config)


# -- the contract ---------------------------------------------------------------------------


def test_saas_connector_passes_the_contract(tmp_path: Path) -> None:
    vendor = tmp_path / "contract.yml"
    vendor.write_text(VENDOR)
    store = Store()
    with serve(contract_app(store)) as url:
        config = SaasConfig(
            vendor=str(vendor), base_url=url, secrets={"key": API_KEY}, allow_private_network=True
        )
        run_contract(opened(config), store.seed, store.read_all, chunk_size=4)


# -- Stripe: bearer key, cursor pages, form updates -------------------------------------------


def test_cursor_pages_are_followed_lazily(stripe: tuple[StripeState, str]) -> None:
    state, url = stripe
    ids = [state.add_customer("shared@example.com", name=f"N{i}") for i in range(230)]
    state.add_customer("other@example.com")
    connector = stripe_connector(url)
    pages = connector.retrieve_pages(node("customers", ("id", "name")), {"email": [
        "shared@example.com"]}, 40)  # fmt: skip
    first = next(pages)
    assert len(first) == 40
    assert state.faults.count("GET", "/v1/customers") == 1  # one Stripe page of 100 so far
    rest = [row for page in pages for row in page]
    assert [row["id"] for row in [*first, *rest]] == ids
    assert state.faults.count("GET", "/v1/customers") == 3  # 100 + 100 + 30


def test_mask_sends_form_values_and_a_repeat_changes_nothing(
    stripe: tuple[StripeState, str],
) -> None:
    state, url = stripe
    alice = state.add_customer("alice@example.com", name="Alice", phone="+15550100")
    bob = state.add_customer("bob@example.com", name="Bob", phone="+15550101")
    connector = stripe_connector(url)
    change = RowChange({"id": alice}, {"name": "[masked]", "phone": None})
    assert connector.mask(node("customers"), [change, RowChange({"id": "cus_nope"}, {})]) == 1
    assert state.customers[alice]["name"] == "[masked]"
    assert state.customers[alice]["phone"] is None
    assert state.customers[bob]["name"] == "Bob"
    posts = state.faults.count("POST")
    assert connector.mask(node("customers"), [change]) == 0
    assert state.faults.count("POST") == posts  # already masked: nothing sent


def test_delete_counts_rows_that_existed_and_deleted_stubs_are_gone(
    stripe: tuple[StripeState, str],
) -> None:
    state, url = stripe
    alice = state.add_customer("alice@example.com")
    connector = stripe_connector(url)
    keys = [{"id": alice}, {"id": "cus_unknown"}]
    assert connector.delete(node("customers"), keys) == 1
    assert connector.delete(node("customers"), keys) == 0  # 404 resource_missing: gone
    # Stripe still answers GET /v1/customers/{id} for a deleted customer ({"deleted": true}).
    assert connector.fetch_by_keys(node("customers"), keys) == []
    assert connector.retrieve(node("customers"), {"id": [alice]}) == []


def test_an_api_ignoring_a_filter_cannot_widen_the_rows(
    stripe: tuple[StripeState, str], tmp_path: Path
) -> None:
    state, url = stripe
    state.add_customer("alice@example.com")
    for i in range(5):
        state.add_customer(f"user{i}@example.com")
    # The shipped file with a misspelt filter, which the API ignores (it lists everybody):
    text = SaasConfig(vendor="stripe", base_url=url, secrets={"api_key": "x"}).vendor_path()
    vendor = tmp_path / "typo.yml"
    vendor.write_text(text.read_text().replace("{email: ", "{emial: "))
    config = SaasConfig(
        vendor=str(vendor),
        base_url=url,
        secrets={"api_key": STRIPE_KEY},
        allow_private_network=True,
    )
    rows = opened(config).retrieve(node("customers", ("email",)), {
        "email": ["alice@example.com"]})  # fmt: skip
    assert rows == [{"email": "alice@example.com"}]


# -- failures -------------------------------------------------------------------------------


def test_429_waits_for_retry_after(stripe: tuple[StripeState, str]) -> None:
    state, url = stripe
    alice = state.add_customer("alice@example.com")
    state.faults.fail_next(429, retry_after="1")
    started = time.monotonic()
    rows = stripe_connector(url).fetch_by_keys(node("customers", ("id",)), [{"id": alice}])
    assert rows == [{"id": alice}]
    assert time.monotonic() - started >= 0.95
    assert state.faults.count("GET") == 2


def test_a_retry_after_beyond_the_cap_fails_retryable_at_once(
    stripe: tuple[StripeState, str],
) -> None:
    state, url = stripe
    state.faults.fail_next(429, retry_after="3600")
    with pytest.raises(ConnectorFailure, match="HTTP 429: rate limited") as caught:
        stripe_connector(url).retrieve(node("customers"), {"id": ["cus_1"]})
    assert caught.value.retryable
    assert state.faults.count("GET") == 1


def test_5xx_is_retried_then_fails_retryable(stripe: tuple[StripeState, str]) -> None:
    state, url = stripe
    alice = state.add_customer("alice@example.com")
    state.faults.fail_next(503, times=2)
    connector = stripe_connector(url)
    assert len(connector.fetch_by_keys(node("customers"), [{"id": alice}])) == 1
    assert state.faults.count("GET") == 3
    state.faults.fail_next(500, times=5)
    with pytest.raises(ConnectorFailure) as caught:
        connector.retrieve(node("customers"), {"email": ["alice@example.com"]})
    assert caught.value.retryable
    assert str(caught.value) == "stripe customers.read: HTTP 500 after 3 attempt(s)"
    assert state.faults.count("GET") == 6


def test_other_4xx_is_not_retried(stripe: tuple[StripeState, str]) -> None:
    state, url = stripe
    state.faults.fail_next(400, times=3)
    with pytest.raises(ConnectorFailure) as caught:
        stripe_connector(url).retrieve(node("customers"), {"email": ["alice@example.com"]})
    assert not caught.value.retryable
    assert state.faults.count("GET") == 1
    assert "alice" not in str(caught.value)


def test_secrets_and_identities_stay_out_of_errors(stripe: tuple[StripeState, str]) -> None:
    _, url = stripe
    wrong = "sk_test_wrong_but_secret_value"
    connector = stripe_connector(url, key=wrong)
    for call in (
        connector.check,
        lambda: connector.retrieve(node("customers"), {"id": ["cus_alice@example.com"]}),
    ):
        with pytest.raises(ConnectorFailure) as caught:
            call()
        text = f"{caught.value} {caught.value!r} {caught.value.__cause__}"
        assert "HTTP 401" in text
        assert wrong not in text
        assert "alice" not in text
        assert url not in text
        assert not caught.value.retryable
    config = SaasConfig(vendor="stripe", base_url=url, secrets={"api_key": wrong})
    assert wrong not in f"{config!r} {config}"
    problems = ConnectorRegistry([SAAS_CONNECTOR]).validate_config(
        "saas", {"vendor": "stripe", "secrets": {"api_key": wrong, "extra": wrong}}
    )
    assert problems
    assert wrong not in " ".join(problems)


def test_unreachable_is_retryable() -> None:
    connector = stripe_connector("http://127.0.0.1:9")
    with pytest.raises(ConnectorFailure, match="unreachable after 3") as caught:
        connector.check()
    assert caught.value.retryable


def test_rate_limit_spaces_requests(stripe: tuple[StripeState, str]) -> None:
    state, url = stripe
    connector = stripe_connector(url, rate_limit={"per_second": 20, "burst": 1})
    started = time.monotonic()
    for _ in range(11):
        connector.check()
    assert time.monotonic() - started >= 0.45  # 10 waits of 1/20 s after the first
    assert state.faults.count("GET", "/v1/balance") == 11


def test_secrets_from_a_file_and_the_environment(
    stripe: tuple[StripeState, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = stripe
    secret = tmp_path / "stripe-key"
    secret.write_text(STRIPE_KEY + "\n")
    stripe_connector(url, secrets={"api_key": {"file": str(secret)}}).check()
    monkeypatch.setenv("TEST_STRIPE_KEY", STRIPE_KEY)
    stripe_connector(url, secrets={"api_key": {"env": "TEST_STRIPE_KEY"}}).check()
    monkeypatch.delenv("TEST_STRIPE_KEY")
    with pytest.raises(ConnectorFailure, match="environment variable not set"):
        stripe_connector(url, secrets={"api_key": {"env": "TEST_STRIPE_KEY"}})


# -- Okta: OAuth2 client credentials, Link pages, nested profile, two-step delete -------------


def test_oauth_token_is_cached_and_refreshed_on_expiry_and_on_401(
    okta: tuple[OktaState, str],
) -> None:
    state, url = okta
    state.token_ttl = 1
    uid = state.add_user("ada@example.com")
    connector = okta_connector(url)
    users = node("users", ("id",))
    for _ in range(3):
        assert connector.fetch_by_keys(users, [{"id": uid}]) == [{"id": uid}]
    assert state.faults.count("POST", "/oauth2/v1/token") == 1
    time.sleep(1.0)  # the token expires; the client renews it shortly before (no 401)
    assert connector.fetch_by_keys(users, [{"id": uid}]) == [{"id": uid}]
    assert state.faults.count("POST", "/oauth2/v1/token") == 2
    state.token_ttl = 3600
    state.revoke_tokens()  # revoked server-side: one 401, one new token, the request again
    assert connector.fetch_by_keys(users, [{"id": uid}]) == [{"id": uid}]
    assert state.faults.count("POST", "/oauth2/v1/token") == 3
    assert state.faults.count("GET", "/api/v1/users") == 6


def test_threads_share_one_token(okta: tuple[OktaState, str]) -> None:
    state, url = okta
    uid = state.add_user("ada@example.com")
    connector = okta_connector(url)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(5):
                assert connector.fetch_by_keys(node("users"), [{"id": uid}])
        except BaseException as exc:  # reported below, on the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert state.faults.count("POST", "/oauth2/v1/token") == 1
    assert state.faults.count("GET", "/api/v1/users") == 30


def test_a_refused_client_fails_check_without_echoing_it(okta: tuple[OktaState, str]) -> None:
    _, url = okta
    with pytest.raises(ConnectorFailure) as caught:
        okta_connector(url, secret="wrong-client-secret").check()
    assert str(caught.value) == "okta token request: HTTP 401"
    assert not caught.value.retryable
    okta_connector(url).check()


def test_link_pages_dotted_lookups_nested_mask_and_two_step_delete(
    okta: tuple[OktaState, str],
) -> None:
    state, url = okta
    uid = state.add_user("ada@example.com")
    state.add_user("grace@example.com")
    grants = [state.add_grant(uid, f"app{i}") for i in range(450)]
    connector = okta_connector(url)
    users = node("users", ("id", "profile"))
    found = connector.retrieve(users, {"profile.email": ["ada@example.com"]})
    assert [row["id"] for row in found] == [uid]
    user_grants = node("user_grants", ("id",), key=("userId", "id"))
    pages = list(connector.retrieve_pages(user_grants, {"userId": [uid]}, 100))
    assert [row["id"] for page in pages for row in page] == grants
    assert state.faults.count("GET", f"/api/v1/users/{uid}/grants") == 3  # 200 + 200 + 50
    profile = {**found[0]["profile"], "firstName": "[masked]", "lastName": "[masked]"}
    change = RowChange({"id": uid}, {"profile": profile})
    assert connector.mask(users, [change]) == 1
    assert state.users[uid]["profile"]["firstName"] == "[masked]"
    assert connector.mask(users, [change]) == 0
    assert connector.delete(user_grants, [{"userId": uid, "id": grants[0]}]) == 1
    assert connector.delete(node("users"), [{"id": uid}]) == 1
    assert uid not in state.users  # deactivated, then deleted
    assert connector.delete(node("users"), [{"id": uid}]) == 0


def test_a_next_link_to_another_host_is_not_followed(okta: tuple[OktaState, str]) -> None:
    state, url = okta
    uid = state.add_user("ada@example.com")
    for i in range(300):
        state.add_grant(uid, f"app{i}")
    state.link_origin = "http://files.example.net"  # a next link on another host
    connector = okta_connector(url)
    with pytest.raises(ConnectorFailure, match="another host") as caught:
        connector.retrieve(node("user_grants", key=("userId", "id")), {"userId": [uid]})
    assert not caught.value.retryable


def test_confirm_exists_deletes_only_rows_found(tmp_path: Path) -> None:
    # An API whose DELETE of an unknown id is not "no data" (here: a failure) is asked to
    # delete only the rows a read found, and the count is theirs.
    vendor = tmp_path / "confirm.yml"
    vendor.write_text(
        VENDOR.replace(
            '    delete: {method: DELETE, path: "/customers/{id}"}',
            "    delete:\n      confirm_exists: true\n      steps:\n"
            '        - {method: DELETE, path: "/customers/{id}", no_data_status: []}',
        )
    )
    store = Store()
    store.seed(
        "contract:customers", [{"id": 1, "email": "a@example.com", "name": "A", "phone": None}]
    )
    with serve(contract_app(store)) as url:
        config = SaasConfig(
            vendor=str(vendor), base_url=url, secrets={"key": API_KEY}, allow_private_network=True
        )
        connector = opened(config)
        customers = node("customers")
        assert connector.delete(customers, [{"id": 1}, {"id": 10**6}]) == 1
        assert connector.delete(customers, [{"id": 1}]) == 0
        assert store.read_all("contract:customers") == []
