"""The shop plus an internal service in one data map, and the platform's API served for real
(so a service can call back)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from rightsflow.api.app import create_app
from rightsflow.api.deps import ApiDeps
from tests.support.http_server import free_socket, serve, url_of
from tests.support.privacy_service import DATASET_YAML
from tests.support.stack import Stack


def add_system(mapdir: Path, system: dict[str, Any], dataset_file: str, dataset: str) -> None:
    """Add `system` (a systems.yml entry) and its dataset file to a data map directory."""
    (mapdir / dataset_file).write_text(dataset, encoding="utf-8")
    systems_file = mapdir / "systems.yml"
    doc = yaml.safe_load(systems_file.read_text(encoding="utf-8"))
    doc["systems"].append(system)
    systems_file.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")


def add_orders_service(mapdir: Path, url: str, **config: Any) -> None:
    add_system(
        mapdir,
        {
            "key": "orders-service",
            "connector": "http_service",
            "datasets": ["orders_service"],
            # The test service listens on 127.0.0.1: the SSRF guard needs the explicit allow.
            "config": {
                "url": f"{url}/privacy/v1",
                "secret": "${ORDERS_SECRET}",
                "allow_private_network": True,
                **config,
            },
        },
        "orders_service.yml",
        DATASET_YAML,
    )


async def _ready() -> dict[str, str]:
    return {"database": "ok"}


@contextmanager
def served_api(stack: Stack, sock: Any) -> Iterator[str]:
    """The platform's API on `sock` (bound before the settings named its URL)."""
    deps = ApiDeps(
        platform=stack.runtime.platform,
        workflows=stack.starter,
        token_is_valid=lambda _token: False,
        readiness=_ready,
    )
    with serve(create_app(stack.runtime.settings, deps), sock) as url:
        yield url


__all__ = ["add_orders_service", "add_system", "free_socket", "served_api", "url_of"]
