"""`rightsflow datamap introspect`: draft (or refresh) a fideslang dataset from a live database.

Reads the schema, merges it into `MAPDIR/<KEY>.yml` (keeping what a human wrote), prints what
changed, and binds the dataset in `systems.yml` when there is none. `--check` writes nothing
and exits 1 when the map and the database differ, for CI.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.markup import escape

from rightsflow.cli.common import guarded
from rightsflow.connectors.sql_introspect import (
    default_dataset_key,
    introspect_database,
    shareable_url,
)
from rightsflow.domain.datamap_draft import Change, Draft, dump_yaml
from rightsflow.domain.datamap_merge import merge_document
from rightsflow.domain.datamap_parse import SYSTEMS_FILE
from rightsflow.domain.errors import InvalidInput

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)
_KEY = re.compile(r"[A-Za-z0-9_.\-]{1,100}")
_STYLE = {"+": "green", "-": "bold red", "~": "yellow"}

UrlArg = Annotated[
    str,
    typer.Argument(
        help="sqlite:///file.db, postgresql://user@host/db or mysql://user@host/db",
        metavar="DATABASE_URL",
        show_default=False,
    ),
]
OutOpt = Annotated[Path, typer.Option("-o", "--output", help="Data map directory to write into.")]
SchemaOpt = Annotated[
    str | None, typer.Option("--schema", help="Database schema (default: the connection's).")
]
KeyOpt = Annotated[
    str | None, typer.Option("--dataset", help="Dataset key (default: schema or database name).")
]
CheckOpt = Annotated[
    bool, typer.Option("--check", help="Write nothing; exit 1 if the map differs (for CI).")
]


def introspect(
    database_url: UrlArg,
    output: OutOpt,
    schema: SchemaOpt = None,
    dataset: KeyOpt = None,
    check: CheckOpt = False,
) -> None:
    """Draft a data map from a live database; re-run to merge schema changes into it."""
    drift = guarded(lambda: _introspect(database_url, output, schema, dataset, check=check))
    if drift:
        raise typer.Exit(1)


def _introspect(
    url: str, mapdir: Path, schema: str | None, key: str | None, *, check: bool
) -> bool:
    """Do the work; True when `--check` found the map out of date."""
    key = key or default_dataset_key(url, schema)
    if not _KEY.fullmatch(key):
        raise InvalidInput(f"dataset key {key!r}: use letters, digits, '_', '.' or '-'")
    if not check:
        _check_writable(mapdir)
    path = mapdir / f"{key}.yml"
    existing = _read_yaml(path)
    with err.status("reading the database schema") as status:
        db = introspect_database(url, schema, progress=lambda m: status.update(escape(m)))
    for note in db.notes:
        err.print(f"[yellow]note:[/yellow] {escape(note)}")
    try:
        draft = merge_document(existing, db, key)
    except InvalidInput as exc:
        raise InvalidInput(f"{path}: {exc}") from None
    _print_changes(draft, path)
    if check:
        state = "up to date"
        if draft.drift:
            state = "missing" if draft.created else "differs from the database"
        out.print(f"{escape(str(path))}: {state}")
        return draft.drift
    if not draft.drift:
        out.print(f"{escape(str(path))}: no schema changes")
    mapdir.mkdir(parents=True, exist_ok=True)
    _write(path, dump_yaml(draft.document))
    tables = len(db.tables)
    columns = sum(len(t.columns) for t in db.tables)
    out.print(
        f"wrote {escape(str(path))}: {tables} collection(s), {columns} field(s), "
        f"{draft.review_count()} marked for review (fides_meta.rightsflow.review)"
    )
    _bind(mapdir, key, url, schema)
    return False


def _check_writable(mapdir: Path) -> None:
    """Fail before reading the database if the map cannot be written where asked."""
    existing = next(p for p in (mapdir.absolute(), *mapdir.absolute().parents) if p.exists())
    if not existing.is_dir():
        raise InvalidInput(f"cannot write to {mapdir}: {existing} is not a directory")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise InvalidInput(f"cannot write to {mapdir}: {existing} is not writable")


def _read_yaml(path: Path) -> Any:
    if not path.exists():
        return None
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        raise InvalidInput(f"{path}: not valid YAML; fix or remove it first") from None


def _print_changes(draft: Draft, path: Path) -> None:
    if not draft.changes:
        return
    out.print(f"{escape(str(path))}: {len(draft.changes)} change(s) since the last run")
    for change in draft.changes:
        out.print(_line(change))


def _line(change: Change) -> str:
    style = _STYLE[change.sign]
    return f"  [{style}]{escape(str(change))}[/{style}]"


def _bind(mapdir: Path, key: str, url: str, schema: str | None) -> None:
    """Write systems.yml if there is none; else say what to add if it lacks the dataset."""
    variable = re.sub(r"[^A-Za-z0-9]", "_", key).upper() + "_DB_PASSWORD"
    url_text, secret = shareable_url(url, variable)
    config: dict[str, Any] = {"url": url_text}
    if schema:
        config["schema"] = schema
    system = {"key": key, "connector": "sql", "datasets": [key], "config": config}
    systems = mapdir / SYSTEMS_FILE
    if not systems.exists():
        _write(systems, dump_yaml({"systems": [system]}))
        out.print(f"wrote {escape(str(systems))}: system {key!r} (connector sql)")
    elif not _binds(systems, key):
        lines = dump_yaml([system]).rstrip("\n").replace("\n", "\n  ")
        out.print(f"{escape(str(systems))} does not bind dataset {key!r}; add under `systems:`")
        out.print(f"  {escape(lines)}")
    else:
        return
    if secret:
        out.print(
            f"set {variable} to the database password (URL-encoded) wherever the data map is "
            "loaded; the password is not written to any file"
        )


def _binds(systems: Path, key: str) -> bool:
    try:
        doc = yaml.safe_load(systems.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
    entries = doc.get("systems") if isinstance(doc, dict) else None
    return any(
        isinstance(s, dict) and isinstance(s.get("datasets"), list) and key in s["datasets"]
        for s in entries or ()
    )


def _write(path: Path, text: str) -> None:
    """Replace `path` atomically (a crash leaves the old file), and only if the text changed."""
    if path.exists() and path.read_text(encoding="utf-8") == text:
        return
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    tmp = Path(name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        tmp.chmod(0o644)  # a data map, not a secret: readable like any other config file
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
