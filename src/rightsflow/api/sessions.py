"""Console sessions over HTTP: the session cookie, the CSRF and Origin checks, and the route
class of the routes only a signed-in person may call (their own session and password).

The cookie is HttpOnly (scripts cannot read it), SameSite=Strict (a browser sends it on no
request another site starts) and Path=/. When the public URL is https it is also Secure and
named `__Host-rightsflow_session`: browsers accept a `__Host-` cookie only when it is Secure,
has Path=/ and no Domain, so neither a plain-http page nor a sibling subdomain can plant or
overwrite it (session fixation). Over plain http (the embedded default on localhost) a Secure
cookie would never come back, so it is `rightsflow_session` there.

SameSite alone is not the CSRF defence: unsafe methods also need `X-CSRF-Token` (which another
site cannot read or send without a CORS preflight) and an Origin, if any, that is ours.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response
from fastapi.routing import APIRoute

from rightsflow.api.deps import api_deps
from rightsflow.api.problems import Forbidden, Unauthorized
from rightsflow.domain.access import Principal
from rightsflow.domain.errors import NotFound
from rightsflow.services import users
from rightsflow.services.users import People, SignedIn

CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PERSON_CREDENTIAL = "console-session"  # what PersonRoute puts in `x-required-credential`


@dataclass(frozen=True)
class SessionCookie:
    name: str
    secure: bool

    @classmethod
    def for_url(cls, public_url: str) -> SessionCookie:
        if urlsplit(public_url).scheme == "https":
            return cls("__Host-rightsflow_session", secure=True)
        return cls("rightsflow_session", secure=False)

    def set(self, response: Response, token: str, max_age: int) -> None:
        response.set_cookie(
            self.name,
            token,
            max_age=max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="strict",
        )

    def clear(self, response: Response) -> None:
        response.delete_cookie(
            self.name, path="/", secure=self.secure, httponly=True, samesite="strict"
        )


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


class ConsoleSessions:
    """The SessionVerifier of api/auth.py, and what the session routes use."""

    def __init__(
        self, people: People, public_url: str, codec_origins: tuple[str, ...] = ()
    ) -> None:
        self.people = people
        self.cookie = SessionCookie.for_url(public_url)
        self._public_origin = _origin(public_url)
        self._codec_origins = frozenset(o.lower().rstrip("/") for o in codec_origins)

    async def principal_for_session(self, request: Request) -> Principal | None:
        signed_in = await self.signed_in(request)
        return None if signed_in is None else signed_in.user.principal()

    async def signed_in(self, request: Request) -> SignedIn | None:
        """None without a session cookie; Unauthorized for a dead one; Forbidden for an
        unsafe method without the session's CSRF token or from another site."""
        token = request.cookies.get(self.cookie.name)
        if token is None:
            return None
        signed_in = await asyncio.to_thread(users.authenticate, self.people, token)
        if signed_in is None:
            raise Unauthorized
        if request.method in UNSAFE_METHODS and not self._codec_call(request):
            self.check_origin(request)
            if not users.csrf_ok(signed_in.session, request.headers.get(CSRF_HEADER)):
                raise Forbidden("CSRF token missing or wrong")
        request.state.console_session = signed_in
        return signed_in

    def _codec_call(self, request: Request) -> bool:
        """The Temporal UI (an allowed codec origin) calling the codec server with the
        operator's cookie: it cannot send our CSRF header, and the codec routes change nothing
        (each decode is audited), so its origin is enough."""
        origin = (request.headers.get("origin") or "").lower()
        return request.url.path.startswith("/codec/") and origin in self._codec_origins

    def check_origin(self, request: Request) -> None:
        """Refuse an unsafe request a browser says another site started."""
        origin = request.headers.get("origin")
        if origin is None:
            # Older browsers omit Origin on some requests; Fetch Metadata still tells.
            if request.headers.get("sec-fetch-site") == "cross-site":
                raise Forbidden("cross-site request refused")
            return
        own = _origin(str(request.url))
        if origin.lower() not in (self._public_origin, own):
            raise Forbidden("cross-site request refused")


def console_sessions(request: Request) -> ConsoleSessions:
    sessions = api_deps(request).sessions
    if not isinstance(sessions, ConsoleSessions):
        raise NotFound("console sessions are not enabled on this server")
    return sessions


class PersonRoute(APIRoute):
    """A route for any signed-in person, whatever their role (no scope: it acts only on the
    caller's own account). Services and the bootstrap token are not people: 401."""

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        extra = dict(kwargs.pop("openapi_extra", None) or {})
        extra["x-required-credential"] = PERSON_CREDENTIAL
        super().__init__(path, endpoint, openapi_extra=extra, **kwargs)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def signed_in_only(request: Request) -> Response:
            sessions = api_deps(request).sessions
            if not isinstance(sessions, ConsoleSessions):
                raise Unauthorized
            signed_in = await sessions.signed_in(request)
            if signed_in is None:
                raise Unauthorized
            request.state.principal = signed_in.user.principal()
            return await handler(request)

        return signed_in_only


def _signed_in(request: Request) -> SignedIn:
    signed_in = getattr(request.state, "console_session", None)
    if not isinstance(signed_in, SignedIn):
        raise TypeError("no console session: the route is not a PersonRoute")
    return signed_in


SessionsDep = Annotated[ConsoleSessions, Depends(console_sessions)]
SignedInDep = Annotated[SignedIn, Depends(_signed_in)]
