"""Taking in a bulk job's file: stream-parse it, drop duplicates, and store the subjects sealed
in chunks under the job's own data key (destroying that key shreds the whole job).

One bad line refuses the whole file: nothing of it stays (the chunks written so far are
deleted and the job's key destroyed, so even copies in a write-ahead log or a backup cannot be
opened), and the refusal lists the first `MAX_BAD_LINES` bad lines by number and reason. The
file is read to its end either way, so the count of bad lines is complete.

Chunks are committed one at a time while the file is read (a long single transaction would hold
SQLite's write lock for the whole upload); the job is listed and run only once accepted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

from rightsflow.domain.bulk import BulkKind, BulkStatus, BulkSubject
from rightsflow.domain.bulk_files import MAX_BAD_LINES, BadLine, SeenSubjects, parse
from rightsflow.domain.bulk_jobs import BulkJob
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.planner import plan_request
from rightsflow.domain.policy import Policy, policy_for
from rightsflow.domain.regimes import get_regime
from rightsflow.domain.requests import IDENTITY_TYPES, RequestType
from rightsflow.services import audit
from rightsflow.services.platform import Platform
from rightsflow.services.ports import Vault

DEFAULT_CHUNK_SIZE = 1_000
DEFAULT_REGIME = "gdpr"
_REQUEST_TYPE = {BulkKind.ERASE: RequestType.ERASURE, BulkKind.ACCESS: RequestType.ACCESS}


@dataclass(frozen=True)
class NewBulkJob:
    kind: str  # erase | access
    format: str  # csv | jsonl (domain.bulk_files.FileFormat)
    actor: str
    policy: str | None = None
    regime: str | None = None
    chunk_size: int = DEFAULT_CHUNK_SIZE


class BadFile(InvalidInput):
    """The file has bad lines; `lines` are the first few, `count` all of them."""

    def __init__(self, lines: list[BadLine], count: int) -> None:
        super().__init__(
            f"{count} bad line(s) in the file; nothing was stored (the first "
            f"{len(lines)} are listed)",
            field="file",
        )
        self.lines = lines
        self.count = count


def kind_of(raw: str) -> BulkKind:
    try:
        return BulkKind(raw)
    except ValueError:
        allowed = ", ".join(k.value for k in BulkKind)
        raise InvalidInput(f"expected one of: {allowed}", field="kind") from None


def known_identity_types(platform: Platform) -> frozenset[str]:
    return frozenset(IDENTITY_TYPES) | platform.datamap.identity_types()


def intake(platform: Platform, new: NewBulkJob, lines: Iterable[str]) -> BulkJob:
    """Read the file and store the job (PENDING, not started); `BadFile` if a line is bad."""
    kind = kind_of(new.kind)
    policy = policy_for(platform.policies, _REQUEST_TYPE[kind], new.policy)
    regime = get_regime(new.regime or DEFAULT_REGIME)
    regime.rule(_REQUEST_TYPE[kind])  # refuses a right the regime does not grant
    if not 1 <= new.chunk_size <= 10_000:
        raise InvalidInput("chunk size must be 1 to 10000", field="chunk_size")
    now = platform.clock()
    job = BulkJob(
        id=str(uuid.uuid4()),
        kind=kind,
        policy_key=policy.key,
        regime=regime.key,
        status=BulkStatus.PENDING,
        created_by=new.actor,
        created_at=now,
        identity_types=(),
        chunk_size=new.chunk_size,
    )
    with platform.uow() as uow:
        uow.bulk.add_job(job)
        uow.commit()
    try:
        staged = _stage(platform, job, new.format, lines)
        _check(staged)
        _accept(platform, job, policy, staged)
    except BaseException:
        discard(platform, job.id)
        raise
    return job


def _check(staged: _Staged) -> None:
    if staged.bad:
        raise BadFile(staged.bad, staged.bad_count)
    if not staged.subjects:
        raise InvalidInput("the file names no subjects", field="file")


@dataclass
class _Staged:
    subjects: int = 0
    duplicates: int = 0
    chunks: int = 0
    types: set[str] = field(default_factory=set)
    bad: list[BadLine] = field(default_factory=list)
    bad_count: int = 0


def _stage(platform: Platform, job: BulkJob, fmt: str, lines: Iterable[str]) -> _Staged:
    staged, seen = _Staged(), SeenSubjects()
    buffer: list[BulkSubject] = []
    for item in parse(fmt, lines, known_identity_types(platform)):
        if isinstance(item, BadLine):
            staged.bad_count += 1
            if len(staged.bad) < MAX_BAD_LINES:
                staged.bad.append(item)
            continue
        if staged.bad_count:  # refused already: read on only to count the bad lines
            continue
        if not seen.add(item.identities):
            staged.duplicates += 1
            continue
        staged.subjects += 1
        staged.types.update(item.identities)
        buffer.append(item)
        if len(buffer) >= job.chunk_size:
            _store_chunk(platform, job.id, staged.chunks, buffer)
            staged.chunks += 1
            buffer = []
    if buffer and not staged.bad_count:
        _store_chunk(platform, job.id, staged.chunks, buffer)
        staged.chunks += 1
    return staged


def _store_chunk(
    platform: Platform, job_id: str, chunk_no: int, subjects: list[BulkSubject]
) -> None:
    sealed = seal_chunk(platform.vault, job_id, subjects)
    with platform.uow() as uow:
        uow.bulk.add_chunk(job_id, chunk_no, len(subjects), sealed)
        uow.commit()


def seal_chunk(vault: Vault, job_id: str, subjects: list[BulkSubject]) -> bytes:
    doc = [[s.seq, s.identities] for s in subjects]
    return vault.seal(job_id, json.dumps(doc, separators=(",", ":")).encode())


def open_chunk(vault: Vault, job_id: str, sealed: bytes) -> list[BulkSubject]:
    return [BulkSubject(int(seq), dict(ids)) for seq, ids in json.loads(vault.open(job_id, sealed))]


def _accept(platform: Platform, job: BulkJob, policy: Policy, staged: _Staged) -> None:
    job.identity_types = tuple(sorted(staged.types))
    plan = plan_request(platform.datamap, policy, job.identity_types)
    job.subjects_total, job.duplicates = staged.subjects, staged.duplicates
    job.chunks_total = staged.chunks
    job.accepted_at = platform.clock()
    with platform.uow() as uow:
        uow.bulk.accept(job, plan.to_dict())
        audit.record(
            uow,
            job.id,
            "bulk.created",
            job.accepted_at,
            actor=job.created_by,
            kind=job.kind.value,
            policy=job.policy_key,
            subjects=job.subjects_total,
            duplicates=job.duplicates,
            chunks=job.chunks_total,
            identity_types=list(job.identity_types),
        )
        uow.commit()


def discard(platform: Platform, job_id: str) -> None:
    """Forget a job whose intake did not finish: its rows go and its key is destroyed."""
    with platform.uow() as uow:
        uow.bulk.delete_job(job_id)
        uow.commit()
    platform.vault.destroy_key(job_id)
