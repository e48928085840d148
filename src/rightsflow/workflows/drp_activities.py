"""The "tell_agent" activity: a DRP status callback after a request's state changed.

Idempotent (the agent is sent a status only if it differs from the last one it got) and a no-op
for requests no agent sent, so the request workflow can call it after every change.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import httpx
from temporalio import activity

from rightsflow.connectors.ssrf import DRP_HINT, guarded_client
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.services import drp
from rightsflow.services.platform import Platform
from rightsflow.workflows.activities import _run  # one error translation for every activity


class HttpStatusPoster:
    """POSTs the Exercise Status object as JSON (2.03); the response body is discarded, as
    the spec says. No redirects: the agent gave this exact URL. An agent chooses the URL, so
    it passes the SSRF guard: no internal address unless `allow_private_network`."""

    def __init__(self, timeout_s: float = 10.0, *, allow_private_network: bool = False) -> None:
        self._timeout = timeout_s
        self._allow_private = allow_private_network

    def post(self, url: str, document: Mapping[str, Any]) -> int:
        try:
            with guarded_client(
                allow_private=self._allow_private,
                hint=DRP_HINT,
                timeout=self._timeout,
                follow_redirects=False,
            ) as client:
                return client.post(url, json=dict(document)).status_code
        except httpx.HTTPError as exc:
            # The URL may hold the agent's own secrets: the error type only.
            raise ConnectorFailure(
                f"the agent's status callback is unreachable ({type(exc).__name__})"
            ) from None


class DrpActivities:
    def __init__(self, platform: Platform, poster: drp.StatusPoster | None = None) -> None:
        self._platform = platform
        self._poster = poster or HttpStatusPoster()

    def all(self) -> list[Callable[..., Any]]:
        return [self.tell_agent]

    @activity.defn(name="tell_agent")
    async def tell_agent(self, request_id: str) -> bool:
        """True when the agent was sent a new status."""
        return await _run(
            lambda: drp.notify_agent(self._platform, self._poster, request_id),
            "tell the agent",
            request_id,
        )
