"""What the platform asks of a connector, in domain types only.

The plugin boundary (`rightsflow.connectors.base`) re-exports this Protocol and adds the spec
and registry. Services depend on this module, never on a concrete connector.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from rightsflow.domain.plan import PlanNode

Row = dict[str, Any]
# A key value that can be looked up (collections may be keyed on text, numbers, uuids ...).
Scalar = str | int | float | bool | None


@dataclass(frozen=True)
class RowChange:
    """Set `values` on the row whose primary key is `key`, unless it already holds them.

    The guard makes an erase idempotent: applying the same change twice touches the row once.
    """

    key: Mapping[str, Scalar]
    values: Mapping[str, Any]


@dataclass(frozen=True)
class WriteOutcome:
    """A write's row count plus what it did beyond rows, for the receipt: e.g.
    `{"files_rewritten": ("part-0.parquet",), "snapshots_expired": ("8123",)}`. Names and ids
    only, never values. A connector with nothing more to say returns a plain int."""

    rows: int
    evidence: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


def rows_written(outcome: int | WriteOutcome) -> int:
    return outcome.rows if isinstance(outcome, WriteOutcome) else outcome


class Connector(Protocol):
    """One configured system. Every method works on many rows at once; none opens a
    connection per row. Raise `ConnectorFailure` for failures of the target system."""

    def retrieve(self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]]) -> list[Row]:
        """Rows where any lookup field (top-level or dotted) holds one of its values.

        Only `node.fetch_fields` are returned. An empty `lookups` returns no rows."""
        ...

    def retrieve_pages(
        self, node: PlanNode, lookups: Mapping[str, Sequence[Scalar]], page_size: int
    ) -> Iterator[list[Row]]:
        """The rows `retrieve` returns, as pages of at most `page_size` rows, each row once,
        read lazily (keyset pagination, never OFFSET), so a subject with millions of rows in
        one collection is streamed in bounded memory."""
        ...

    def fetch_by_keys(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> list[Row]:
        """Rows with these primary keys (those that still exist), `node.fetch_fields` only."""
        ...

    def mask(self, node: PlanNode, changes: Sequence[RowChange]) -> int | WriteOutcome:
        """Apply the changes in one transaction; return how many rows actually changed."""
        ...

    def delete(self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]) -> int | WriteOutcome:
        """Delete these rows in one transaction; return how many existed."""
        ...

    def check(self) -> None:
        """Raise `ConnectorFailure` if the system cannot be reached."""
        ...

    def close(self) -> None: ...


@runtime_checkable
class AgedRows(Protocol):
    """Optional for row connectors: the rows a retention sweep finds (rows whose age field
    is older than a cutoff), in primary-key order and in chunks (keyset, never OFFSET).

    Connectors without it cannot be swept: their rules are reported as not sweepable."""

    def count_aged(self, node: PlanNode, age_field: str, cutoff: datetime) -> int:
        """How many rows of the collection have `age_field` before `cutoff` (NULL: never)."""
        ...

    def aged_rows(
        self,
        node: PlanNode,
        age_field: str,
        cutoff: datetime,
        after: Sequence[Scalar] | None,
        limit: int,
    ) -> list[Row]:
        """At most `limit` such rows whose primary key (in `node.primary_key` order) is after
        `after` (None: from the first), ordered by it; `node.fetch_fields` plus the key."""
        ...


# -- Systems that do the work themselves ------------------------------------------------------
# An internal service (Privacy Service API) or a person (manual task) is asked once per request
# and operation for all its collections, and may answer later; the platform waits durably.


@dataclass(frozen=True)
class Callback:
    """Where a system posts a late answer, and the one-time token that proves it was asked."""

    url: str
    token: str = field(repr=False)


@dataclass(frozen=True)
class SystemCall:
    """One question to a system about one subject. `request_id` is the system's idempotency
    key: asking twice with the same id must change nothing twice."""

    request_id: str
    system: str
    operation: str  # "access" | "erase"
    collections: tuple[PlanNode, ...]
    identities: Mapping[str, str] = field(repr=False)  # identity type -> the subject's value
    keys: Mapping[str, Sequence[Scalar]] = field(repr=False)  # field -> values found upstream
    categories: tuple[str, ...] = ()  # the data categories the request targets here
    callback: Callback | None = None


@dataclass(frozen=True)
class SystemAnswer:
    """What a system answered: rows per collection (access), rows erased per collection
    (erase), or `pending` when the answer comes later through the callback."""

    rows: Mapping[str, list[Row]] = field(default_factory=dict, repr=False)
    counts: Mapping[str, int] = field(default_factory=dict)
    pending: bool = False
    # A callback says which question it answers: (request id, system, operation) as sent.
    about: tuple[str, str, str] | None = None


@dataclass(frozen=True)
class WaitPolicy:
    """How long the platform waits for a pending answer, how often it reminds, and whom."""

    answer_within_s: float
    remind_every_s: float
    assignee: str | None = None  # a person to notify (manual tasks); None: operators only
    instructions: str | None = None


@runtime_checkable
class SystemConnector(Protocol):
    """A system asked per subject rather than per row. Raise `ConnectorFailure` on failure."""

    wait: WaitPolicy
    rechecks: bool  # whether it can be asked again after an erase to verify it (a person: no)

    def call(self, call: SystemCall) -> SystemAnswer: ...

    def read_callback(self, body: bytes, headers: Mapping[str, str]) -> SystemAnswer:
        """Check a callback's signature and parse it; raise `ConnectorFailure` if it is not
        a well-formed answer signed by this system."""
        ...

    def check(self) -> None: ...

    def close(self) -> None: ...


# -- Writes that say which rows they changed --------------------------------------------------
KeyTuple = tuple[Scalar, ...]  # a row's primary key values, in `node.primary_key` order


@runtime_checkable
class KeyedWrites(Protocol):
    """Optional for row connectors: a write that returns the keys of the rows it changed, so
    one write merged from many requests' rows can be credited to each request exactly."""

    def writes_return_keys(self) -> bool:
        """Whether this system can (e.g. a database with RETURNING)."""
        ...

    def delete_returning(
        self, node: PlanNode, keys: Sequence[Mapping[str, Scalar]]
    ) -> list[KeyTuple]: ...

    def mask_returning(self, node: PlanNode, changes: Sequence[RowChange]) -> list[KeyTuple]:
        """As `mask`; the keys of the rows that really changed (the guard skips the others)."""
        ...


