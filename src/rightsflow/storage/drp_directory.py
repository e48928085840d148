"""Reading the DRP service directory (agents.json) from a file or a URL."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import httpx

from rightsflow.domain.errors import ConnectorFailure

MAX_DIRECTORY_BYTES = 5 * 1024 * 1024  # thousands of agents fit; a runaway response does not


def file_source(path: Path) -> Callable[[], bytes]:
    def fetch() -> bytes:
        with path.open("rb") as handle:
            data = handle.read(MAX_DIRECTORY_BYTES + 1)
        if len(data) > MAX_DIRECTORY_BYTES:
            raise ConnectorFailure("the agents directory file is too large", retryable=False)
        return data

    return fetch


def url_source(
    url: str, timeout_s: float = 10.0, *, transport: httpx.BaseTransport
) -> Callable[[], bytes]:
    """GET the directory. Failures name the status or error type only (a URL may carry
    credentials). `transport` is the SSRF-guarded one (connectors.ssrf.guarded_transport): the
    composition root gives it, as storage does not import connectors."""

    def fetch() -> bytes:
        try:
            with (
                httpx.Client(
                    transport=transport, trust_env=False, timeout=timeout_s, follow_redirects=True
                ) as client,
                client.stream("GET", url, headers={"Accept": "application/json"}) as response,
            ):
                if response.status_code != 200:
                    raise ConnectorFailure(f"the agents directory answered {response.status_code}")
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if len(data) > MAX_DIRECTORY_BYTES:
                        raise ConnectorFailure("the agents directory is too large")
                return bytes(data)
        except httpx.HTTPError as exc:
            raise ConnectorFailure(
                f"the agents directory is unreachable ({type(exc).__name__})"
            ) from None

    return fetch
