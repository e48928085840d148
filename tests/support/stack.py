"""A real platform for tests: shop SQLite target, SQLite app database, Temporal dev server."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from temporalio.client import Client, WorkflowHandle

from rightsflow.bootstrap import Runtime, build_runtime, step_policy
from rightsflow.config import Settings
from rightsflow.sample.shop import create_shop_sqlite, write_shop_datamap
from rightsflow.workflows.contracts import workflow_id
from rightsflow.workflows.starter import TemporalStarter
from rightsflow.workflows.worker import build_worker

FAST_STEPS = {
    "step_max_attempts": 3,
    "step_initial_interval_s": 0.2,
    "step_max_interval_s": 0.5,
    "step_timeout_s": 30.0,
    "auto_approve": ["*"],  # these tests run requests; the lifecycle has tests of its own
}


def make_shop(root: Path, customers: int = 200) -> tuple[Path, Path]:
    """A shop database and its data map under `root`; returns (db, mapdir)."""
    db, mapdir = root / "shop.db", root / "datamap"
    create_shop_sqlite(db, customers=customers)
    write_shop_datamap(mapdir, db)
    return db, mapdir


def stack_settings(root: Path, mapdir: Path, temporal: str, **extra: object) -> Settings:
    return Settings(
        data_dir=root / "data",
        datamap_dir=mapdir,
        temporal_address=temporal,
        task_queue=f"tq-{root.name}",
        **{**FAST_STEPS, **extra},  # type: ignore[arg-type]
    )


@dataclass
class Stack:
    runtime: Runtime
    client: Client
    starter: TemporalStarter

    async def wait(self, request_id: str, seconds: float = 60) -> str:
        handle: WorkflowHandle[object, object] = self.client.get_workflow_handle(
            workflow_id(request_id)
        )
        return str(await asyncio.wait_for(handle.result(), seconds))


@asynccontextmanager
async def running_stack(settings: Settings, client: Client) -> AsyncIterator[Stack]:
    runtime = build_runtime(settings)
    starter = TemporalStarter(client, settings.task_queue, step_policy(settings))
    try:
        async with build_worker(
            client,
            runtime.platform,
            settings.task_queue,
            drp_allow_private_network=settings.drp_allow_private_network,
        ):
            yield Stack(runtime, client, starter)
    finally:
        runtime.close()


def rows(db: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql, params).fetchall()
