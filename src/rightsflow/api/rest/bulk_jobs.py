"""/api/v1/bulk-jobs: create a job from a file of identities, follow its progress, list its
subjects' outcomes (line numbers and problems, never identities), read a subject's signed
receipt, cancel.

The file comes as the request body (Content-Type text/csv or application/x-ndjson) or as the
`file` part of a multipart form; kind, policy and regime come as query parameters (or form
fields). Creating an erase job needs requests:approve on top of requests:write (operators and
owners), as it erases for many people at once without a review of each."""

from __future__ import annotations

import asyncio
import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, Security
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.datastructures import UploadFile

from rightsflow.api.auth import (
    ActorDep,
    AuthenticatedRoute,
    PrincipalDep,
    authorize,
    bearer_scheme,
    requires,
)
from rightsflow.api.deps import BulkDep, PlatformDep
from rightsflow.api.problems import FieldError, problem, problem_responses
from rightsflow.api.rest.bulk_upload import body_lines, file_lines
from rightsflow.api.rest.paging import decode_cursor
from rightsflow.domain.access import Scope
from rightsflow.domain.bulk import BulkKind
from rightsflow.domain.bulk_files import SUFFIX_MEDIA_TYPES, file_format
from rightsflow.domain.bulk_jobs import SubjectRecord
from rightsflow.domain.errors import InvalidInput, NotFound
from rightsflow.services import bulk_jobs, bulk_receipt
from rightsflow.services.bulk_intake import BadFile, NewBulkJob, kind_of

router = APIRouter(
    prefix="/api/v1/bulk-jobs",
    tags=["bulk jobs"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 422),
)
_KINDS: dict[str, Any] = {"enum": [k.value for k in BulkKind]}
_FILE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "properties": {"file": {"type": "string", "format": "binary"}},
                    "required": ["file"],
                }
            },
        },
    }
}


class BulkJobOut(BaseModel):
    id: str
    kind: str
    status: str
    policy: str
    regime: str
    created_by: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    failure_reason: str | None
    identity_types: list[str]
    subjects_total: int
    subjects_done: int
    subjects_failed: int
    duplicates: int  # lines dropped as repeats of an earlier line
    rows_found: int
    rows_written: int
    chunks_total: int
    chunks_done: int
    progress: float  # subjects done / total
    rate: float | None  # subjects per second over the run
    eta_s: float | None

    @classmethod
    def of(cls, view: bulk_jobs.JobView) -> BulkJobOut:
        job, p = view.job, view.progress
        return cls(
            id=job.id,
            kind=job.kind.value,
            status=job.status.value,
            policy=job.policy_key,
            regime=job.regime,
            created_by=job.created_by,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
            failure_reason=job.failure_reason,
            identity_types=list(job.identity_types),
            subjects_total=job.subjects_total,
            subjects_done=job.subjects_done,
            subjects_failed=job.subjects_failed,
            duplicates=job.duplicates,
            rows_found=job.rows_found,
            rows_written=job.rows_written,
            chunks_total=job.chunks_total,
            chunks_done=job.chunks_done,
            progress=round(p.fraction, 6),
            rate=round(p.rate, 3) if p.rate is not None else None,
            eta_s=round(p.eta_s, 1) if p.eta_s is not None else None,
        )


class BulkJobPage(BaseModel):
    items: list[BulkJobOut]
    next_cursor: str | None


class SubjectOut(BaseModel):
    seq: int  # the line of the file
    status: str  # done | failed
    problem: str | None
    rows_found: int
    rows_written: int

    @classmethod
    def of(cls, record: SubjectRecord) -> SubjectOut:
        return cls(
            seq=record.seq,
            status=record.status,
            problem=record.problem,
            rows_found=record.rows_found,
            rows_written=record.rows_written,
        )


class SubjectPage(BaseModel):
    items: list[SubjectOut]
    next_cursor: str | None


def _job_id(job_id: Annotated[str, Path(description="The job's id (a UUID)")]) -> str:
    try:
        return str(uuid.UUID(job_id))
    except ValueError:
        raise NotFound("bulk job not found") from None


JobId = Annotated[str, Depends(_job_id)]


@router.post(
    "",
    status_code=202,
    summary="Create a bulk job from a file of identities (CSV or JSON lines) and start it",
    response_model=BulkJobOut,
    responses=problem_responses(403, 409, 422),
    openapi_extra=_FILE_BODY,
)
@requires(Scope.REQUESTS_WRITE)
async def create_bulk_job(
    *,
    request: Request,
    response: Response,
    platform: PlatformDep,
    starter: BulkDep,
    principal: PrincipalDep,
    kind: Annotated[
        str | None, Query(description="erase | access", json_schema_extra=_KINDS)
    ] = None,
    policy: Annotated[str | None, Query(max_length=128)] = None,
    regime: Annotated[str | None, Query(max_length=64)] = None,
) -> BulkJobOut | JSONResponse:
    params = {"kind": kind, "policy": policy, "regime": regime}
    async with _file(request, params) as (fmt, lines):
        if params["kind"] is None:
            raise InvalidInput("kind is required: erase or access", "kind")
        if kind_of(params["kind"]) is BulkKind.ERASE:
            authorize(principal, Scope.REQUESTS_APPROVE)
        new = NewBulkJob(params["kind"], fmt, principal.actor, params["policy"], params["regime"])
        try:
            job = await bulk_jobs.create_and_start(platform, starter, new, lines)
        except BadFile as exc:
            return _bad_file(request, exc)
    response.headers["Location"] = str(request.app.url_path_for("get_bulk_job", job_id=job.id))
    return BulkJobOut.of(bulk_jobs.view(platform, job.id))


