"""Rate limits: per client IP on public routes, per principal on authenticated ones.

Public routes (no credentials, or a token that only reaches one request) are limited per client
IP by `RateLimitMiddleware`, before routing or body parsing, so a flood costs us nothing more
than a counter: subject and task-by-token routes, package downloads, DRP, login and the OAuth2
token endpoint. Entering a verification code is much stricter, per IP *and* per request, so
guessing a code is slow however many addresses an attacker has.

Authenticated routes are limited per principal (client, person, bootstrap owner) by
`limit_principal`, an app-wide dependency: `AuthenticatedRoute` sets `request.state.principal`
before dependencies run, so the caller is known there and nowhere earlier.

Budgets are sliding windows (two fixed windows' counts, the previous one weighted by its share
still inside the window: the moving window's guarantee in O(1)). Counters live in process
memory (api/rate_windows.py: no `limits` storage, whose timer thread and per-request lists cost
~13 % of a cached consent read), or in Redis when `rate_limit_storage_url` is set (shared by
every API process; `limits`' sliding-window counter). The client IP is the peer address;
`X-Forwarded-For` counts only when the peer is a trusted proxy. A refusal is a 429 problem with
Retry-After; answers on limited routes carry RateLimit-Limit / -Remaining / -Reset
(draft-ietf-httpapi-ratelimit-headers).
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from dataclasses import dataclass
from ipaddress import IPv4Network, IPv6Network, ip_address

import structlog
from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from limits import RateLimitItem, parse
from limits.errors import StorageError
from limits.storage import RedisStorage, Storage
from limits.strategies import SlidingWindowCounterRateLimiter
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from rightsflow.api.problems import instance_of, problem_at, problem_responses
from rightsflow.api.rate_windows import LocalWindows
from rightsflow.config import Settings
from rightsflow.domain.access import Principal

Network = IPv4Network | IPv6Network
_STATE_KEY = "rate_limit"
log = structlog.get_logger("rightsflow.api")
_DETAIL = "Too many requests; try again after the time in Retry-After."


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_after: int  # seconds until the window has room again

    def headers(self) -> dict[str, str]:
        found = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset_after),
        }
        if not self.allowed:
            found["Retry-After"] = str(self.reset_after)
        return found


@dataclass(frozen=True)
class Rule:
    """Requests whose method and path match count against `budget` (a Settings field name),
    per client IP, and per the path's `key` group too when `per_key`."""

    name: str
    path: re.Pattern[str]
    budget: str
    methods: frozenset[str] | None = None
    per_key: bool = False


_POST = frozenset({"POST"})
RULES: tuple[Rule, ...] = (
    Rule("code", re.compile(r"^/api/v1/subject/requests/(?P<key>[^/]+)/code$"), "rate_limit_code",
         _POST, per_key=True),
    Rule("login", re.compile(r"^/api/v1/session/?$"), "rate_limit_login", _POST),
    Rule("token", re.compile(r"^/oauth/token/?$"), "rate_limit_login", _POST),
    Rule("public", re.compile(r"^/api/v1/(subject/|tasks/[^/]+|packages/)"), "rate_limit_public"),
    # The privacy center's forms: the same budgets (same names, so shared counters) as the API.
    Rule("code", re.compile(r"^/privacy/requests/(?P<key>[^/]+)/code$"), "rate_limit_code",
         _POST, per_key=True),
    Rule("public", re.compile(r"^/privacy/(requests|preferences)"), "rate_limit_public", _POST),
    Rule("drp", re.compile(r"^/v1/"), "rate_limit_drp"),
)  # fmt: skip


class TooManyRequests(Exception):
    def __init__(self, verdict: Verdict) -> None:
        super().__init__("rate limited")
        self.verdict = verdict


def storage_for(url: str) -> Storage:
    """Redis counters (redis:// or rediss://) through redis-py's client.

    The synchronous storage: Redis calls run in a worker thread, so no connection is tied to
    an event loop that may end before the app does."""
    if not url.startswith(("redis://", "rediss://")):
        raise ValueError("rate_limit_storage_url: expected a redis:// or rediss:// URL")
    return RedisStorage(url, wrap_exceptions=True)


