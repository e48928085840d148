"""The report of a retention sweep run: counts only, never rows, keys or values."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Literal

SweepStatus = Literal["running", "completed", "failed"]


@dataclass(frozen=True)
class CollectionReport:
    """One collection of a run. `reason` says why it cannot be swept (then nothing is done)."""

    address: str
    matched: int = 0  # old rows found when the run began (a dry run: all it would change)
    deleted: int = 0
    masked: int = 0
    done: bool = False
    reason: str | None = None
    # Where the next chunk starts: the last primary key done, sealed (see services/sweeps.py).
    cursor: bytes | None = field(default=None, repr=False)

    @property
    def sweepable(self) -> bool:
        return self.reason is None


@dataclass(frozen=True)
class SweepRun:
    id: str
    rule: str
    action: str  # delete | mask
    dry_run: bool
    cutoff: datetime
    started_at: datetime
    actor: str  # who started it: "schedule" or an operator's actor
    status: SweepStatus = "running"
    finished_at: datetime | None = None
    failure: str | None = None
    collections: tuple[CollectionReport, ...] = ()

    def collection(self, address: str) -> CollectionReport:
        for c in self.collections:
            if c.address == address:
                return c
        raise KeyError(address)

    def with_collection(self, report: CollectionReport) -> SweepRun:
        """The run with `report` in its collection's place (last if the run has no such one)."""
        if all(c.address != report.address for c in self.collections):
            return replace(self, collections=(*self.collections, report))
        swapped = (report if c.address == report.address else c for c in self.collections)
        return replace(self, collections=tuple(swapped))

    @property
    def totals(self) -> dict[str, int]:
        return {
            "matched": sum(c.matched for c in self.collections),
            "deleted": sum(c.deleted for c in self.collections),
            "masked": sum(c.masked for c in self.collections),
        }

    @property
    def pending(self) -> CollectionReport | None:
        """The next collection with work left, in sweep order."""
        return next((c for c in self.collections if c.sweepable and not c.done), None)
