"""Run the platform in one process: Temporal dev server (unless an address is configured),
a worker, and the REST API. Ctrl-C stops all of it, the dev server included."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

import structlog
import uvicorn
from temporalio.client import Client

from rightsflow.api.app import create_app
from rightsflow.api.client_tokens import ClientTokens
from rightsflow.api.deps import ApiDeps
from rightsflow.api.sessions import ConsoleSessions
from rightsflow.bootstrap import (
    Runtime,
    build_runtime,
    client_service,
    step_policy,
    worker_tuning,
)
from rightsflow.cli.http_protocol import CorkedHttpToolsProtocol
from rightsflow.cli.users_cmd import people_for
from rightsflow.config import Settings
from rightsflow.services import bulk_jobs
from rightsflow.services.requests import resume_unfinished
from rightsflow.storage.tokens import ensure_admin_token, token_is_valid
from rightsflow.workflows.bulk_workflow import TemporalBulkStarter
from rightsflow.workflows.consent_workflow import TemporalConsentPropagator
from rightsflow.workflows.devserver import DevServer
from rightsflow.workflows.health import temporal_status
from rightsflow.workflows.retention_workflow import ensure_retention_schedule
from rightsflow.workflows.starter import TemporalStarter
from rightsflow.workflows.sweep_workflow import TemporalSweepLauncher, ensure_sweep_schedules
from rightsflow.workflows.worker import build_worker, connect

log = structlog.get_logger("rightsflow")


@dataclass(frozen=True)
class Started:
    url: str
    temporal_address: str
    temporal_ui: str | None
    token_file: str
    token_created: bool
    resumed: int


async def _temporal(settings: Settings) -> tuple[str, DevServer | None]:
    if settings.temporal_address:
        return settings.temporal_address, None
    server = DevServer(
        settings.data_dir,
        ui_port=settings.temporal_ui_port,
        namespace=settings.temporal_namespace,
        codec_endpoint=f"{settings.api_base_url}/codec",
    )
    await server.astart()
    return server.address, server


def _codec_origins(settings: Settings, devserver: DevServer | None) -> Settings:
    """Let the embedded dev server's UI call the codec server unless origins are configured."""
    if settings.codec_cors_origins or devserver is None or devserver.ui_url is None:
        return settings
    ui = devserver.ui_url
    origins = [ui, ui.replace("://127.0.0.1:", "://localhost:")]  # either name in a browser
    return settings.model_copy(update={"codec_cors_origins": origins})


def _app_deps(
    runtime: Runtime, client: Client, starter: TemporalStarter, bulk: TemporalBulkStarter
) -> ApiDeps:
    settings = runtime.settings

    async def readiness() -> dict[str, str]:
        database = await asyncio.to_thread(runtime.database_status)
        return {"database": database, **await temporal_status(client, settings.task_queue)}

    return ApiDeps(
        platform=runtime.platform,
        workflows=starter,
        token_is_valid=lambda token: token_is_valid(runtime.engine, token),
        readiness=readiness,
        tokens=ClientTokens(client_service(settings, runtime.engine)),
        sessions=ConsoleSessions(
            people_for(settings, runtime.engine, runtime.platform.clock),
            settings.api_base_url,
            codec_origins=tuple(settings.codec_cors_origins),
        ),
        bulk=bulk,
        sweeps=TemporalSweepLauncher(client, settings.task_queue),
    )


def _propagate_consent(runtime: Runtime, client: Client) -> None:
    """Opt-outs and withdrawals start their propagation workflow (the client exists only now,
    after the platform was built)."""
    settings = runtime.settings
    propagator = TemporalConsentPropagator(client, settings.task_queue, step_policy(settings))
    runtime.platform = dataclasses.replace(runtime.platform, consent_propagator=propagator)


async def run_platform(
    settings: Settings, on_started: Callable[[Started], None], *, worker: bool = True
) -> None:
    """The API (and the dev server unless an address is set); a worker too unless `worker` is
    False, for scale-out setups whose `rightsflow worker` processes do all the work."""
    runtime = build_runtime(settings)  # an invalid data map stops us before we listen
    devserver: DevServer | None = None
    try:
        address, devserver = await _temporal(settings)
        settings = _codec_origins(settings, devserver)
        client = await connect(address, settings.temporal_namespace, runtime.platform.vault)
        _propagate_consent(runtime, client)
        starter = TemporalStarter(client, settings.task_queue, step_policy(settings))
        bulk = TemporalBulkStarter(client, settings.task_queue, step_policy(settings))
        _, created = ensure_admin_token(runtime.engine, settings.admin_token_file)
        app = create_app(settings, _app_deps(runtime, client, starter, bulk))
        server = uvicorn.Server(
            uvicorn.Config(
                app,
                host=settings.host,
                port=settings.port,
                log_level="warning",
                access_log=False,
                # The client address is the peer's; rate_limit_trusted_proxies alone decides
                # whose X-Forwarded-For counts (uvicorn would believe 127.0.0.1's by default).
                proxy_headers=False,
                # httptools (a dependency), a response's head and body sent as one write; the
                # plain asyncio loop, never uvloop, under the Temporal worker sharing this loop.
                http=CorkedHttpToolsProtocol,
                loop="asyncio",
            )
        )
        polling = (
            build_worker(
                client,
                runtime.platform,
                settings.task_queue,
                drp_allow_private_network=settings.drp_allow_private_network,
                tuning=worker_tuning(settings),
            )
            if worker
            else contextlib.nullcontext()
        )
        async with polling:
            await ensure_retention_schedule(client, settings.task_queue, settings.retention_days)
            await ensure_sweep_schedules(
                client, settings.task_queue, runtime.platform.datamap.retention
            )
            resumed = await resume_unfinished(runtime.platform, starter)
            await bulk_jobs.resume_unfinished(runtime.platform, bulk)
            serving = asyncio.create_task(server.serve())
            while not server.started and not serving.done():  # noqa: ASYNC110 (uvicorn has no event)
                await asyncio.sleep(0.05)
            if server.started:
                on_started(
                    Started(
                        url=f"http://{settings.host}:{settings.port}",
                        temporal_address=address,
                        temporal_ui=devserver.ui_url if devserver else None,
                        token_file=str(settings.admin_token_file),
                        token_created=created,
                        resumed=resumed,
                    )
                )
            await serving
    finally:
        runtime.close()
        if devserver is not None:
            await devserver.astop()


async def run_worker(settings: Settings) -> None:
    """Only a worker, against a configured Temporal cluster (several can share the queue)."""
    runtime = build_runtime(settings)
    try:
        if not settings.temporal_address:
            raise SystemExit("a worker needs RIGHTSFLOW_TEMPORAL_ADDRESS (or --temporal-address)")
        client = await connect(
            settings.temporal_address, settings.temporal_namespace, runtime.platform.vault
        )
        _propagate_consent(runtime, client)
        await ensure_retention_schedule(client, settings.task_queue, settings.retention_days)
        await ensure_sweep_schedules(
            client, settings.task_queue, runtime.platform.datamap.retention
        )
        log.info("worker_started", task_queue=settings.task_queue)
        await build_worker(
            client,
            runtime.platform,
            settings.task_queue,
            drp_allow_private_network=settings.drp_allow_private_network,
            tuning=worker_tuning(settings),
        ).run()
    finally:
        runtime.close()
