"""`rightsflow demo`: the whole platform on the embedded default, with a sample shop."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from rightsflow.cli.banner import print_started
from rightsflow.cli.common import guarded, settings_from
from rightsflow.cli.demo_people import ensure_demo_person
from rightsflow.sample.shop import create_shop_sqlite, email_for, write_shop_datamap

if TYPE_CHECKING:
    from rightsflow.cli.runner import Started

out = Console()


def demo(
    data_dir: Annotated[Path, typer.Option(help="Where the demo keeps its state.")] = Path(
        "rightsflow-demo"
    ),
    port: Annotated[int, typer.Option(help="Port for the API.")] = 8000,
    customers: Annotated[int, typer.Option(min=1, help="Customers in the sample shop.")] = 3000,
) -> None:
    """Start Rightsflow with a sample shop database and its data map."""
    from rightsflow.cli.runner import run_platform  # noqa: PLC0415 - API, Temporal: ~0.7 s

    data_dir = data_dir.expanduser().resolve()
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    shop_db = data_dir / "shop.db"
    mapdir = data_dir / "datamap"
    if not shop_db.exists():
        counts = create_shop_sqlite(shop_db, customers=customers)
        out.print(f"Created the sample shop database {shop_db} ({sum(counts.values())} rows).")
    if not (mapdir / "systems.yml").exists():
        write_shop_datamap(mapdir, shop_db)
        out.print(f"Wrote its data map to {mapdir}.")
    settings = settings_from(None, data_dir=data_dir, datamap_dir=mapdir, port=port)
    person = guarded(lambda: ensure_demo_person(settings))

    def started(info: Started) -> None:
        print_started(info, sample_email=email_for(1), console=person)

    guarded(lambda: asyncio.run(run_platform(settings, started)))