class RateLimiter:
    """The budgets of one app; `hit` counts a request and says whether it may go ahead."""

    def __init__(self, settings: Settings) -> None:
        url = settings.rate_limit_storage_url
        self._shared = None if url is None else SlidingWindowCounterRateLimiter(storage_for(url))
        self._local = LocalWindows()
        self._trusted: tuple[Network, ...] = tuple(settings.rate_limit_trusted_proxies)
        self._budgets = {r.budget: parse(str(getattr(settings, r.budget))) for r in RULES}
        self._principal = parse(settings.rate_limit_principal)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> Verdict:
        if self._shared is None:
            count = self._local.hit(item.amount, item.get_expiry(), identifiers)
            reset = max(1, math.ceil(count.reset_in))
            return Verdict(count.allowed, item.amount, count.remaining, reset)
        try:  # network I/O off the loop
            return await asyncio.to_thread(self._hit, self._shared, item, identifiers)
        except StorageError as exc:
            # An unreachable counter store must not take the API down: let the request pass.
            log.error(  # noqa: TRY400 (a traceback could show the Redis URL and its password)
                "rate_limit_storage_failed", error_type=type(exc.storage_error).__name__
            )
            return Verdict(True, item.amount, item.amount, 1)

    @staticmethod
    def _hit(
        limiter: SlidingWindowCounterRateLimiter, item: RateLimitItem, identifiers: tuple[str, ...]
    ) -> Verdict:
        allowed = limiter.hit(item, *identifiers)
        stats = limiter.get_window_stats(item, *identifiers)
        reset = max(1, math.ceil(stats.reset_time - time.time()))
        return Verdict(allowed, item.amount, max(0, stats.remaining), reset)

    async def for_public(self, scope: Scope) -> Verdict | None:
        """The verdict of every rule the request meets (the first refusal, else the tightest),
        or None when no rule applies."""
        path, method = scope["path"], scope["method"]
        verdicts: list[Verdict] = []
        for rule in RULES:
            found = rule.path.match(path)
            if found is None or (rule.methods is not None and method not in rule.methods):
                continue
            keys = [("ip", self.client_ip(scope))]
            if rule.per_key:
                keys.append(("key", found.group("key")))
            for kind, value in keys:
                verdict = await self.hit(self._budgets[rule.budget], rule.name, kind, value)
                if not verdict.allowed:
                    return verdict
                verdicts.append(verdict)
        return min(verdicts, key=lambda v: v.remaining) if verdicts else None

    async def for_principal(self, principal: Principal) -> Verdict:
        return await self.hit(self._principal, "principal", principal.actor)

    def client_ip(self, scope: Scope) -> str:
        """The peer address, or the last address before our trusted proxies in X-Forwarded-For
        (walked from the right: entries left of an untrusted hop could be made up)."""
        client = scope.get("client")
        peer = str(client[0]) if client else "unknown"
        if not self._trusted or not self._is_trusted(peer):
            return peer
        forwarded = ",".join(Headers(scope=scope).getlist("x-forwarded-for"))
        hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                return hop if _is_ip(hop) else peer
        return peer

    def _is_trusted(self, address: str) -> bool:
        try:
            parsed = ip_address(address)
        except ValueError:
            return False
        return any(parsed in network for network in self._trusted)


def _is_ip(text: str) -> bool:
    try:
        ip_address(text)
    except ValueError:
        return False
    return True


def too_many(path: str, verdict: Verdict) -> JSONResponse:
    return problem_at(path, 429, "rate-limited", _DETAIL, headers=verdict.headers())


class RateLimitMiddleware:
    """Per-IP limits of public routes, and the RateLimit headers of every limited answer."""

    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})
        verdict = await self.limiter.for_public(scope)
        if verdict is not None and not verdict.allowed:
            await too_many(scope["path"], verdict)(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            # The principal's verdict (set by limit_principal) is known only once routed.
            shown = state.get(_STATE_KEY) or verdict
            if message["type"] == "http.response.start" and isinstance(shown, Verdict):
                headers = MutableHeaders(scope=message)
                for name, value in shown.headers().items():
                    headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)


async def limit_principal(request: Request) -> None:
    """App-wide dependency: counts an authenticated caller's request (no-op on public routes)."""
    principal = getattr(request.state, "principal", None)
    limiter = getattr(request.app.state, "rate_limiter", None)
    if not isinstance(principal, Principal) or not isinstance(limiter, RateLimiter):
        return
    verdict = await limiter.for_principal(principal)
    setattr(request.state, _STATE_KEY, verdict)
    if not verdict.allowed:
        raise TooManyRequests(verdict)


async def _too_many_handler(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, TooManyRequests)  # noqa: S101 (registered for this class only)
    return too_many(instance_of(request), exc.verdict)


def install_rate_limits(app: FastAPI, settings: Settings) -> None:
    """Call before the routers are included (the dependency applies to routes added later)."""
    if not settings.rate_limits_enabled:
        return
    limiter = RateLimiter(settings)
    app.state.rate_limiter = limiter
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    app.add_exception_handler(TooManyRequests, _too_many_handler)
    app.router.dependencies.append(Depends(limit_principal))
    app.router.responses.update(problem_responses(429))  # documented on every route
