"""Errors on web pages are pages: the same status codes as the API, a short safe message in
the visitor's language, never SQL, stack traces or the input that caused them."""

from __future__ import annotations

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import RedirectResponse, Response

from rightsflow.api.problems import Forbidden, Unauthorized
from rightsflow.api.web.console_auth import LoginRequired
from rightsflow.api.web.pages import render, translator
from rightsflow.domain.errors import Conflict, InvalidInput, NotFound, RightsflowError

log = structlog.get_logger("rightsflow.web")


def error_page(request: Request, status_code: int, message: str) -> Response:
    words = translator(request)
    return render(
        request,
        "error.html",
        {"status_code": status_code, "message": words.text(message)},
        status_code=status_code,
    )


async def _login(_request: Request, exc: Exception) -> Response:
    target = exc.next_path if isinstance(exc, LoginRequired) else "/console/login"
    return RedirectResponse(target, status_code=303)


async def _forbidden(request: Request, exc: Exception) -> Response:
    detail = exc.detail if isinstance(exc, Forbidden) else "Not allowed."
    return error_page(request, 403, detail)


async def _unauthorized(request: Request, _exc: Exception) -> Response:
    return error_page(request, 401, "Please sign in again.")


async def _domain(request: Request, exc: Exception) -> Response:
    # Domain messages are written not to carry personal data (the API shows them too).
    if isinstance(exc, NotFound):
        return error_page(request, 404, "Not found.")
    if isinstance(exc, InvalidInput | Conflict):
        return error_page(request, 409 if isinstance(exc, Conflict) else 422, str(exc))
    return error_page(request, 400, "The request could not be completed.")


async def _validation(request: Request, _exc: Exception) -> Response:
    return error_page(request, 422, "Some of the values sent were not valid.")


async def _http(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, StarletteHTTPException) else 500
    return error_page(request, status, "Not found." if status == 404 else "Something went wrong.")


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.error("web.page_failed", path=request.url.path, error=type(exc).__name__)
    return error_page(request, 500, "Something went wrong. Please try again later.")


def install_page_errors(app: FastAPI) -> None:
    app.add_exception_handler(LoginRequired, _login)
    app.add_exception_handler(Forbidden, _forbidden)
    app.add_exception_handler(Unauthorized, _unauthorized)
    app.add_exception_handler(RightsflowError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(Exception, _unexpected)
