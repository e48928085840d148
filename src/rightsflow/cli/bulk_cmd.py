"""`rightsflow bulk erase|access FILE` and `rightsflow bulk status ID`: bulk jobs through the
running service's API (the service owns the workflow engine), with a Rich progress bar.

The file is streamed to the service, never read whole. The caller is the bootstrap owner
token of the data dir unless --token (or RIGHTSFLOW_TOKEN) names another credential; the
service is the configured public URL unless --url says otherwise."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

from rightsflow.cli.common import fail, guarded, settings_from
from rightsflow.config import Settings
from rightsflow.domain.bulk_files import SUFFIX_MEDIA_TYPES

T = TypeVar("T")
app = typer.Typer(help="Bulk jobs: erase or export many people from a file.", no_args_is_help=True)
out = Console()

RUNNING = ("pending", "running")
_READ = 256 * 1024

FileArg = Annotated[
    Path, typer.Argument(help="CSV with a header of identity types, or JSON lines (.jsonl).")
]
PolicyOpt = Annotated[str | None, typer.Option(help="Policy key (default: the kind's default).")]
RegimeOpt = Annotated[str | None, typer.Option(help="Regime, e.g. gdpr (the default).")]
FollowOpt = Annotated[bool, typer.Option("--follow", help="Show progress until the job ends.")]
UrlOpt = Annotated[str | None, typer.Option("--url", help="The service (default: public_url).")]
TokenOpt = Annotated[
    str | None,
    typer.Option("--token", envvar="RIGHTSFLOW_TOKEN", help="Bearer credential to use."),
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file.")]
DataDirOpt = Annotated[Path | None, typer.Option(help="Where state lives (the admin token).")]
PollOpt = Annotated[float, typer.Option(help="Seconds between progress polls.", min=0.1)]


@app.command()
def erase(
    file: FileArg,
    policy: PolicyOpt = None,
    regime: RegimeOpt = None,
    follow: FollowOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    poll: PollOpt = 1.0,
) -> None:
    """Erase every person in FILE (one per line), as one bulk job."""
    settings = settings_from(config, data_dir=data_dir)
    _create("erase", file, policy, regime, follow, _client(settings, url, token), poll)


@app.command()
def access(
    file: FileArg,
    policy: PolicyOpt = None,
    regime: RegimeOpt = None,
    follow: FollowOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    poll: PollOpt = 1.0,
) -> None:
    """Find the data of every person in FILE, as one bulk job."""
    settings = settings_from(config, data_dir=data_dir)
    _create("access", file, policy, regime, follow, _client(settings, url, token), poll)


@app.command()
def status(
    job_id: Annotated[str, typer.Argument(help="The job's id.")],
    follow: FollowOpt = False,
    url: UrlOpt = None,
    token: TokenOpt = None,
    data_dir: DataDirOpt = None,
    config: ConfigOpt = None,
    poll: PollOpt = 1.0,
) -> None:
    """A job's progress: subjects and rows done, rate, ETA."""
    settings = settings_from(config, data_dir=data_dir)
    with _client(settings, url, token) as client:
        job = _call(lambda: _get(client, job_id))
        if follow and job["status"] in RUNNING:
            job = _follow(client, job, poll)
    _summary(job)


def _client(settings: Settings, url: str | None, token: str | None) -> httpx.Client:
    if token is None:
        path = settings.admin_token_file
        if not path.is_file():
            fail(f"no token: give --token or start the service once (it writes {path})")
        token = path.read_text().strip()
    base = (url or settings.api_base_url).rstrip("/")
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.Client(base_url=base, headers=headers, timeout=httpx.Timeout(30, read=None))


def _create(
    kind: str,
    file: Path,
    policy: str | None,
    regime: str | None,
    follow: bool,
    client: httpx.Client,
    poll: float,
) -> None:
    media = SUFFIX_MEDIA_TYPES.get(file.suffix.lower())
    if media is None:
        fail(f"{file.name}: name a .csv, .jsonl or .ndjson file")
    if not file.is_file():
        fail(f"{file}: no such file")
    params = {k: v for k, v in (("kind", kind), ("policy", policy), ("regime", regime)) if v}
    with client:
        answer = _call(
            lambda: client.post(
                "/api/v1/bulk-jobs",
                params=params,
                content=_chunks(file),
                headers={"Content-Type": media},
            )
        )
        job = _json(answer)
        out.print(
            f"bulk job {job['id']}: {job['subjects_total']} subject(s), "
            f"{job['duplicates']} duplicate line(s) dropped"
        )
        if follow:
            job = _follow(client, job, poll)
    _summary(job)


def _call(work: Callable[[], T]) -> T:
    """One-line errors for a service that cannot be reached (or Ctrl-C)."""
    try:
        return guarded(work)
    except httpx.HTTPError as exc:
        fail(f"cannot reach the service: {type(exc).__name__}")


def _chunks(file: Path) -> Iterator[bytes]:
    with file.open("rb") as f:
        while chunk := f.read(_READ):
            yield chunk


def _get(client: httpx.Client, job_id: str) -> dict[str, Any]:
    return _json(client.get(f"/api/v1/bulk-jobs/{job_id}"))


def _json(answer: httpx.Response) -> dict[str, Any]:
    if answer.is_success:
        body: dict[str, Any] = answer.json()
        return body
    try:
        problem = answer.json()
    except ValueError:
        fail(f"the service answered {answer.status_code}")
    for error in (problem.get("errors") or [])[:20]:
        out.print(f"  {error['field']}: {error['message']}", highlight=False)
    return fail(f"{problem.get('detail') or answer.status_code}")


def _follow(client: httpx.Client, job: dict[str, Any], poll: float) -> dict[str, Any]:
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.completed}/{task.total} subjects"),
        TextColumn("{task.fields[rows]}"),
        TextColumn("{task.fields[rate]}"),
        TextColumn("{task.fields[eta]}"),
    )
    job_id = job["id"]
    with Progress(*columns, console=out, transient=False) as bar:
        task = bar.add_task(job["kind"], total=job["subjects_total"], **_fields(job))
        while job["status"] in RUNNING:
            time.sleep(poll)
            job = _call(lambda: _get(client, job_id))
            bar.update(task, completed=job["subjects_done"], **_fields(job))
    return job


def _fields(job: dict[str, Any]) -> dict[str, Any]:
    rate, eta = job.get("rate"), job.get("eta_s")
    return {
        "rows": f"rows {job['rows_found']} found, {job['rows_written']} written",
        "rate": f"{rate:.1f} subjects/s" if rate else "",
        "eta": f"ETA {_duration(eta)}" if eta is not None else "",
    }


def _duration(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _summary(job: dict[str, Any]) -> None:
    line = (
        f"{job['id']}  {job['kind']}  {job['status']}  "
        f"{job['subjects_done']}/{job['subjects_total']} subjects "
        f"({job['subjects_failed']} failed), rows {job['rows_found']} found, "
        f"{job['rows_written']} written"
    )
    out.print(line, highlight=False)
    if job.get("failure_reason"):
        out.print(f"reason: {job['failure_reason']}", highlight=False)
    if job["status"] in ("failed", "canceled") or job["subjects_failed"]:
        raise typer.Exit(1)
