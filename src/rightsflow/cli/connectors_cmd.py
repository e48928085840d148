"""`rightsflow connectors list` and `rightsflow check`: what connectors exist, and whether every
system in a data map can be reached (without reading any data)."""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from rightsflow.connectors.registry import ConnectorRegistry, builtin_specs, default_registry
from rightsflow.domain.datamap import DataMap, System
from rightsflow.domain.errors import ConnectorFailure, DataMapInvalid, RightsflowError
from rightsflow.services.datamap import load_datamap

app = typer.Typer(help="Connector kinds: built-ins and installed plugins.", no_args_is_help=True)
out = Console()
err = Console(stderr=True)

MapArg = Annotated[Path, typer.Argument(help="Data map directory (dataset YAML + systems.yml).")]


@app.command("list")
def list_connectors(
    as_json: Annotated[bool, typer.Option("--json", help="Print the list as JSON.")] = False,
) -> None:
    """Every connector kind with its capabilities, and every plugin that failed to load."""
    registry = default_registry(strict=False)
    builtins = {spec.kind for spec in builtin_specs()}
    kinds = [registry.get(kind) for kind in registry.kinds()]
    if as_json:
        document = {
            "connectors": [
                {
                    "kind": spec.kind,
                    "builtin": spec.kind in builtins,
                    "capabilities": sorted(spec.capabilities),
                    "description": spec.description,
                }
                for spec in kinds
            ],
            "failed_plugins": [
                {"name": f.name, "entry_point": f.value, "reason": f.reason}
                for f in registry.failures()
            ],
        }
        out.print_json(json.dumps(document))
        return
    table = Table("kind", "source", "capabilities", "description")
    for spec in kinds:
        source = "built-in" if spec.kind in builtins else "plugin"
        table.add_row(
            spec.kind, source, ", ".join(sorted(spec.capabilities)), escape(spec.description)
        )
    out.print(table)
    for failure in registry.failures():
        out.print(
            f"[red]failed plugin[/red] {escape(failure.name)}: {escape(failure.reason)}",
            highlight=False,
            soft_wrap=True,
        )


def check(
    mapdir: MapArg,
    timeout: Annotated[
        float, typer.Option(min=0.1, help="Seconds to wait for each system's answer.")
    ] = 10.0,
) -> None:
    """Check that every system in the data map can be reached; exit 1 if one cannot.

    Only connects (each connector's `check`): no data is read."""
    try:
        registry = default_registry()
    except RightsflowError as exc:  # a broken plugin: `rightsflow connectors list` shows all
        err.print(f"[red]error:[/red] {escape(str(exc))}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    datamap = _load(mapdir, registry)
    unreachable = 0
    for result in check_systems(registry, datamap.systems, timeout):
        if result.reason is None:
            out.print(f"{result.system}: [green]reachable[/green]", highlight=False)
        else:
            unreachable += 1
            out.print(
                f"{result.system}: [red]unreachable:[/red] {escape(result.reason)}",
                highlight=False,
                soft_wrap=True,
            )
    if unreachable:
        err.print(f"{unreachable} of {len(datamap.systems)} system(s) unreachable.")
        raise typer.Exit(1)


@dataclass(frozen=True)
class CheckResult:
    system: str
    reason: str | None  # None: reachable; else why not (never a config value)


def check_systems(
    registry: ConnectorRegistry, systems: Sequence[System], timeout: float
) -> list[CheckResult]:
    """Check every system at once, each in a daemon thread, so a system that hangs costs at
    most `timeout` and cannot keep the process alive once we have given up on it."""
    slots: list[list[str | None]] = [[] for _ in systems]
    threads = [
        threading.Thread(
            target=_check_one, args=(registry, system, slot), daemon=True, name="rightsflow-check"
        )
        for system, slot in zip(systems, slots, strict=True)
    ]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    results = []
    for system, thread, slot in zip(systems, threads, slots, strict=True):
        thread.join(max(0.0, deadline - time.monotonic()))
        reason = slot[0] if slot else f"no answer within {timeout:g} s"
        results.append(CheckResult(system.key, reason))
    return results


def _check_one(registry: ConnectorRegistry, system: System, slot: list[str | None]) -> None:
    try:
        connector = registry.create(system.connector, system.config)
    except RightsflowError as exc:  # messages from config validation never echo values
        slot.append(str(exc))
        return
    try:
        connector.check()
        slot.append(None)
    except ConnectorFailure as exc:
        slot.append(str(exc))
    except Exception as exc:  # a plugin's bug: name it, but its message may hold anything
        slot.append(f"unexpected error in the connector ({type(exc).__name__})")
    finally:
        # Closing after a check must not change its answer.
        with contextlib.suppress(Exception):
            connector.close()


def _load(mapdir: Path, registry: ConnectorRegistry) -> DataMap:
    try:
        datamap, _ = load_datamap(mapdir, os.environ, registry.validate_config)
    except DataMapInvalid as exc:
        for problem in exc.problems:
            err.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True)
        err.print(f"{len(exc.problems)} problem(s); the data map is not valid.")
        raise typer.Exit(1) from None
    return datamap
