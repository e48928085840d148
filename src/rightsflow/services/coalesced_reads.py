"""The retrieve step of many requests at once: one connector read per collection for all of
them (the union of their lookup values), each row routed back to the requests it belongs to.

Each request still gets its own sealed pages, result and audit event, written for the whole
batch in one transaction. A read that fails for the batch is tried again request by request,
so one subject's failure never fails the others.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from rightsflow.domain.connector import Row
from rightsflow.domain.errors import ConnectorFailure, RightsflowError
from rightsflow.domain.plan import PlanNode
from rightsflow.services import audit
from rightsflow.services.execution import executing_plan, retrieve
from rightsflow.services.lookups import Lookup, lookup_for
from rightsflow.services.platform import Platform
from rightsflow.services.ports import NodeResult, UnitOfWork
from rightsflow.services.row_routing import RowRouter
from rightsflow.services.rows import PAGE_ROWS, seal_page

# What a batched step gives each caller back: its own count, or its own failure.
Outcome = int | BaseException


@dataclass(frozen=True)
class Step:
    request_id: str
    address: str


@dataclass
class _Reader:
    """One request's share of a batched read: rows waiting for a full page, pages stored."""

    index: int
    step: Step
    node: PlanNode
    lookup: Lookup
    rows: list[Row] = field(default_factory=list)
    pages: int = 0
    found: int = 0


def retrieve_many(platform: Platform, steps: Sequence[Step]) -> list[Outcome]:
    """Run the retrieve step of every (request, collection) given; one outcome per step."""
    outcomes: list[Outcome | None] = [None] * len(steps)
    readers = _prepare(platform, steps, outcomes)
    for group in _by_node(readers):
        try:
            _read_together(platform, group)
        except ConnectorFailure:
            for reader in group:  # alone: only the requests whose own read fails fail
                outcomes[reader.index] = _alone(platform, reader.step)
            continue
        _finish(platform, group)
        for reader in group:
            outcomes[reader.index] = reader.found
    return [o if o is not None else RuntimeError("step not run") for o in outcomes]


def _prepare(
    platform: Platform, steps: Sequence[Step], outcomes: list[Outcome | None]
) -> list[_Reader]:
    """Everything each step needs, read in one unit of work; steps already done (a retried
    activity) or refused (not executing, not planned) get their outcome at once."""
    readers: list[_Reader] = []
    with platform.uow() as uow:
        for index, step in enumerate(steps):
            try:
                reader = _reader(platform, uow, index, step)
            except RightsflowError as exc:
                outcomes[index] = exc
                continue
            if isinstance(reader, int):
                outcomes[index] = reader
            else:
                readers.append(reader)
    return readers


def _reader(platform: Platform, uow: UnitOfWork, index: int, step: Step) -> _Reader | int:
    plan = executing_plan(uow, step.request_id)
    done = uow.results.get(step.request_id, step.address, "retrieve")
    if done is not None and done.status == "done":
        return done.rows_found
    node = plan.node(step.address)
    return _Reader(index, step, node, lookup_for(platform, uow, step.request_id, plan, node))


def _by_node(readers: list[_Reader]) -> list[list[_Reader]]:
    """Requests read together only when they read the collection the same way (same policy)."""
    groups: dict[PlanNode, list[_Reader]] = {}
    for reader in readers:
        groups.setdefault(reader.node, []).append(reader)
    return list(groups.values())


def _read_together(platform: Platform, group: list[_Reader]) -> None:
    node = group[0].node
    router: RowRouter[int] = RowRouter()
    for position, reader in enumerate(group):
        router.add(position, reader.lookup)
    connector = platform.connectors.for_system(node.system)
    for page in connector.retrieve_pages(node, router.values(), PAGE_ROWS):
        for row in page:
            for position in router.route(row):
                reader = group[position]
                reader.rows.append(row)
                reader.found += 1
                if len(reader.rows) >= PAGE_ROWS:
                    _flush_page(platform, reader)


def _flush_page(platform: Platform, reader: _Reader) -> None:
    """A subject with many rows: store its full page now, so memory stays bounded."""
    sealed = seal_page(platform.vault, reader.step.request_id, reader.rows)
    with platform.uow() as uow:
        uow.results.put_page(
            reader.step.request_id, reader.step.address, reader.pages, sealed, len(reader.rows)
        )
        uow.commit()
    reader.pages += 1
    reader.rows = []


def _finish(platform: Platform, group: list[_Reader]) -> None:
    """Last pages, results and audit events of the whole group in one transaction."""
    now = platform.clock()
    with platform.uow() as uow:
        for reader in group:
            rid, address = reader.step.request_id, reader.step.address
            if reader.rows:
                sealed = seal_page(platform.vault, rid, reader.rows)
                uow.results.put_page(rid, address, reader.pages, sealed, len(reader.rows))
                reader.pages += 1
            uow.results.clear_pages(rid, address, from_page=reader.pages)
            uow.results.put(
                NodeResult(rid, address, "retrieve", rows_found=reader.found, updated_at=now)
            )
            audit.record(
                uow,
                rid,
                "node.retrieved",
                now,
                address=address,
                rows=reader.found,
                batch=len(group),
            )
        uow.commit()


def _alone(platform: Platform, step: Step) -> Outcome:
    try:
        return retrieve(platform, step.request_id, step.address)
    except Exception as exc:  # handed to the step's own caller
        return exc
