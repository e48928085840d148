"""The web pages: the operations console (`/console`, signed-in people) and the privacy center
(`/privacy`, the public), server-rendered from Jinja templates, with their own stylesheet.

Each is a FastAPI sub-application mounted on the API app, so pages answer in HTML (an error is
a page, not problem+json), stay out of the OpenAPI document, and share the API's middleware
(security headers, request ids) and its ApiDeps.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from starlette.responses import RedirectResponse
from starlette.routing import Route
from starlette.staticfiles import StaticFiles

from rightsflow.api.deps import ApiDeps
from rightsflow.api.web import (
    center,
    console_consent,
    console_dashboard,
    console_datamap,
    console_login,
    console_requests,
)
from rightsflow.api.web.errors import install_page_errors
from rightsflow.config import Settings

STATIC_DIR = Path(__file__).parent / "static"
CONSOLE_PATH = "/console"
CENTER_PATH = "/privacy"


def _sub_app(settings: Settings, deps: ApiDeps) -> FastAPI:
    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.deps = deps
    install_page_errors(app)
    return app


def install(app: FastAPI, settings: Settings, deps: ApiDeps) -> None:
    console = _sub_app(settings, deps)
    for module in (
        console_login,
        console_requests,
        console_dashboard,
        console_datamap,
        console_consent,
    ):
        console.include_router(module.router)
    center_app = _sub_app(settings, deps)
    center_app.include_router(center.router)
    app.mount(CONSOLE_PATH, console)
    app.mount(CENTER_PATH, center_app)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    # The site's root is the privacy center (a plain route: not part of the API's schema).
    app.router.routes.append(
        Route("/", lambda _request: RedirectResponse(f"{CENTER_PATH}/", status_code=303))
    )