# -- Consent: telling systems about opt-outs and withdrawals ----------------------------------


@dataclass(frozen=True)
class ConsentNotice:
    """One consent record as a system is told it. `record_id` is the system's idempotency
    key: telling it twice must change nothing twice. `purposes` maps each purpose of the
    record to its effective choice (False: opted out or withdrawn)."""

    record_id: str
    system: str  # the system's key in the data map (what it is told as)
    identities: Mapping[str, str] = field(repr=False)  # subject kind -> the subject's value
    purposes: Mapping[str, bool]
    source: str
    regime: str
    recorded_at: datetime

    def withdrawn(self) -> frozenset[str]:
        return frozenset(purpose for purpose, granted in self.purposes.items() if not granted)


@dataclass(frozen=True)
class ConsentAck:
    """What a system answered: `confirmed` (it applied the choice), or not yet (it accepted it
    and applies it later); `reference` is the system's own id for it, if it gives one."""

    confirmed: bool
    reference: str | None = None


@runtime_checkable
class ConsentReceiver(Protocol):
    """Optional for any connector (capability "consent"): a system told about opt-outs and
    withdrawals. Raise `ConnectorFailure` when the system fails."""

    def wants_consent(self, subject_kind: str, withdrawn: frozenset[str]) -> bool:
        """Whether to tell it about a record of a subject of this kind withdrawing these
        purposes (its config may turn telling off; a vendor may know people by email only,
        or act on some purposes only)."""
        ...

    def tell_consent(self, notice: ConsentNotice) -> ConsentAck: ...
