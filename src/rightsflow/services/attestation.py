"""What a person attests about a task, checked against the task before it is recorded.

Errors name the field (`rows.contacts.0.nickname`) and the declared alternatives, so the
person can fix the attestation; they echo a name the person sent only when it looks like an
identifier (a key could be anything, an email address included).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rightsflow.domain.connector import Row, SystemAnswer
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.plan import PlanNode
from rightsflow.domain.records import SystemCallRecord

OUTCOMES = ("done", "no_data", "cannot_comply")
MAX_ATTESTER = 200
MAX_REASON = 2_000
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_\-]{0,63}$")


@dataclass(frozen=True)
class Attestation:
    """`done`: rows returned (access) or rows erased per collection (erase, optional);
    `no_data`: nothing found; `cannot_comply`: not done, `reason` says why (required)."""

    outcome: str
    attested_by: str  # a name or email address: who vouches for it, shown on the receipt
    reason: str | None = None
    rows: Mapping[str, Sequence[Row]] = field(default_factory=dict, repr=False)
    counts: Mapping[str, int] = field(default_factory=dict)


def answer_for(
    nodes: Sequence[PlanNode], call: SystemCallRecord, attestation: Attestation
) -> SystemAnswer:
    """The answer `attestation` gives to `call` (whose collections are `nodes`), or
    `InvalidInput` naming what does not fit."""
    _check_person(attestation)
    by_name = {n.collection: n for n in nodes}
    if call.operation == "erase":
        if attestation.rows:
            raise InvalidInput(
                "rows are returned by access tasks; an erase task attests counts", field="rows"
            )
        _check_counts(by_name, call, attestation)
        return SystemAnswer(counts=dict(attestation.counts))
    if attestation.counts:
        raise InvalidInput(
            "counts are attested by erase tasks; an access task returns rows", field="counts"
        )
    _check_rows(by_name, call, attestation)
    return SystemAnswer(rows={name: list(rows) for name, rows in attestation.rows.items()})


def _check_person(attestation: Attestation) -> None:
    if attestation.outcome not in OUTCOMES:
        raise InvalidInput(f"expected one of: {', '.join(OUTCOMES)}", field="outcome")
    who = attestation.attested_by.strip()
    if not who or len(who) > MAX_ATTESTER or _has_control(who):
        raise InvalidInput(
            f"say who attests: a name or email address, one line, at most {MAX_ATTESTER} "
            "characters",
            field="attested_by",
        )
    reason = (attestation.reason or "").strip()
    if attestation.outcome == "cannot_comply" and not reason:
        raise InvalidInput("cannot_comply needs a reason", field="reason")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"at most {MAX_REASON} characters", field="reason")


def _has_control(text: str) -> bool:
    return any(ord(ch) < 32 or ord(ch) == 127 for ch in text)


def _check_rows(
    by_name: Mapping[str, PlanNode], call: SystemCallRecord, attestation: Attestation
) -> None:
    if attestation.outcome != "done" and any(attestation.rows.values()):
        raise InvalidInput(f"{attestation.outcome} means no rows are returned", field="rows")
    for name, rows in attestation.rows.items():
        node = _node(by_name, call, name, "rows")
        declared = set(node.fetch_fields)
        for index, row in enumerate(rows):
            if not isinstance(row, Mapping):
                raise InvalidInput(
                    "a row is an object of field: value", field=f"rows.{name}.{index}"
                )
            extra = sorted(str(key) for key in row if key not in declared)
            if extra:
                raise InvalidInput(
                    f"rows.{name}[{index}]: {_shown(extra)} not declared in {node.address}; "
                    f"its fields: {', '.join(node.fetch_fields)}",
                    field=f"rows.{name}.{index}.{extra[0]}",
                )


def _check_counts(
    by_name: Mapping[str, PlanNode], call: SystemCallRecord, attestation: Attestation
) -> None:
    for name, count in attestation.counts.items():
        _node(by_name, call, name, "counts")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise InvalidInput(
                "a count is a whole number of rows, 0 or more", field=f"counts.{name}"
            )
        if count and attestation.outcome != "done":
            raise InvalidInput(
                f"{attestation.outcome} means no rows were erased", field=f"counts.{name}"
            )


def _node(
    by_name: Mapping[str, PlanNode], call: SystemCallRecord, name: str, where: str
) -> PlanNode:
    node = by_name.get(name)
    if node is None:
        raise InvalidInput(
            f"{where}: {_shown([name])} not a collection of {call.system} in this task; "
            f"its collections: {', '.join(sorted(by_name)) or 'none'}",
            field=f"{where}.{name}",
        )
    return node


def _shown(names: Iterable[str]) -> str:
    """Names as given when they look like identifiers; anything else is not repeated."""
    listed = list(names)
    safe = [repr(n) for n in listed if _NAME.fullmatch(n)]
    hidden = len(listed) - len(safe)
    parts = safe + ([f"{hidden} other name(s)"] if hidden else [])
    return ", ".join(parts) + (" is" if len(listed) == 1 else " are")
