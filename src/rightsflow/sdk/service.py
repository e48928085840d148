"""Expose the Privacy Service API from any FastAPI (ASGI) service in a few lines.

    from rightsflow.sdk import PrivacyService, SubjectRequest

    privacy = PrivacyService(secret=os.environ["RIGHTSFLOW_SECRET"], system="orders")

    @privacy.access
    def export(request: SubjectRequest) -> dict[str, list[dict]]:
        return {"orders": db.orders_of(request.identities["email"])}

    @privacy.erase
    def forget(request: SubjectRequest) -> dict[str, int]:
        return {"orders": db.anonymise_orders_of(request.identities["email"])}

    @privacy.consent
    def opted_out(notice: ConsentRequest) -> str | None:
        return db.stop_marketing_to(notice.identities, notice.purposes)  # a reference, or None

    app.include_router(privacy.router())

The SDK checks every call's signature and freshness, answers a repeated request with the
first result (so the same request twice erases once), and for handlers registered with
`slow=True` answers 202 at once and posts the result to Rightsflow's callback later.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar

import httpx
from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from rightsflow.sdk.models import (
    Accepted,
    AccessResult,
    CallbackBody,
    ConsentRequest,
    ConsentResult,
    EraseResult,
    SubjectRequest,
)
from rightsflow.sdk.signing import DEFAULT_TOLERANCE_S, HEADER, SignatureError, sign, verify

Result = AccessResult | EraseResult | ConsentResult
Handler = Callable[[SubjectRequest], Any]
ConsentHandler = Callable[[ConsentRequest], Any]
H = TypeVar("H", bound=Handler)
M = TypeVar("M", SubjectRequest, ConsentRequest)


class ResultStore(Protocol):
    """Results by (request id, operation): what makes a repeated call change nothing twice.
    Use a durable store (your database) in production; `MemoryStore` forgets on restart."""

    def get(self, key: tuple[str, str]) -> Result | None: ...

    def put(self, key: tuple[str, str], result: Result) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._results: dict[tuple[str, str], Result] = {}

    def get(self, key: tuple[str, str]) -> Result | None:
        with self._lock:
            return self._results.get(key)

    def put(self, key: tuple[str, str], result: Result) -> None:
        with self._lock:
            self._results.setdefault(key, result)


class PrivacyService:
    def __init__(
        self,
        secret: str | bytes,
        system: str,
        *,
        store: ResultStore | None = None,
        tolerance_s: int = DEFAULT_TOLERANCE_S,
        http: httpx.AsyncClient | None = None,
        prefix: str = "/privacy/v1",
    ) -> None:
        self._secret = secret.encode() if isinstance(secret, str) else secret
        self.system = system
        self._store = store or MemoryStore()
        self._tolerance = tolerance_s
        self._http = http
        self._prefix = prefix
        self._handlers: dict[str, tuple[Handler, bool]] = {}
        self._consent: ConsentHandler | None = None
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}

    def access(self, fn: H | None = None, *, slow: bool = False) -> Any:
        """Register the function that returns a subject's rows per collection."""
        return self._register("access", fn, slow)

    def erase(self, fn: H | None = None, *, slow: bool = False) -> Any:
        """Register the function that erases a subject's data; returns rows erased per
        collection. It may run again after a crash: make it idempotent too."""
        return self._register("erase", fn, slow)

    def consent(self, fn: ConsentHandler) -> ConsentHandler:
        """Register the function told about an opt-out or a withdrawal (a ConsentRequest). It
        returns None or a reference (done), or a ConsentResult (status "accepted": applied
        later). The same record twice is answered with the first result, not run again."""
        self._consent = fn
        return fn

    def _register(self, operation: str, fn: H | None, slow: bool) -> Any:
        def add(handler: H) -> H:
            self._handlers[operation] = (handler, slow)
            return handler

        return add(fn) if fn is not None else add

    def router(self) -> APIRouter:
        router = APIRouter(prefix=self._prefix, tags=["privacy service"])
        router.add_api_route("/health", self._health, methods=["GET"])
        router.add_api_route("/access", self._endpoint("access"), methods=["POST"])
        router.add_api_route("/erase", self._endpoint("erase"), methods=["POST"])
        router.add_api_route("/consent", self._serve_consent, methods=["POST"])
        return router

    async def _health(self) -> dict[str, object]:
        operations = [*self._handlers, *(["consent"] if self._consent else [])]
        return {"status": "ok", "system": self.system, "operations": sorted(operations)}

    async def _serve_consent(self, request: Request) -> JSONResponse:
        notice = await self._admit_consent(request)
        if isinstance(notice, JSONResponse):
            return notice
        key = (notice.record_id, "consent")
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # the same record arriving twice at once runs once
            done = self._store.get(key)
            if done is None:
                done = await self._tell(notice)
                self._store.put(key, done)
        return JSONResponse(done.model_dump(), status_code=202 if done.status != "done" else 200)

    async def _admit_consent(self, request: Request) -> ConsentRequest | JSONResponse:
        notice = await self._verified(request, ConsentRequest)
        if isinstance(notice, JSONResponse):
            return notice
        if notice.system != self.system:
            return _problem(422, "invalid-input", "system does not match")
        if self._consent is None:
            return _problem(501, "not-implemented", "this service does not implement consent")
        return notice

    async def _verified(self, request: Request, model: type[M]) -> M | JSONResponse:
        """The body as `model` once its signature and freshness check out, or the problem."""
        body = await request.body()
        try:
            verify(self._secret, body, request.headers.get(HEADER), tolerance_s=self._tolerance)
        except SignatureError as exc:
            return _problem(401, "unauthorized", str(exc))
        try:
            return model.model_validate_json(body)
        except ValidationError as exc:
            return _invalid(exc)

    async def _tell(self, notice: ConsentRequest) -> ConsentResult:
        handler = self._consent
        assert handler is not None  # noqa: S101 (checked on admission)
        answer = handler(notice)
        if inspect.isawaitable(answer):
            answer = await answer
        if isinstance(answer, ConsentResult):
            return answer
        return ConsentResult(reference=None if answer is None else str(answer))

    def _endpoint(self, operation: str) -> Callable[..., Awaitable[JSONResponse]]:
        async def endpoint(request: Request, background: BackgroundTasks) -> JSONResponse:
            return await self._serve(operation, request, background)

        endpoint.__name__ = f"privacy_{operation}"
        return endpoint

    async def _serve(
        self, operation: str, request: Request, background: BackgroundTasks
    ) -> JSONResponse:
        subject = await self._admit(operation, request)
        if isinstance(subject, JSONResponse):
            return subject
        done = self._store.get((subject.request_id, operation))
        if done is not None:
            return JSONResponse(done.model_dump())
        handler, slow = self._handlers[operation]
        if slow and subject.callback is not None:
            background.add_task(self._run_and_call_back, subject, handler)
            return JSONResponse(Accepted().model_dump(), status_code=202)
        result = await self._run(subject, handler)
        return JSONResponse(result.model_dump())

    async def _admit(self, operation: str, request: Request) -> SubjectRequest | JSONResponse:
        """The verified request, or the problem to answer with."""
        subject = await self._verified(request, SubjectRequest)
        if isinstance(subject, JSONResponse):
            return subject
        if subject.operation != operation or subject.system != self.system:
            return _problem(422, "invalid-input", "operation or system does not match")
        if operation not in self._handlers:
            return _problem(501, "not-implemented", f"this service does not implement {operation}")
        return subject

    async def _run(self, subject: SubjectRequest, handler: Handler) -> Result:
        key = (subject.request_id, subject.operation)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:  # the same request arriving twice at once runs once
            done = self._store.get(key)
            if done is not None:
                return done
            answer = handler(subject)
            if inspect.isawaitable(answer):
                answer = await answer
            result: Result = (
                AccessResult(rows=answer)
                if subject.operation == "access"
                else EraseResult(counts=answer)
            )
            self._store.put(key, result)
            return result

    async def _run_and_call_back(self, subject: SubjectRequest, handler: Handler) -> None:
        result = await self._run(subject, handler)
        callback = subject.callback
        assert callback is not None  # noqa: S101 (checked by the caller)
        body = (
            CallbackBody(
                request_id=subject.request_id,
                system=subject.system,
                operation=subject.operation,
                result=result,
            )
            .model_dump_json()
            .encode()
        )
        headers = {
            "Authorization": f"Bearer {callback.token}",
            "Content-Type": "application/json",
            HEADER: sign(self._secret, body),
        }
        client = self._http or httpx.AsyncClient(timeout=10)
        try:
            for attempt in range(5):
                try:
                    answer = await client.post(callback.url, content=body, headers=headers)
                    if answer.status_code < 500:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(min(30.0, 0.5 * 2**attempt))
        finally:
            if self._http is None:
                await client.aclose()


def _invalid(exc: ValidationError) -> JSONResponse:
    """A 422 naming the fields, never their values."""
    fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
    return _problem(422, "invalid-input", f"invalid fields: {', '.join(fields)}")


def _problem(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse(
        {"type": f"https://rightsflow.dev/problems/{code}", "status": status, "detail": detail},
        status_code=status,
        media_type="application/problem+json",
    )


def signed_call(
    secret: str | bytes, subject: SubjectRequest | ConsentRequest
) -> tuple[bytes, dict[str, str]]:
    """Body and headers for a call to a service (what Rightsflow's connector sends)."""
    key = secret.encode() if isinstance(secret, str) else secret
    body = json.dumps(subject.model_dump(mode="json"), separators=(",", ":")).encode()
    return body, {"Content-Type": "application/json", HEADER: sign(key, body)}
