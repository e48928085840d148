"""`rightsflow consent experiments create|start|stop|list|results`: A/B experiments of consent
notices (services/experiments.py). Changes are audited with actor "cli"; results are counts
and rates only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from rightsflow.bootstrap import build_runtime
from rightsflow.cli.common import fail, guarded, settings_from
from rightsflow.domain import experiments as ex
from rightsflow.domain.experiments import Experiment, ExperimentStatus, Variant
from rightsflow.services import experiments
from rightsflow.services.platform import Platform

app = typer.Typer(help="A/B experiments of consent notices.", no_args_is_help=True)
out = Console()
ACTOR = "cli"
T = TypeVar("T")

KeyArg = Annotated[str, typer.Argument(help="The experiment's key, e.g. banner_copy.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (database, keys...).")]
MapOpt = Annotated[Path | None, typer.Option("--datamap", help="Data map directory.")]


def _run(call: Callable[[Platform], T], where: tuple[Path | None, Path | None, Path | None]) -> T:
    """Call with a platform built from (data dir, data map dir, settings file)."""
    data_dir, datamap, config = where
    settings = settings_from(config, data_dir=data_dir, datamap_dir=datamap)

    def run() -> T:
        runtime = build_runtime(settings)
        try:
            return call(runtime.platform)
        finally:
            runtime.close()

    return guarded(run)


def parse_variant(text: str) -> Variant:
    """`name=version` or `name=version:weight` (weight 1 when omitted)."""
    name, sep, rest = text.partition("=")
    version, _, weight = rest.partition(":")
    try:
        parsed = Variant(name.strip(), int(version), float(weight) if weight else 1.0)
    except ValueError:
        parsed = None
    if not sep or parsed is None:
        fail(f"--variant {text!r}: expected NAME=VERSION or NAME=VERSION:WEIGHT")
    return parsed


@app.command()
def create(
    key: KeyArg,
    notice: Annotated[str, typer.Option(help="The notice whose versions are tested.")],
    purpose: Annotated[str, typer.Option(help="The purpose measured (was it granted?).")],
    variant: Annotated[
        list[str],
        typer.Option(help="NAME=VERSION[:WEIGHT], 2 to 10 times; the first is the control."),
    ],
    salt: Annotated[str | None, typer.Option(help="Seeds assignment; random if omitted.")] = None,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create an experiment (a draft) over published versions of one notice."""
    new = experiments.NewExperiment(
        key, notice, purpose, tuple(parse_variant(v) for v in variant), salt
    )
    made = _run(
        lambda platform: experiments.create(platform, new, ACTOR), (data_dir, datamap, config)
    )
    _print_experiment(made)


@app.command()
def start(
    key: KeyArg, data_dir: DataDirOpt = None, datamap: MapOpt = None, config: ConfigOpt = None
) -> None:
    """Start assigning subjects."""
    _print_experiment(_run(lambda p: experiments.start(p, key, ACTOR), (data_dir, datamap, config)))


@app.command()
def stop(
    key: KeyArg, data_dir: DataDirOpt = None, datamap: MapOpt = None, config: ConfigOpt = None
) -> None:
    """Stop: nobody new is assigned, everyone sees the control; results are kept."""
    _print_experiment(_run(lambda p: experiments.stop(p, key, ACTOR), (data_dir, datamap, config)))


@app.command("list")
def list_cmd(
    status: Annotated[ExperimentStatus | None, typer.Option(help="Only these.")] = None,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Experiments, newest first."""
    found = _run(lambda p: experiments.list_experiments(p, status), (data_dir, datamap, config))
    table = Table("experiment", "notice", "purpose", "status", "variants", box=None)
    for x in found:
        names = ", ".join(f"{v.name}=v{v.notice_version}" for v in x.variants)
        table.add_row(x.key, x.notice_key, x.purpose, x.status.value, names)
    out.print(table if found else "no experiments")


@app.command()
def results(
    key: KeyArg, data_dir: DataDirOpt = None, datamap: MapOpt = None, config: ConfigOpt = None
) -> None:
    """Consent rate per variant, difference to the control (95 % Newcombe CI), z-test p-value,
    and the sample-ratio-mismatch check."""
    experiment, computed = _run(lambda p: experiments.results(p, key), (data_dir, datamap, config))
    out.print(f"{experiment.key}: {experiment.status.value}", highlight=False)
    table = Table(
        "variant", "assigned", "exposed", "chose", "granted", "rate", "diff [95% CI]", "p",
        box=None,
    )  # fmt: skip
    versus = {c.variant: c for c in computed.comparisons}
    for row in computed.variants:
        table.add_row(
            row.variant, str(row.assigned), str(row.exposures), str(row.outcomes),
            str(row.granted), _pct(row.consent_rate), *_versus(versus.get(row.variant)),
        )  # fmt: skip
    out.print(table)
    srm = computed.sample_ratio
    verdict = "MISMATCH" if srm.mismatch else "ok"
    p_text = "-" if srm.p_value is None else f"{srm.p_value:.3g}"
    out.print(f"sample ratio: {verdict} (chi-square p = {p_text}; flagged below {ex.SRM_ALPHA})")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


def _versus(comparison: ex.Comparison | None) -> tuple[str, str]:
    if comparison is None:
        return "control", ""
    if comparison.difference is None or comparison.ci_low is None or comparison.ci_high is None:
        return "-", "-"
    diff = f"{100 * comparison.difference:+.1f} pt"
    ci = f"[{100 * comparison.ci_low:+.1f}, {100 * comparison.ci_high:+.1f}]"
    return f"{diff} {ci}", f"{comparison.p_value:.3g}"


def _print_experiment(x: Experiment) -> None:
    names = ", ".join(f"{v.name}=v{v.notice_version}:{v.weight:g}" for v in x.variants)
    out.print(f"{x.key}: {x.status.value} ({x.notice_key}; {x.purpose}; {names})", highlight=False)
