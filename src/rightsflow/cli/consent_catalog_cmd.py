"""`rightsflow consent purposes ...` and `rightsflow consent notices ...`: the consent catalogue
(services/consent_catalog.py). Changes are audited with actor "cli".

Purposes: list, show, put (create or update), retire. Notices: list (newest version of each),
versions, publish (the next version, from a file), show (one version with its text).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Annotated, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from rightsflow.bootstrap import build_runtime
from rightsflow.cli.common import fail, guarded, settings_from
from rightsflow.domain.consent import Notice, Purpose
from rightsflow.domain.consent_catalog import MAX_NOTICE_TEXT, text_sha256
from rightsflow.services import consent_catalog as catalog
from rightsflow.services.platform import Platform

ACTOR = "cli"
T = TypeVar("T")

purposes_app = typer.Typer(help="Purposes people are asked about.", no_args_is_help=True)
notices_app = typer.Typer(help="Versioned notices (texts never change).", no_args_is_help=True)
out = Console()

KeyArg = Annotated[str, typer.Argument(help="e.g. analytics")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (database, keys...).")]
MapOpt = Annotated[Path | None, typer.Option("--datamap", help="Data map directory.")]
BasisOpt = Annotated[
    list[str] | None,
    typer.Option("--basis", help="REGIME=legal basis, repeatable (e.g. gdpr='Art. 6(1)(a)')."),
]


def _with_platform(
    config: Path | None, data_dir: Path | None, datamap: Path | None, use: Callable[[Platform], T]
) -> T:
    settings = settings_from(config, data_dir=data_dir, datamap_dir=datamap)

    def run() -> T:
        runtime = build_runtime(settings)
        try:
            return use(runtime.platform)
        finally:
            runtime.close()

    return guarded(run)


# -- purposes ------------------------------------------------------------------------------------
@purposes_app.command("list")
def list_purposes(
    include_retired: Annotated[bool, typer.Option("--all", help="Also retired ones.")] = False,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """The purposes, by key."""
    found = _with_platform(
        config, data_dir, datamap, lambda p: catalog.list_purposes(p, include_retired)
    )
    table = Table("key", "name", "gpc", "essential", "retired", box=None)
    for p in found:
        table.add_row(p.key, p.name, _yes(p.gpc), _yes(p.essential), _yes(p.retired))
    out.print(table if found else "no purposes")


@purposes_app.command("show")
def show_purpose(
    key: KeyArg, data_dir: DataDirOpt = None, datamap: MapOpt = None, config: ConfigOpt = None
) -> None:
    """One purpose with its legal basis per regime."""
    _print_purpose(_with_platform(config, data_dir, datamap, lambda p: catalog.get_purpose(p, key)))


@purposes_app.command("put")
def put_purpose(
    key: KeyArg,
    name: Annotated[str, typer.Option(help="What people see.")],
    description: Annotated[str, typer.Option(help="One or two sentences.")] = "",
    basis: BasisOpt = None,
    default_basis: Annotated[str, typer.Option(help="For regimes without a --basis.")] = "",
    gpc: Annotated[bool, typer.Option("--gpc/--no-gpc", help="GPC opts people out.")] = False,
    essential: Annotated[
        bool, typer.Option("--essential/--no-essential", help="Always on.")
    ] = False,
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Create or update a purpose (a retired purpose stays retired)."""
    purpose = guarded(
        lambda: Purpose(
            key, name, description, _bases(basis or []), default_basis, gpc=gpc, essential=essential
        )
    )
    stored, created = _with_platform(
        config, data_dir, datamap, lambda p: catalog.put_purpose(p, purpose, ACTOR)
    )
    out.print(f"{'created' if created else 'updated'} purpose {stored.key}", highlight=False)


@purposes_app.command("retire")
def retire_purpose(
    key: KeyArg, data_dir: DataDirOpt = None, datamap: MapOpt = None, config: ConfigOpt = None
) -> None:
    """Retire a purpose: kept with its history, refused in new choices and notices."""
    _with_platform(config, data_dir, datamap, lambda p: catalog.retire_purpose(p, key, ACTOR))
    out.print(f"retired purpose {key}", highlight=False)


