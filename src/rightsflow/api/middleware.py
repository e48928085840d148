"""Request ids: taken from a sane incoming `X-Request-ID` or made up, bound in structlog's
context for every log line of the request, and returned on the response. The same middleware
turns an unexpected exception into a generic 500 problem (logging only its type)."""

from __future__ import annotations

import re
import uuid

import structlog
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rightsflow.api.problems import internal_error

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")

log = structlog.get_logger("rightsflow.api")


def _request_id(scope: Scope) -> str:
    incoming = Headers(scope=scope).get(REQUEST_ID_HEADER)
    if incoming and _SANE_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        started = False

        async def send_with_id(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        with structlog.contextvars.bound_contextvars(request_id=request_id):
            try:
                await self.app(scope, receive, send_with_id)
            except Exception as exc:
                # The message and the traceback may hold personal data: the type only.
                log.error(  # noqa: TRY400
                    "unhandled_error", error_type=type(exc).__name__, method=scope["method"]
                )
                if started:
                    # Too late for a problem body; ending here closes the connection, and not
                    # re-raising keeps the server from logging the message and traceback.
                    return
                response = internal_error(scope["path"], request_id)
                await response(scope, receive, send_with_id)
