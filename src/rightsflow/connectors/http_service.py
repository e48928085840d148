"""`http_service`: an internal service that implements the Privacy Service API v1
(docs/privacy-service-api.yaml, usually through `rightsflow.sdk`).

Every call is signed (HMAC over the body, timestamped) and carries the request id as the
service's idempotency key. A service answers at once (rows or counts) or with 202 and a signed
callback later. Calls per system are limited in concurrency and rate; 5xx, 429 and timeouts are
retried with backoff, other 4xx are not; a body that is not a v1 result is a failure too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping

import httpx
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rightsflow.connectors.base import (
    DAY_S,
    ConnectorSpec,
    ConsentAck,
    ConsentNotice,
    SystemAnswer,
    SystemCall,
    WaitPolicy,
)
from rightsflow.connectors.ssrf import guarded_client
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.sdk.models import (
    AccessResult,
    CallbackBody,
    ConsentRequest,
    ConsentResult,
    EraseResult,
    SubjectRequest,
)
from rightsflow.sdk.models import Callback as WireCallback
from rightsflow.sdk.service import signed_call
from rightsflow.sdk.signing import DEFAULT_TOLERANCE_S, HEADER, SignatureError, verify


class HttpServiceConfig(BaseModel):
    """One internal service. `secret` is shared with the service (write `${ENV_VAR}`)."""

    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)

    url: str = Field(
        min_length=1,
        description="Base URL of its Privacy Service API, e.g. https://orders/privacy/v1",
    )
    secret: str = Field(min_length=16, repr=False, description="Shared HMAC secret")
    timeout_s: float = Field(default=10.0, gt=0, le=600)
    max_concurrency: int = Field(default=4, ge=1, le=256, description="Calls in flight at once")
    rate_per_s: float | None = Field(default=None, gt=0, description="Calls per second at most")
    max_attempts: int = Field(default=3, ge=1, le=20, description="Tries per call (5xx/timeout)")
    backoff_s: float = Field(default=0.5, ge=0, le=60, description="First retry delay; doubles")
    answer_within_s: float = Field(default=3 * DAY_S, gt=0, description="Deadline for callbacks")
    remind_every_s: float = Field(default=DAY_S, gt=0, description="Remind operators this often")
    callback_tolerance_s: int = Field(default=DEFAULT_TOLERANCE_S, ge=1)
    allow_private_network: bool = Field(
        default=False, description="Allow loopback/private/link-local service addresses"
    )
    consent: bool = Field(
        default=True, description="Tell it about opt-outs and withdrawals (POST /consent)"
    )

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value.rstrip("/")


class RateLimit:
    """At most `per_s` calls per second, evenly spaced (no bursts), thread-safe."""

    def __init__(self, per_s: float | None) -> None:
        self._per_s = per_s
        self._tokens = 1.0
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def wait(self) -> None:
        if self._per_s is None:
            return
        while True:
            with self._lock:
                now = time.monotonic()
                self._tokens = min(1.0, self._tokens + (now - self._last) * self._per_s)
                self._last = now
                if self._tokens >= 1:
                    self._tokens -= 1
                    return
                delay = (1 - self._tokens) / self._per_s
            time.sleep(delay)


class HttpServiceConnector:
    rechecks = True

    def __init__(self, config: HttpServiceConfig) -> None:
        self._config = config
        self._secret = config.secret.encode()
        self.wait = WaitPolicy(config.answer_within_s, config.remind_every_s)
        self._slots = threading.BoundedSemaphore(config.max_concurrency)
        self._rate = RateLimit(config.rate_per_s)
        self._client = guarded_client(  # every connection passes the SSRF guard
            allow_private=config.allow_private_network,
            limits=httpx.Limits(max_connections=config.max_concurrency),
            timeout=config.timeout_s,
            follow_redirects=False,
        )

    def call(self, call: SystemCall) -> SystemAnswer:
        subject = SubjectRequest(
            request_id=call.request_id,
            system=call.system,
            operation="erase" if call.operation == "erase" else "access",
            identities=dict(call.identities),
            keys={name: list(values) for name, values in call.keys.items()},
            categories=list(call.categories),
            callback=(
                WireCallback(url=call.callback.url, token=call.callback.token)
                if call.callback
                else None
            ),
        )
        response = self._post(f"/{subject.operation}", subject, subject.operation)
        if response.status_code == 202:
            return SystemAnswer(pending=True)
        return _answer(subject.operation, response.content, f"{call.system} {subject.operation}")

    def wants_consent(self, subject_kind: str, withdrawn: frozenset[str]) -> bool:  # noqa: ARG002
        """Every opt-out or withdrawal of any kind of subject, unless its config turns
        telling off: the service decides itself which purposes concern it."""
        return self._config.consent and bool(withdrawn)

    def tell_consent(self, notice: ConsentNotice) -> ConsentAck:
        told = ConsentRequest(
            record_id=notice.record_id,
            system=notice.system,
            identities=dict(notice.identities),
            purposes=dict(notice.purposes),
            source=notice.source,
            regime=notice.regime,
            recorded_at=notice.recorded_at.isoformat(),
        )
        response = self._post("/consent", told, "consent")
        try:
            result = ConsentResult.model_validate_json(response.content)
        except ValidationError:
            raise ConnectorFailure(
                "consent: the service answered with a body that is not a v1 result"
            ) from None
        done = response.status_code == 200 and result.status == "done"
        return ConsentAck(confirmed=done, reference=result.reference)

    def read_callback(self, body: bytes, headers: Mapping[str, str]) -> SystemAnswer:
        try:
            verify(
                self._secret,
                body,
                headers.get(HEADER.lower()) or headers.get(HEADER),
                tolerance_s=self._config.callback_tolerance_s,
            )
        except SignatureError as exc:
            raise ConnectorFailure(f"bad signature ({exc})", retryable=False) from None
        try:
            parsed = CallbackBody.model_validate_json(body)
        except ValidationError:
            raise ConnectorFailure(
                "not a Privacy Service API callback body", retryable=False
            ) from None
        answer = _answer(parsed.operation, parsed.result.model_dump_json().encode(), "callback")
        return SystemAnswer(
            answer.rows,
            answer.counts,
            about=(parsed.request_id, parsed.system, parsed.operation),
        )

    def check(self) -> None:
        response = self._send(lambda: self._client.get(f"{self._config.url}/health"), "health")
        if response.status_code != 200:
            raise ConnectorFailure(f"health check answered HTTP {response.status_code}")

    def close(self) -> None:
        self._client.close()

    # -- internals --------------------------------------------------------------------------

    def _post(
        self, path: str, subject: SubjectRequest | ConsentRequest, what: str
    ) -> httpx.Response:
        def send() -> httpx.Response:
            # Signed per attempt: a retry after the tolerance window must still be fresh.
            body, headers = signed_call(self._secret, subject)
            return self._client.post(f"{self._config.url}{path}", content=body, headers=headers)

        return self._send(send, what)

    def _send(self, send: Callable[[], httpx.Response], what: str) -> httpx.Response:
        """Send with the system's limits; retry 5xx, 429 and transport failures with backoff."""
        last = "no attempt"
        for attempt in range(self._config.max_attempts):
            if attempt:
                time.sleep(self._config.backoff_s * 2 ** (attempt - 1))
            self._rate.wait()
            with self._slots:
                try:
                    response = send()
                except httpx.TimeoutException:
                    last = "timed out"
                    continue
                except httpx.TransportError as exc:
                    last = f"unreachable ({type(exc).__name__})"
                    continue
            # 501: the service does not implement the operation; asking again cannot help.
            if response.status_code == 429 or 500 <= response.status_code != 501:
                last = f"answered HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise ConnectorFailure(
                    f"{what}: the service refused the call (HTTP {response.status_code})",
                    retryable=False,
                )
            return response
        raise ConnectorFailure(
            f"{what}: the service {last} ({self._config.max_attempts} attempt(s))", retryable=True
        )


def _answer(operation: str, body: bytes, what: str) -> SystemAnswer:
    try:
        if operation == "access":
            rows = AccessResult.model_validate_json(body).rows
            return SystemAnswer(rows=rows)
        return SystemAnswer(counts=EraseResult.model_validate_json(body).counts)
    except ValidationError:
        # Never quote the body: it may hold the subject's data.
        raise ConnectorFailure(
            f"{what}: the service answered with a body that is not a v1 result"
        ) from None


HTTP_SERVICE_CONNECTOR: ConnectorSpec[HttpServiceConfig] = ConnectorSpec(
    kind="http_service",
    config_model=HttpServiceConfig,
    factory=HttpServiceConnector,
    capabilities=frozenset({"retrieve", "delete", "consent"}),
    description="An internal service implementing the Privacy Service API v1 (rightsflow.sdk)",
)
