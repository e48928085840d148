"""A worker process for bulk crash tests: `python -m tests.support.bulk_crash_worker SETTINGS
MARKER`. Once a chunk of the job is done, the next erase (of the next chunk) pauses right
after the target database committed and writes MARKER, so the test can kill the process
between that chunk's writes and its bookkeeping."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from temporalio.client import Client

from rightsflow.bootstrap import build_runtime
from rightsflow.config import Settings
from rightsflow.connectors.base import Connector, RowChange
from rightsflow.connectors.registry import ConnectorRegistry, builtin_specs
from rightsflow.domain.plan import PlanNode
from rightsflow.workflows.worker import build_worker


class PausingConnector:
    def __init__(self, inner: Connector, marker: Path, app_db: str) -> None:
        self._inner, self._marker, self._app = inner, marker, sa.create_engine(app_db)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        changed = self._inner.mask(node, changes)
        with self._app.connect() as conn:
            done = conn.execute(sa.text("SELECT count(*) FROM bulk_chunks WHERE status = 'done'"))
            if done.scalar_one() >= 1:
                self._marker.write_text(node.address)
                time.sleep(60)  # the test kills us here
        return changed


async def main(settings: Settings, marker: Path) -> None:
    specs = [
        dataclasses.replace(
            s,
            factory=lambda cfg, f=s.factory: PausingConnector(
                f(cfg), marker, settings.app_database_url
            ),
        )
        for s in builtin_specs()
    ]
    runtime = build_runtime(settings, ConnectorRegistry(specs))
    assert settings.temporal_address
    client = await Client.connect(settings.temporal_address)
    await build_worker(client, runtime.platform, settings.task_queue).run()


if __name__ == "__main__":
    asyncio.run(main(Settings(**json.loads(sys.argv[1])), Path(sys.argv[2])))