@asynccontextmanager
async def _file(
    request: Request, params: dict[str, str | None]
) -> AsyncIterator[tuple[str, Iterator[str]]]:
    """The file's format and lines; a multipart form's fields fill in missing `params`. The
    form's spooled file is closed (and deleted) when the block ends."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("multipart/form-data"):
        yield file_format(content_type), body_lines(request.stream(), asyncio.get_running_loop())
        return
    async with request.form() as form:
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise InvalidInput("a multipart upload needs a file part named 'file'", "file")
        for name, given in params.items():
            value = form.get(name)
            params[name] = given or (value if isinstance(value, str) else None)
        yield file_format(_upload_type(upload)), file_lines(upload.file)


def _upload_type(upload: UploadFile) -> str:
    name = (upload.filename or "").lower()
    for suffix, media_type in SUFFIX_MEDIA_TYPES.items():
        if name.endswith(suffix):
            return media_type
    return upload.content_type or ""


def _bad_file(request: Request, exc: BadFile) -> JSONResponse:
    errors = [FieldError(field=f"line.{b.line}", message=b.reason) for b in exc.lines]
    extra = {"bad_lines": exc.count}
    return problem(request, 422, exc.code, str(exc), errors=errors, extra=extra)


@router.get("", summary="List bulk jobs, newest first", responses=problem_responses(422))
@requires(Scope.REQUESTS_READ)
def list_bulk_jobs(
    platform: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=512, description="next_cursor")] = None,
) -> BulkJobPage:
    after = decode_cursor(cursor) if cursor is not None else None
    found = list(bulk_jobs.list_jobs(platform, after, limit + 1))
    page = found[:limit]
    last = page[-1].job if page and len(found) > limit else None
    return BulkJobPage(
        items=[BulkJobOut.of(v) for v in page],
        next_cursor=_job_cursor(last.created_at, last.id) if last else None,
    )


def _job_cursor(at: datetime, job_id: str) -> str:
    """The form paging.decode_cursor reads: base64url of "<time>|<id>"."""
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{job_id}".encode()).decode().rstrip("=")


@router.get(
    "/{job_id}",
    name="get_bulk_job",
    summary="A bulk job's progress: subjects and rows done, rate, ETA",
    responses=problem_responses(404),
)
@requires(Scope.REQUESTS_READ)
def get_bulk_job(platform: PlatformDep, job_id: JobId) -> BulkJobOut:
    return BulkJobOut.of(bulk_jobs.view(platform, job_id))


@router.post(
    "/{job_id}/cancel",
    summary="Stop a bulk job after the chunk it is running",
    responses=problem_responses(404, 409),
)
@requires(Scope.REQUESTS_WRITE)
def cancel_bulk_job(platform: PlatformDep, job_id: JobId, actor: ActorDep) -> BulkJobOut:
    canceled = bulk_jobs.cancel(platform, job_id, actor)
    return BulkJobOut.of(bulk_jobs.view_of(platform, canceled))


@router.get(
    "/{job_id}/subjects",
    summary="The job's subjects by line number, with their problems (never identities)",
    responses=problem_responses(404),
)
@requires(Scope.REQUESTS_READ)
def list_bulk_subjects(
    platform: PlatformDep,
    job_id: JobId,
    status: Annotated[
        str | None,
        Query(description="done | failed", json_schema_extra={"enum": ["done", "failed"]}),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,9}$", description="next_cursor: a line number")
    ] = None,
) -> SubjectPage:
    after = int(cursor) if cursor is not None else None
    found = list(bulk_jobs.subjects(platform, job_id, status, after, limit + 1))
    page = found[:limit]
    more = len(found) > limit
    return SubjectPage(
        items=[SubjectOut.of(r) for r in page],
        next_cursor=str(page[-1].seq) if more else None,
    )


@router.get(
    "/{job_id}/subjects/{seq}/receipt",
    summary="The signed receipt of the subject on line `seq` of the job's file",
    response_class=JSONResponse,
    responses=problem_responses(404),
)
@requires(Scope.REQUESTS_READ)
def get_bulk_receipt(
    platform: PlatformDep, job_id: JobId, seq: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> JSONResponse:
    # Sent as signed: a response model would reformat members and break the signature.
    return JSONResponse(bulk_receipt.signed(platform, job_id, seq))