# -- notices -------------------------------------------------------------------------------------
@notices_app.command("list")
def list_notices(
    data_dir: DataDirOpt = None, datamap: MapOpt = None, config: ConfigOpt = None
) -> None:
    """Every notice's newest version."""
    _print_versions(_with_platform(config, data_dir, datamap, catalog.latest_notices), "no notices")


@notices_app.command("versions")
def notice_versions(
    key: KeyArg, data_dir: DataDirOpt = None, datamap: MapOpt = None, config: ConfigOpt = None
) -> None:
    """A notice's published versions, oldest first."""
    versions = _with_platform(config, data_dir, datamap, lambda p: catalog.notice_versions(p, key))
    _print_versions(versions, "no versions")


@notices_app.command("publish")
def publish_notice(
    key: KeyArg,
    file: Annotated[Path, typer.Option("--file", help="The notice text (UTF-8, e.g. Markdown).")],
    purposes: Annotated[str, typer.Option(help="Comma-separated purpose keys.")],
    language: Annotated[str, typer.Option(help="Language tag, e.g. en or pt-BR.")] = "en",
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Publish the next version of a notice."""
    text = guarded(lambda: _read_text(file))
    keys = [k.strip() for k in purposes.split(",") if k.strip()]
    notice = _with_platform(
        config,
        data_dir,
        datamap,
        lambda p: catalog.publish_notice(p, key, text, keys, actor=ACTOR, language=language),
    )
    digest = text_sha256(notice.text)
    out.print(f"published {key} v{notice.version} (sha256 {digest})", highlight=False)


@notices_app.command("show")
def show_notice(
    key: KeyArg,
    version: Annotated[int, typer.Argument(min=1)],
    data_dir: DataDirOpt = None,
    datamap: MapOpt = None,
    config: ConfigOpt = None,
) -> None:
    """One version: its facts, then its text."""
    notice = _with_platform(
        config, data_dir, datamap, lambda p: catalog.get_notice(p, key, version)
    )
    _print_versions([notice], "")
    out.print(f"sha256 {text_sha256(notice.text)}", highlight=False)
    out.print()
    out.print(notice.text, markup=False, highlight=False)


# -- helpers -------------------------------------------------------------------------------------
def _bases(pairs: list[str]) -> dict[str, str]:
    bases: dict[str, str] = {}
    for pair in pairs:
        regime, sep, basis = pair.partition("=")
        if not sep or not regime.strip():
            fail("--basis takes REGIME=legal basis, e.g. gdpr='Art. 6(1)(a) consent'")
        bases[regime.strip()] = basis.strip()
    return bases


def _read_text(file: Path) -> str:
    if file.stat().st_size > 4 * MAX_NOTICE_TEXT:  # UTF-8 is at most 4 bytes a character
        fail(f"{file.name}: longer than {MAX_NOTICE_TEXT} characters")
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        fail(f"{file.name}: not UTF-8 text")


def _yes(flag: bool) -> str:
    return "yes" if flag else ""


def _print_purpose(purpose: Purpose) -> None:
    out.print(f"{purpose.key}: {purpose.name}", highlight=False)
    if purpose.description:
        out.print(purpose.description, highlight=False)
    flags = [n for n, on in (("gpc", purpose.gpc), ("essential", purpose.essential)) if on]
    flags += ["retired"] if purpose.retired else []
    if flags:
        out.print(", ".join(flags))
    table = Table("regime", "legal basis", box=None)
    for regime, basis in sorted(purpose.legal_bases.items()):
        table.add_row(regime, basis)
    if purpose.default_basis:
        table.add_row("(other)", purpose.default_basis)
    out.print(table)


def _print_versions(notices: Sequence[Notice], empty: str) -> None:
    table = Table("key", "version", "language", "published", "purposes", box=None)
    for n in notices:
        published = n.published_at.strftime("%Y-%m-%d %H:%M") if n.published_at else ""
        table.add_row(n.key, str(n.version), n.language, published, ", ".join(n.purposes))
    if notices or not empty:
        out.print(table)
    else:
        out.print(empty)
