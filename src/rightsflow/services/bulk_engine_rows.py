"""Bulk chunks: what a chunk holds (rows per subject, problems, counts) and how one
collection is read for every subject of the chunk with one connector call."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from rightsflow.domain.bulk import BulkSubject
from rightsflow.domain.connector import Row
from rightsflow.domain.errors import ConnectorFailure
from rightsflow.domain.plan import ExecutionPlan, PlanNode
from rightsflow.services.lookups import Lookup, lookup_from
from rightsflow.services.platform import Platform
from rightsflow.services.row_routing import RowRouter
from rightsflow.services.rows import PAGE_ROWS

Counts = dict[tuple[int, str], int]  # (seq, collection address) -> rows


class ChunkRows(dict[int, dict[str, list[Row]]]):
    """Rows found per subject: seq -> collection address -> rows. `problems` names the
    subjects whose reads failed (seq -> "dataset:collection: reason")."""

    def __init__(self, rows: Mapping[int, dict[str, list[Row]]] | None = None) -> None:
        super().__init__(rows or {})
        self.problems: dict[int, str] = {}


@dataclass
class Chunk:
    """One chunk on its way through the engine: rows read, problems and counts per subject."""

    plan: ExecutionPlan
    subjects: Sequence[BulkSubject]
    rows: ChunkRows
    deleted: Counts = field(default_factory=dict)
    masked: Counts = field(default_factory=dict)
    remaining: Counts = field(default_factory=dict)

    @property
    def problems(self) -> dict[int, str]:
        """The subjects with a problem (seq -> problem): read problems, then write ones."""
        return self.rows.problems

    def live(self) -> list[BulkSubject]:
        """The subjects without a problem so far (the only ones read or written further)."""
        return [s for s in self.subjects if s.seq not in self.problems]

    def fail(self, seqs: Sequence[int], problem: str) -> None:
        for seq in seqs:
            self.problems.setdefault(seq, problem)


def failure_reason(address: str, exc: Exception) -> str:
    """ "dataset:collection: reason" (connectors' messages usually name the collection)."""
    text = str(exc)
    return text if text.startswith(f"{address}:") else f"{address}: {text}"


def read_node(
    platform: Platform,
    plan: ExecutionPlan,
    node: PlanNode,
    subjects: Sequence[BulkSubject],
    out: ChunkRows,
) -> int:
    """Read one collection for `subjects` into `out` with one connector call; returns how many
    distinct rows. A non-retryable failure fails the subjects that needed the collection."""
    router: RowRouter[int] = RowRouter()
    needing: list[int] = []
    for subject in subjects:
        lookup = subject_lookup(plan, node, subject.identities, out[subject.seq])
        router.add(subject.seq, lookup)
        if lookup.values:
            needing.append(subject.seq)
        out[subject.seq][node.address] = []
    values = router.values()
    if not values:
        return 0
    distinct = 0
    try:
        connector = platform.connectors.for_system(node.system)
        for page in connector.retrieve_pages(node, values, PAGE_ROWS):
            for row in page:
                members = router.route(row)
                distinct += bool(members)
                for seq in members:
                    out[seq][node.address].append(row)
    except ConnectorFailure as exc:
        if exc.retryable:
            raise  # the system is down: the caller retries the whole chunk
        problem = failure_reason(node.address, exc)
        for seq in needing:
            out.problems.setdefault(seq, problem)
            out[seq][node.address] = []
    return distinct


def subject_lookup(
    plan: ExecutionPlan,
    node: PlanNode,
    identities: Mapping[str, str],
    found: Mapping[str, Sequence[Row]],
) -> Lookup:
    """One subject's lookup for `node`: its identities and the values of the rows found for it
    upstream (`lookups.lookup_for` over rows in memory instead of stored pages)."""
    return lookup_from(plan, node, identities, lambda source: found.get(source, ()))
