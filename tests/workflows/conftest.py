from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.client import Client

from rightsflow.workflows.devserver import DevServer


@pytest.fixture(scope="session")
def temporal_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = DevServer(Path(tmp_path_factory.mktemp("temporal")), headless=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
async def temporal_client(temporal_server: DevServer) -> Client:
    return await Client.connect(temporal_server.address)
