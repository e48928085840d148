"""HTTP for the `saas` connector: auth, a rate limit, retries, and failures that leak nothing.

One `SaasHttp` per configured system holds one `httpx.Client` (a connection pool), one token
bucket and one OAuth2 token cache; all of them are safe to share between threads.

A failure names the operation and the HTTP status only. Never the URL (paths and query strings
carry identities: `/customers/alice@example.com`), never a body (it may echo the request), never
a header (tokens), and the httpx exception is not chained.
"""

from __future__ import annotations

import base64
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from rightsflow.connectors.saas_spec import (
    ApiKeyAuth,
    BasicAuth,
    BearerAuth,
    OAuth2ClientCredentials,
    RateLimit,
    Retries,
    Vendor,
    placeholders,
)
from rightsflow.connectors.ssrf import guarded_client
from rightsflow.domain.errors import ConnectorFailure

Sleep = Callable[[float], None]


def fill_secrets(template: str, secrets: Mapping[str, str]) -> str:
    """`template` with each `{name}` replaced by that secret (names were checked on load)."""
    for name in placeholders(template):
        template = template.replace("{" + name + "}", secrets[name])
    return template


@dataclass
class TokenBucket:
    """`rate.per_second` requests on average, `rate.burst` at once. A caller reserves a token
    and sleeps outside the lock, so threads wait in turn without holding each other up."""

    rate: RateLimit
    sleep: Sleep = time.sleep
    _tokens: float = field(init=False)
    _updated: float = field(init=False, default_factory=time.monotonic)
    _paused_until: float = field(init=False, default=0.0)
    _lock: threading.Lock = field(init=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self._tokens = float(self.rate.burst)

    def take(self) -> None:
        with self._lock:
            now = time.monotonic()
            elapsed = now - self._updated
            self._tokens = min(self.rate.burst, self._tokens + elapsed * self.rate.per_second)
            self._updated = now
            self._tokens -= 1
            wait = max(-self._tokens / self.rate.per_second, self._paused_until - now, 0.0)
        if wait > 0:
            self.sleep(wait)

    def pause(self, seconds: float) -> None:
        """Nobody sends for `seconds` (a 429 with Retry-After speaks for the whole system)."""
        with self._lock:
            self._paused_until = max(self._paused_until, time.monotonic() + seconds)


class OAuth2Token:
    """Client-credentials tokens, fetched on first use, cached until `margin` before they
    expire, and fetched again when a request carrying the current one is answered 401."""

    def __init__(
        self,
        auth: OAuth2ClientCredentials,
        secrets: Mapping[str, str],
        post: Callable[[str, dict[str, str], dict[str, str]], httpx.Response],
    ) -> None:
        self._auth = auth
        self._secrets = secrets
        self._post = post
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires = 0.0

    def current(self) -> str:
        with self._lock:
            if self._token is None or time.monotonic() >= self._expires:
                self._token, self._expires = self._fetch()
            return self._token

    def renew(self) -> None:
        """Fetch a token now, whatever is cached (proves the credentials work)."""
        with self._lock:
            self._token, self._expires = self._fetch()

    def refresh(self, stale: str) -> None:
        """Drop `stale` (unless another thread has already replaced it)."""
        with self._lock:
            if self._token == stale:
                self._token = None

    def _fetch(self) -> tuple[str, float]:
        client_id = fill_secrets(self._auth.client_id, self._secrets)
        client_secret = fill_secrets(self._auth.client_secret, self._secrets)
        form = {"grant_type": "client_credentials"}
        headers = {"Accept": "application/json"}
        if self._auth.scope:
            form["scope"] = self._auth.scope
        if self._auth.client_auth == "basic":
            pair = f"{client_id}:{client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form.update(client_id=client_id, client_secret=client_secret)
        response = self._post(self._auth.token_url, form, headers)
        try:
            body = response.json()
            token = body["access_token"]
            lifetime = float(body.get("expires_in") or self._auth.default_expires_in)
        except (ValueError, KeyError, TypeError):
            raise ConnectorFailure("token endpoint: unexpected response", retryable=True) from None
        if not isinstance(token, str) or not token:
            raise ConnectorFailure("token endpoint: no access_token", retryable=True)
        # Refresh a little early so a token does not expire between check and use.
        margin = min(30.0, lifetime / 10)
        return token, time.monotonic() + lifetime - margin


@dataclass(frozen=True)
class Call:
    """One request: `url` is a path under the base URL or an absolute URL on the same host."""

    operation: str  # for messages: "customers.read", never a URL
    method: str
    url: str
    params: Mapping[str, str] = field(default_factory=dict)
    json: Any = None
    form: Mapping[str, str] | None = None
    no_data: tuple[int, ...] = ()


class SaasHttp:
    """Sends `Call`s with auth, the rate limit and retries; see the module docstring."""

    def __init__(
        self,
        vendor: Vendor,
        base_url: str,
        secrets: Mapping[str, str],
        *,
        retries: Retries,
        rate_limit: RateLimit | None,
        timeout: float,
        sleep: Sleep = time.sleep,
        allow_private_network: bool = False,
    ) -> None:
        self._vendor = vendor
        self._secrets = dict(secrets)
        self._retries = retries
        self._sleep = sleep
        self._bucket = TokenBucket(rate_limit, sleep) if rate_limit is not None else None
        self._origin = _origin(base_url)
        headers = {name: fill_secrets(v, secrets) for name, v in vendor.headers.items()}
        # Every connection, the OAuth2 token URL's too, passes the SSRF guard.
        self._client = guarded_client(
            allow_private=allow_private_network,
            base_url=base_url.rstrip("/") + "/",
            timeout=timeout,
            headers={"Accept": "application/json", **headers},
            follow_redirects=False,  # a redirect must not carry our credentials elsewhere
        )
        self._oauth = (
            OAuth2Token(vendor.auth, self._secrets, self._post_token)
            if isinstance(vendor.auth, OAuth2ClientCredentials)
            else None
        )

    def send(self, call: Call) -> httpx.Response | None:
        """The response to `call` (2xx), or None for one of its no-data statuses."""
        refreshed = False
        attempt = 0
        while True:
            attempt += 1
            token = self._oauth.current() if self._oauth is not None else None
            response = self._attempt(call, attempt, token)
            if response is None:
                continue  # a timeout or connection error, retried after a wait
            status = response.status_code
            if status == 401 and token is not None and not refreshed and self._oauth:
                refreshed = True  # an expired or revoked token: one fresh token, once
                self._oauth.refresh(token)
                attempt -= 1
                continue
            if status in call.no_data:
                return None
            if 200 <= status < 300:
                return response
            self._after_failure(call, response, attempt)

    def fetch_token(self) -> None:
        """Fetch a new OAuth2 token now (the check of a system without a check request)."""
        if self._oauth is not None:
            self._oauth.renew()

    def close(self) -> None:
        self._client.close()

    # -- internals --------------------------------------------------------------------------

    def _attempt(self, call: Call, attempt: int, token: str | None) -> httpx.Response | None:
        if self._bucket is not None:
            self._bucket.take()
        request = self._build(call, token)
        try:
            return self._client.send(request)
        except httpx.TransportError as exc:  # timeouts, refused connections, broken streams
            if attempt >= self._retries.attempts:
                kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "unreachable"
                raise ConnectorFailure(
                    f"{self._vendor.name} {call.operation}: {kind} after {attempt} attempt(s) "
                    f"({type(exc).__name__})",
                    retryable=True,
                ) from None
            self._sleep(self._backoff(attempt))
            return None

    def _after_failure(self, call: Call, response: httpx.Response, attempt: int) -> None:
        """Wait before the next attempt, or raise when the status is final or tries ran out."""
        status = response.status_code
        where = f"{self._vendor.name} {call.operation}: HTTP {status}"
        if status != 429 and status < 500:
            raise ConnectorFailure(where, retryable=False)
        if attempt >= self._retries.attempts:
            raise ConnectorFailure(f"{where} after {attempt} attempt(s)", retryable=True)
        wait = self._backoff(attempt)
        if status == 429:
            asked = _retry_after(response.headers.get("Retry-After"))
            if asked is not None and asked > self._retries.max_retry_after:
                raise ConnectorFailure(f"{where}: rate limited for {asked:.0f}s", retryable=True)
            wait = asked if asked is not None else wait
            if self._bucket is not None:
                self._bucket.pause(wait)
        self._sleep(wait)

    def _build(self, call: Call, token: str | None) -> httpx.Request:
        url = call.url
        if "://" in url:
            if _origin(url) != self._origin:
                raise ConnectorFailure(
                    f"{self._vendor.name} {call.operation}: a next-page link points to another "
                    "host; not followed",
                    retryable=False,
                )
        else:
            url = url.lstrip("/")  # relative to the base URL, which may have a path
        params = dict(call.params)
        headers: dict[str, str] = {}
        self._apply_auth(headers, params, token)
        return self._client.build_request(
            call.method, url, params=params or None, json=call.json, data=call.form,
            headers=headers,
        )  # fmt: skip

    def _apply_auth(
        self, headers: dict[str, str], params: dict[str, str], token: str | None
    ) -> None:
        auth = self._vendor.auth
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        elif isinstance(auth, BearerAuth):
            headers["Authorization"] = f"Bearer {fill_secrets(auth.token, self._secrets)}"
        elif isinstance(auth, BasicAuth):
            pair = ":".join(fill_secrets(t, self._secrets) for t in (auth.username, auth.password))
            headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
        elif isinstance(auth, ApiKeyAuth):
            value = fill_secrets(auth.value, self._secrets)
            (headers if auth.where == "header" else params)[auth.name] = value

    def _post_token(
        self, url: str, form: dict[str, str], headers: dict[str, str]
    ) -> httpx.Response:
        """The token request, with the same retries; a refusal is not retryable."""
        target = url if "://" in url else url.lstrip("/")
        for attempt in range(1, self._retries.attempts + 1):
            if self._bucket is not None:
                self._bucket.take()
            try:
                response = self._client.post(target, data=form, headers=headers)
            except httpx.TransportError as exc:
                if attempt == self._retries.attempts:
                    raise ConnectorFailure(
                        f"{self._vendor.name} token request: unreachable ({type(exc).__name__})",
                        retryable=True,
                    ) from None
                self._sleep(self._backoff(attempt))
                continue
            if response.is_success:
                return response
            status = response.status_code
            if (status != 429 and status < 500) or attempt == self._retries.attempts:
                raise ConnectorFailure(
                    f"{self._vendor.name} token request: HTTP {status}",
                    retryable=status == 429 or status >= 500,
                )
            self._sleep(self._backoff(attempt))
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns

    def _backoff(self, attempt: int) -> float:
        base: float = min(self._retries.max_backoff, self._retries.backoff * 2.0 ** (attempt - 1))
        # Jitter spreads the retries of many workers hitting one API (not a secret).
        return base * random.uniform(0.5, 1.0)  # noqa: S311


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


def _retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, float(when.timestamp()) - time.time())
