"""The chunk engine of bulk jobs: many subjects' requests run as set-based statements.

A chunk (say 1,000 subjects of one job, one plan) is read wave by wave with ONE connector call
per collection for the union of the subjects' lookup values; each row read goes back to the
subjects whose own lookup matches it (`RowRouter`). An erasure then writes each collection in
the plan's erase order (children first) with ONE delete or mask for the chunk, and reads every
written collection again, set-based, to judge each subject's rows (`remaining_rows`).

What a subject sees and counts is its own: rows found and written per subject come from
routing (a row two subjects share counts for both), and a write that fails is retried on
halves of the chunk until only the subjects whose rows fail are left with a problem. A
non-retryable read failure fails the subjects that needed the collection; a retryable one
(the system is down) raises `ConnectorFailure` so the caller retries the whole chunk, which is
safe: the connectors' writes are guarded, so nothing is changed twice.

Systems that answer for themselves (an internal service, a person) are asked per request,
not set-based: they are not called here, and every subject's outcome names them as a problem.
A subject with a problem is left out of every later read and write of the chunk, as a
request's workflow stops at its first failure.

Nothing here audits or logs: the caller records each chunk. Problems name collections and
reasons, never values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from rightsflow.domain.bulk import BulkSubject, CollectionOutcome, SubjectOutcome
from rightsflow.domain.errors import Conflict, InvalidInput
from rightsflow.domain.plan import ExecutionPlan
from rightsflow.domain.requests import RequestType
from rightsflow.domain.system_waves import plan_waves
from rightsflow.services.bulk_engine_rows import Chunk, ChunkRows, read_node, subject_lookup
from rightsflow.services.bulk_engine_writes import recheck_chunk, write_chunk
from rightsflow.services.erasure import mask_keys
from rightsflow.services.platform import Platform
from rightsflow.services.writes import WriteContext

__all__ = ["ChunkRows", "read_chunk", "run_chunk", "subject_lookup"]

OnRows = Callable[[int], None]


def run_chunk(
    platform: Platform,
    plan: ExecutionPlan,
    subjects: Sequence[BulkSubject],
    *,
    on_rows: OnRows | None = None,
) -> list[SubjectOutcome]:
    """Run the plan for every subject of the chunk; one outcome per subject, in order.

    `on_rows(n)` is told of progress as it happens: n more rows found (access) or written
    (erasure), counted once however many subjects share them."""
    _check(plan, subjects)
    asked = _asked(platform, plan)
    erasing = not plan.request_type.reads_only
    rows = _read(platform, plan, subjects, asked, None if erasing else on_rows)
    chunk = Chunk(plan, subjects, rows)
    if erasing:
        context = WriteContext(mask_keys(platform.vault.masking_key()))
        write_chunk(platform, chunk, asked, context, on_rows)
        recheck_chunk(platform, chunk, asked, context)
    return _outcomes(chunk, asked)


def read_chunk(
    platform: Platform,
    plan: ExecutionPlan,
    subjects: Sequence[BulkSubject],
    *,
    on_rows: OnRows | None = None,
) -> ChunkRows:
    """Every subject's rows (seq -> collection address -> rows), read set-based wave by wave;
    `.problems` holds the subjects whose reads failed (seq -> problem). Systems that answer
    for themselves are not asked (`run_chunk` reports them)."""
    _check(plan, subjects)
    return _read(platform, plan, subjects, _asked(platform, plan), on_rows)


def _read(
    platform: Platform,
    plan: ExecutionPlan,
    subjects: Sequence[BulkSubject],
    asked: set[str],
    on_rows: OnRows | None,
) -> ChunkRows:
    out = ChunkRows({s.seq: {} for s in subjects})
    for wave in plan_waves(plan, asked).rows:
        for address in wave:
            node = plan.node(address)
            live = [s for s in subjects if s.seq not in out.problems]
            found = read_node(platform, plan, node, live, out)
            if on_rows is not None and found:
                on_rows(found)
    return out


def _check(plan: ExecutionPlan, subjects: Sequence[BulkSubject]) -> None:
    if plan.request_type is RequestType.RECTIFICATION:
        # Corrections are per subject; a chunk shares one write context.
        raise Conflict("bulk jobs cannot rectify: each subject has its own corrections")
    if len({s.seq for s in subjects}) != len(subjects):
        raise InvalidInput("a chunk holds each subject (line) once", field="seq")


def _asked(platform: Platform, plan: ExecutionPlan) -> set[str]:
    return {n.system for n in plan.nodes if platform.connectors.answers_itself(n.system)}


def _outcomes(chunk: Chunk, asked: set[str]) -> list[SubjectOutcome]:
    notes = [f"system {system} must be asked per request" for system in sorted(asked)]
    nodes = [n for n in chunk.plan.nodes if n.system not in asked]
    out: list[SubjectOutcome] = []
    for subject in chunk.subjects:
        seq = subject.seq
        found = chunk.rows[seq]
        lines = [
            CollectionOutcome(
                node.address,
                rows_found=len(found.get(node.address, ())),
                rows_deleted=chunk.deleted.get((seq, node.address), 0),
                rows_masked=chunk.masked.get((seq, node.address), 0),
                rows_kept=len(found.get(node.address, ())) if node.action == "keep" else 0,
                remaining=chunk.remaining.get((seq, node.address), 0),
            )
            for node in nodes
        ]
        problems = [p for p in (chunk.problems.get(seq), *notes) if p]
        out.append(SubjectOutcome(seq, lines, "; ".join(problems) or None))
    return out
