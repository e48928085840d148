"""The FastAPI application factory: the API's composition root.

`create_app` wires what it is given and connects to nothing; the caller (the `serve` command or
a test) builds the Settings and the ApiDeps.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import FastAPI

from rightsflow.api import drp, graphql, web
from rightsflow.api.deps import ApiDeps
from rightsflow.api.middleware import RequestIdMiddleware, install_security
from rightsflow.api.problems import install_problem_handlers
from rightsflow.api.rate_limits import install_rate_limits
from rightsflow.api.rest import (
    audit,
    bulk_jobs,
    callbacks,
    clients,
    codec,
    connectors,
    consent,
    consent_catalog,
    consent_deliveries,
    consent_read,
    decisions,
    experiments,
    gpc,
    health,
    oauth,
    package_links,
    privacy_requests,
    reports,
    request_search,
    retention,
    session,
    signing,
    subject,
    tasks,
    users,
)
from rightsflow.config import Settings

DESCRIPTION = """Privacy requests as durable, verified workflows.

Protected routes take `Authorization: Bearer <token>` (an OAuth2 access token from
`POST /oauth/token`, or the bootstrap owner token) or a console session, and name the scope
they need in `x-required-scope`; see docs/authorization.md. Errors are
`application/problem+json` (RFC 9457) whose `type` is a stable URI per kind of problem.
"""


def _version() -> str:
    try:
        return version("rightsflow")
    except PackageNotFoundError:
        return "0.0.0+unknown"


def create_app(settings: Settings, deps: ApiDeps) -> FastAPI:
    app = FastAPI(
        title="Rightsflow",
        version=_version(),
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.settings = settings
    app.state.deps = deps
    install_problem_handlers(app)
    install_rate_limits(app, settings)  # before the routers: its dependency applies to them
    app.add_middleware(RequestIdMiddleware)
    install_security(app, settings.api_base_url, settings.cors_origins)  # outermost
    app.include_router(health.router)
    # Consent first: no other router has these paths, and the state read is every service's
    # hot path (routes are matched in order; each one before it costs every read).
    app.include_router(gpc.router)  # /.well-known/gpc.json (public)
    app.include_router(consent_catalog.router)  # before any /api/v1/consent/{subject} route
    app.include_router(experiments.router)  # before any /api/v1/consent/{subject} route
    app.include_router(consent_deliveries.router)  # before any /api/v1/consent/{subject} route
    # Consent reads: after the catalogue's /api/v1/consent/purposes... (GET /{subject} would
    # take them) and before the ledger's POST /{subject} (which would take /bulk-read).
    app.include_router(consent_read.router)
    app.include_router(consent.router)  # consent writes: last, POST /{subject} takes any path
    app.include_router(request_search.router)  # before /{request_id} routes
    app.include_router(privacy_requests.router)
    app.include_router(decisions.router)
    app.include_router(subject.router)
    app.include_router(package_links.operator_router)  # signed package links
    app.include_router(package_links.subject_router)
    app.include_router(package_links.download_router)
    app.include_router(signing.router)
    app.include_router(connectors.router)
    app.include_router(callbacks.router)
    app.include_router(tasks.router)
    drp.install(app, settings, deps.platform)  # /v1/...: the Data Rights Protocol
    app.include_router(reports.router)
    app.include_router(audit.router)
    app.include_router(codec.router)  # the Temporal codec server (route-local CORS)
    app.include_router(codec.preflight)
    app.include_router(session.router)  # console sign-in (cookie + CSRF token)
    app.include_router(users.router)
    app.include_router(oauth.router)  # /oauth/token (OAuth2 errors, not problem+json)
    app.include_router(clients.router)
    app.include_router(bulk_jobs.router)
    app.include_router(retention.router)  # retention rules and sweep runs
    graphql.install(app, settings, deps)  # /graphql (Strawberry)
    web.install(app, settings, deps)  # /console, /privacy, /static: pages, last
    return app
