"""`rightsflow datamap validate` and `rightsflow plan`: look at a data map without touching data."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from rightsflow.cli.introspect_cmd import introspect
from rightsflow.connectors.registry import default_registry
from rightsflow.domain.errors import DataMapInvalid, RightsflowError
from rightsflow.domain.plan import ExecutionPlan
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import policy_for
from rightsflow.domain.requests import RequestType
from rightsflow.services.datamap import load_datamap

app = typer.Typer(help="Check and explain data maps.", no_args_is_help=True)
app.command()(introspect)
out = Console()
err = Console(stderr=True)

MapArg = Annotated[Path, typer.Argument(help="Data map directory (dataset YAML + systems.yml).")]


def _load(mapdir: Path):  # type: ignore[no-untyped-def]
    registry = default_registry()
    try:
        return load_datamap(mapdir, os.environ, registry.validate_config)
    except DataMapInvalid as exc:
        for problem in exc.problems:
            err.print(f"[red]error:[/red] {problem}", highlight=False, soft_wrap=True)
        err.print(f"{len(exc.problems)} problem(s); the data map is not valid.")
        raise typer.Exit(1) from None


@app.command()
def validate(mapdir: MapArg) -> None:
    """Report every problem with its file and location; exit 1 if there is any."""
    datamap, policies = _load(mapdir)
    for warning in datamap.warnings:
        err.print(f"[yellow]warning:[/yellow] {warning}", highlight=False)
    collections = sum(len(d.collections) for d in datamap.datasets)
    out.print(
        f"[green]valid:[/green] {len(datamap.systems)} system(s), {len(datamap.datasets)} "
        f"dataset(s), {collections} collection(s), {len(policies)} polic(ies)"
    )


def plan(
    mapdir: MapArg,
    policy: Annotated[
        str, typer.Option(help="Policy key, e.g. default_access.")
    ] = "default_access",
    identity: Annotated[
        list[str] | None, typer.Option(help="Identity types the request carries (repeatable).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
    correct: Annotated[
        list[str] | None,
        typer.Option(help="Rectification: a field address it corrects (repeatable)."),
    ] = None,
) -> None:
    """Print the execution plan for a policy, without touching any data."""
    datamap, policies = _load(mapdir)
    chosen = policies.get(policy)
    if chosen is None:
        err.print(
            f"[red]error:[/red] unknown policy {policy!r}; known: {', '.join(sorted(policies))}"
        )
        raise typer.Exit(1)
    try:
        policy_for(policies, RequestType(chosen.type), chosen.key)
    except RightsflowError as exc:
        err.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from None
    result = plan_request(datamap, chosen, identity or ["email"], correct or ())
    if as_json:
        out.print_json(json.dumps(result.to_dict()))
        return
    _print_plan(result)


def _print_plan(plan: ExecutionPlan) -> None:
    out.print(
        f"[bold]{plan.request_type.value} plan[/bold] with policy {plan.policy_key}, "
        f"identities: {', '.join(plan.identity_types)}"
    )
    table = Table("wave", "collection", "system", "action", "found by", "targeted fields")
    for node in plan.nodes:
        found_by = [f"identity {i.identity} -> {i.field}" for i in node.identity_inputs]
        found_by += [
            f"{e.source_collection}.{e.source_field} -> {e.target_field}" for e in node.edge_inputs
        ]
        targets = [t.path + (f" ({t.strategy.value})" if t.strategy else "") for t in node.targets]
        targets += [f"{path} (detach: set NULL)" for path in node.detach]
        if node.exemption is not None:
            targets.append(f"kept: {node.exemption.legal_basis}")
        table.add_row(
            str(node.wave),
            node.address,
            node.system,
            node.action,
            "\n".join(found_by),
            "\n".join(targets),
        )
    out.print(table)
    if plan.erase_order:
        order = " -> ".join("{" + ", ".join(g) + "}" for g in plan.erase_order)
        out.print(f"erase order (children first): {order}")
    for skipped in plan.skipped:
        style = "red" if skipped.holds_targeted_data else "dim"
        label = "NOT REACHED" if skipped.holds_targeted_data else "skipped"
        out.print(f"[{style}]{label}[/{style}] {skipped.address}: {skipped.reason}")
    for note in plan.notes:
        out.print(f"[yellow]note:[/yellow] {note}")
