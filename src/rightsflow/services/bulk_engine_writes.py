"""Bulk chunks: write each collection once for the whole chunk, then read it again.

A set-based write that fails without hope of a retry (a constraint, a value the column
rejects) is tried again on each half of the subjects, and so on down to single subjects:
only those whose rows fail get a problem, at a cost of about 2·log2(n) calls per failing
subject. A retryable failure raises: the caller retries the chunk, and guarded writes change
nothing twice.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping, Sequence
from typing import TypeVar

from rightsflow.domain.connector import Row, RowChange, Scalar, WriteOutcome
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.masking import CannotMask
from rightsflow.domain.plan import PlanNode
from rightsflow.services.bulk_engine_rows import Chunk, Counts, failure_reason, subject_lookup
from rightsflow.services.erasure import key_of
from rightsflow.services.lookups import normalised
from rightsflow.services.platform import Platform
from rightsflow.services.row_routing import RowRouter
from rightsflow.services.writes import WriteContext, changes_for, remaining_rows

T = TypeVar("T")
Key = tuple[str, ...]  # a primary key in normalised text form, to compare rows across reads
Work = dict[int, dict[Key, T]]  # seq -> the subject's keys or changes, each row once


def write_chunk(
    platform: Platform,
    chunk: Chunk,
    asked: Collection[str],
    ctx: WriteContext,
    on_rows: Callable[[int], None] | None,
) -> None:
    """Write every collection in the plan's erase order (children first), set-based."""
    for group in chunk.plan.erase_order:
        for address in group:
            node = chunk.plan.node(address)
            if node.system in asked:
                continue  # asked per request, not set-based (see bulk_engine)
            written = _write_node(platform, chunk, node, ctx)
            if on_rows is not None and written:
                on_rows(written)


def _write_node(platform: Platform, chunk: Chunk, node: PlanNode, ctx: WriteContext) -> int:
    """One delete or mask for the live subjects' rows; returns how many distinct rows."""
    rows_of = {s.seq: chunk.rows[s.seq].get(node.address, []) for s in chunk.live()}
    rows_of = {seq: rows for seq, rows in rows_of.items() if rows}
    connector = platform.connectors.for_system(node.system)
    if node.action == "delete":
        keys: Work[dict[str, Scalar]] = {
            seq: {_key(node, r): key_of(node, r) for r in rows} for seq, rows in rows_of.items()
        }
        written = _apply(chunk, node, keys, lambda items: connector.delete(node, items))
        _count(chunk, chunk.deleted, node, keys)
        return written
    changes = _changes(chunk, node, rows_of, ctx)
    written = _apply(chunk, node, changes, lambda items: connector.mask(node, items))
    _count(chunk, chunk.masked, node, changes)
    return written


def _changes(
    chunk: Chunk, node: PlanNode, rows_of: Mapping[int, list[Row]], ctx: WriteContext
) -> Work[RowChange]:
    """Each subject's guarded changes (a row shared by two subjects is computed once)."""
    known: dict[Key, RowChange | None] = {}
    out: Work[RowChange] = {}
    for seq, rows in rows_of.items():
        mine: dict[Key, RowChange] = {}
        try:
            for row in rows:
                key = _key(node, row)
                if key not in known:
                    found = changes_for(node, [row], ctx)
                    known[key] = found[0] if found else None
                change = known[key]
                if change is not None:
                    mine[key] = change
        except CannotMask as exc:  # the rule cannot fit one of this subject's values
            chunk.fail([seq], f"{node.address}: {exc}")
            continue
        out[seq] = mine
    return out


def _count(chunk: Chunk, counts: Counts, node: PlanNode, work: Work[T]) -> None:
    """Each subject's rows written, once the write is done (a subject it failed wrote none)."""
    for seq, items in work.items():
        if seq not in chunk.problems:
            counts[(seq, node.address)] = len(items)


def _apply(
    chunk: Chunk,
    node: PlanNode,
    work: Work[T],
    write: Callable[[list[T]], int | WriteOutcome],
) -> int:
    """Write the union of the subjects' items; on a non-retryable failure, bisect."""
    seqs = [seq for seq, items in work.items() if items]
    union: dict[Key, T] = {}
    for seq in seqs:
        union.update(work[seq])
    if not union:
        return 0
    try:
        write(list(union.values()))
    except ConnectorFailure as exc:
        if exc.retryable:
            raise
        if len(seqs) == 1:
            chunk.fail(seqs, failure_reason(node.address, exc))
            return 0
        half = len(seqs) // 2
        return sum(
            _apply(chunk, node, {seq: work[seq] for seq in part}, write)
            for part in (seqs[:half], seqs[half:])
        )
    return len(union)


def recheck_chunk(
    platform: Platform, chunk: Chunk, asked: Collection[str], ctx: WriteContext
) -> None:
    """Read every written collection again, set-based; record what each subject has left."""
    for node in chunk.plan.nodes:
        if node.erases and node.system not in asked:
            _recheck_node(platform, chunk, node, ctx)


def _recheck_node(platform: Platform, chunk: Chunk, node: PlanNode, ctx: WriteContext) -> None:
    """Rows by the keys found before and by the lookups again (a row may have appeared since),
    one call each for the chunk, judged per subject by `remaining_rows`."""
    live = chunk.live()
    before = {s.seq: chunk.rows[s.seq].get(node.address, []) for s in live}
    router: RowRouter[int] = RowRouter()
    for s in live:
        router.add(s.seq, subject_lookup(chunk.plan, node, s.identities, chunk.rows[s.seq]))
    keys = {_key(node, r): key_of(node, r) for rows in before.values() for r in rows}
    values = router.values()
    connector = platform.connectors.for_system(node.system)
    try:
        fetched = connector.fetch_by_keys(node, list(keys.values())) if keys else []
        again = connector.retrieve(node, values) if values else []
    except ConnectorFailure as exc:
        if exc.retryable:
            raise
        chunk.fail([s.seq for s in live], failure_reason(node.address, exc))
        return
    by_key = {_key(node, r): r for r in fetched}
    routed = router.split(again)
    for s in live:
        mine = [by_key[k] for k in (_key(node, r) for r in before[s.seq]) if k in by_key]
        now = _dedupe(node, [*mine, *routed[s.seq]])
        chunk.remaining[(s.seq, node.address)] = remaining_rows(node, before[s.seq], now, ctx)


def _key(node: PlanNode, row: Row) -> Key:
    return tuple(normalised(row.get(name)) for name in node.primary_key)


def _dedupe(node: PlanNode, rows: Sequence[Row]) -> list[Row]:
    seen: dict[Key, Row] = {}
    for row in rows:
        seen.setdefault(_key(node, row), row)
    return list(seen.values())
