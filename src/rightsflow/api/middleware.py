"""Request ids: taken from a sane incoming `X-Request-ID` or made up, bound in structlog's
context for every log line of the request, and returned on the response. The same middleware
turns an unexpected exception into a generic 500 problem (logging only its type).

Security headers on every answer (nosniff, no referrer, no framing, a Content-Security-Policy,
HSTS when the public URL is https, no-store on API answers) and strict CORS: none unless
`cors_origins` lists exact origins."""

from __future__ import annotations

import base64
import hashlib
import re
import uuid

import structlog
from starlette.applications import Starlette
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rightsflow.api.problems import instance_in, internal_error

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
                response = internal_error(instance_in(scope), request_id)
                await response(scope, receive, send_with_id)


# -- security headers and CORS ----------------------------------------------------------------

_COMMON_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": (
        "accelerometer=(), camera=(), geolocation=(), gyroscope=(), magnetometer=(), "
        "microphone=(), payment=(), usb=()"
    ),
}
PAGE_REFERRER_POLICY = "same-origin"
# JSON answers load nothing and may not be framed or used as a page.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# Server-rendered pages (none yet under this CSP's name; a page may send its own).
PAGE_CSP = (
    "default-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
    "form-action 'self'"
)
# /docs (Swagger UI) loads its script and CSS from jsDelivr and starts with an inline script:
# only that script, by its hash, plus the CDN; it fetches /openapi.json from here. Swagger UI
# also sets inline styles (swagger-api/swagger-ui#10655), so styles, not scripts, may be inline.
_DOCS_CSP = (
    "default-src 'none'; script-src https://cdn.jsdelivr.net {hashes}; "
    "style-src https://cdn.jsdelivr.net 'unsafe-inline'; "
    "img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
_INLINE_SCRIPT = re.compile(rb"<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>", re.DOTALL)
_NO_STORE_PREFIXES = ("/api/", "/oauth/", "/v1/")
HSTS = "max-age=31536000; includeSubDomains"
CORS_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]
CORS_HEADERS = [
    "Authorization", "Content-Type", "Idempotency-Key", "Subject-Token", "X-CSRF-Token",
    REQUEST_ID_HEADER,
]  # fmt: skip
CORS_EXPOSED = [
    REQUEST_ID_HEADER, "Location", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining",
    "RateLimit-Reset",
]  # fmt: skip


def docs_csp(html: bytes) -> str:
    """The /docs CSP allowing exactly the inline scripts of `html`, by their SHA-256."""
    hashes = " ".join(
        f"'sha256-{base64.b64encode(hashlib.sha256(body).digest()).decode()}'"
        for body in _INLINE_SCRIPT.findall(html)
    )
    return _DOCS_CSP.format(hashes=hashes or "'none'")


class SecurityHeadersMiddleware:
    """Adds the headers above to every answer; a route's own CSP or Cache-Control wins."""

    def __init__(self, app: ASGIApp, *, hsts: bool, docs_path: str | None = "/docs") -> None:
        self.app = app
        self.hsts = hsts
        self.docs_path = docs_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if self.docs_path is not None and path.startswith(self.docs_path):
            await self._docs(scope, receive, send)
            return

        async def send_secured(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = self._common(message, path)
                if "content-security-policy" not in headers:
                    is_page = headers.get("content-type", "").startswith("text/html")
                    headers["Content-Security-Policy"] = PAGE_CSP if is_page else API_CSP
            await send(message)

        await self.app(scope, receive, send_secured)

    def _common(self, message: Message, path: str) -> MutableHeaders:
        headers = MutableHeaders(scope=message)
        for name, value in _COMMON_HEADERS.items():
            headers[name] = value
        if headers.get("content-type", "").startswith("text/html"):
            # Under no-referrer a browser sends `Origin: null` on a page's own form posts,
            # which the console's CSRF check must refuse; same-origin still tells no other site.
            headers["Referrer-Policy"] = PAGE_REFERRER_POLICY
        if self.hsts:
            headers["Strict-Transport-Security"] = HSTS
        if path.startswith(_NO_STORE_PREFIXES) and "cache-control" not in headers:
            headers["Cache-Control"] = "no-store"
        return headers

    async def _docs(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The docs page is small: hold it, hash its inline scripts, then send it."""
        held: list[Message] = []

        async def hold(message: Message) -> None:
            held.append(message)

        await self.app(scope, receive, hold)
        starts = [m for m in held if m["type"] == "http.response.start"]
        if not starts:
            return
        body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
        headers = self._common(starts[0], scope["path"])
        headers["Content-Security-Policy"] = docs_csp(body)
        await send(starts[0])
        await send({"type": "http.response.body", "body": body, "more_body": False})


class StrictCorsMiddleware:
    """CORS for the configured origins only (exact, no wildcard, no credentials: a bearer token
    needs none, and console cookies stay same-site). /codec answers its own CORS."""

    def __init__(self, app: ASGIApp, *, origins: list[str]) -> None:
        self.app = app
        self.cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_credentials=False,
            allow_methods=CORS_METHODS,
            allow_headers=CORS_HEADERS,
            expose_headers=CORS_EXPOSED,
            max_age=600,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and str(scope["path"]).startswith("/codec"):
            await self.app(scope, receive, send)
            return
        await self.cors(scope, receive, send)


def install_security(app: Starlette, public_url: str, cors_origins: list[str]) -> None:
    """Call after the other middleware: CORS, then the headers outermost (500s get them too)."""
    if cors_origins:
        app.add_middleware(StrictCorsMiddleware, origins=list(cors_origins))
    app.add_middleware(SecurityHeadersMiddleware, hsts=public_url.startswith("https://"))
