"""A worker process for crash tests: `python -m tests.support.crash_worker SETTINGS_JSON MARKER`.

With a MARKER path, every erase pauses right after the target database committed and writes
MARKER, so the test can kill the process between the erase and its bookkeeping: the worst
moment for exactly-once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from temporalio.client import Client

from rightsflow.bootstrap import build_runtime
from rightsflow.config import Settings
from rightsflow.connectors.base import Connector, RowChange
from rightsflow.connectors.registry import ConnectorRegistry, builtin_specs
from rightsflow.domain.plan import PlanNode
from rightsflow.workflows.worker import build_worker


class PausingConnector:
    def __init__(self, inner: Connector, marker: Path) -> None:
        self._inner, self._marker = inner, marker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int:
        return self._paused(node, self._inner.mask(node, changes))

    def mask_returning(self, node: PlanNode, changes: Sequence[RowChange]) -> Any:
        # a write merged from concurrent requests (KeyedWrites) pauses the same way
        return self._paused(node, self._inner.mask_returning(node, changes))  # type: ignore[attr-defined]

    def _paused(self, node: PlanNode, changed: Any) -> Any:
        self._marker.write_text(node.address)
        time.sleep(30)  # the test kills us here
        return changed


def registry(marker: Path | None) -> ConnectorRegistry:
    specs = list(builtin_specs())
    if marker is not None:
        specs = [
            dataclasses.replace(
                s, factory=lambda cfg, f=s.factory: PausingConnector(f(cfg), marker)
            )
            for s in specs
        ]
    return ConnectorRegistry(specs)


async def main(settings: Settings, marker: Path | None) -> None:
    runtime = build_runtime(settings, registry(marker))
    assert settings.temporal_address
    client = await Client.connect(settings.temporal_address)
    await build_worker(client, runtime.platform, settings.task_queue).run()


if __name__ == "__main__":
    raw = json.loads(sys.argv[1])
    asyncio.run(main(Settings(**raw), Path(sys.argv[2]) if sys.argv[2] else None))
