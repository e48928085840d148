"""A realistic year of requests for the report tests, written through the storage repositories.

Times sit on the edges that matter: the CCPA year is California's (2026 runs from
2026-01-01T08:00Z to 2027-01-01T08:00Z), the summary's days are UTC unless asked otherwise, and
2026-03-08 is the day Los Angeles moves its clocks forward (a 23-hour day). The expected numbers
in the tests are worked out by hand from the comments here.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine

from rightsflow.domain.datamap import Exemption
from rightsflow.domain.plan import ExecutionPlan, IdentityInput, PlanNode
from rightsflow.domain.records import NodeResult, SystemCallRecord
from rightsflow.domain.requests import PrivacyRequest, RequestStatus, RequestType
from rightsflow.storage.uow import SqlUnitOfWork

NOW = datetime(2027, 3, 1, tzinfo=UTC)  # when the reports are run
S = RequestStatus
T = RequestType


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@dataclass(frozen=True)
class Seed:
    name: str
    type: RequestType
    status: RequestStatus
    received: str
    days: float | None = None  # closed this many days after receipt
    due_days: float = 45
    regime: str = "ccpa"
    denial: str | None = None
    legacy: bool = False  # closed before the lifecycle columns: completed_at only
    kept_rows: int | None = None  # erasure plan keeps shop:orders; rows found there
    found_in_masked: int = 0  # rows found in the masked collection (not withheld)
    call: tuple[str, str | None] | None = None  # a system call's (status, outcome)


SEEDS: tuple[Seed, ...] = (
    # Know. K0 is 2025-12-31 23:59:59 in Los Angeles: CCPA 2025, but 2026 in UTC.
    Seed("K0", T.ACCESS, S.COMPLETED, "2026-01-01T07:59:59", 1),
    Seed("K1", T.ACCESS, S.COMPLETED, "2026-01-01T08:00:00", 2),
    Seed("K2", T.PORTABILITY, S.COMPLETED, "2026-02-10T12:00:00", 10.5),
    Seed("K3", T.ACCESS, S.COMPLETED, "2026-05-01T00:00:00", 45, call=("overdue", None)),
    Seed("K4", T.ACCESS, S.DENIED, "2026-07-01T00:00:00", 3, 2, denial="identity_not_verified"),
    Seed("K5", T.ACCESS, S.EXPIRED, "2026-08-01T00:00:00", 30),
    Seed("K6", T.ACCESS, S.CANCELED, "2026-09-01T00:00:00", 1),
    Seed("K7", T.ACCESS, S.COMPLETED, "2026-10-01T00:00:00", 4.25, legacy=True),
    Seed("K8", T.ACCESS, S.FAILED, "2026-11-01T00:00:00"),
    # Delete. D1 spans the DST change (01:30 PST to 02:30 PDT): 24 hours are 1.0 day.
    Seed("D1", T.ERASURE, S.COMPLETED, "2026-03-08T09:30:00", 1, kept_rows=0),
    Seed("D2", T.ERASURE, S.COMPLETED, "2026-04-01T00:00:00", 10.25, 10, kept_rows=3),
    Seed("D3", T.ERASURE, S.COMPLETED, "2026-04-02T00:00:00", 5, kept_rows=0, found_in_masked=4),
    Seed("D4", T.ERASURE, S.DENIED, "2026-06-01T00:00:00", 7, denial="exemption_applies"),
    Seed(
        "D5",
        T.ERASURE,
        S.DENIED,
        "2026-06-02T00:00:00",
        2,
        denial="manifestly_unfounded_or_excessive",
    ),
    # D6 is 2026-12-31 23:59:59 in Los Angeles (CCPA 2026) but 2027 in UTC; D7 is 2027 in both.
    Seed("D6", T.ERASURE, S.EXECUTING, "2027-01-01T07:59:59"),
    Seed("D7", T.ERASURE, S.COMPLETED, "2027-01-01T08:00:00", 1),
    Seed(
        "D8",
        T.ERASURE,
        S.COMPLETED,
        "2026-12-01T00:00:00",
        30.5,
        call=("answered", "cannot_comply"),
    ),
    # Correct
    Seed("C1", T.RECTIFICATION, S.COMPLETED, "2026-06-30T23:00:00", 1.5),
    Seed(
        "C2", T.RECTIFICATION, S.DENIED, "2026-07-05T00:00:00", 0.25, denial="agent_not_authorized"
    ),
    Seed("C3", T.RECTIFICATION, S.DENIED, "2026-07-06T00:00:00", 1, denial="outside_jurisdiction"),
    # Opt-out of sale/sharing and limit use
    Seed("O1", T.OPT_OUT, S.COMPLETED, "2026-05-05T00:00:00", 0.05, 21),
    Seed("O2", T.OPT_OUT, S.COMPLETED, "2026-05-06T00:00:00", 15, 21),
    Seed("O3", T.OPT_OUT, S.RECEIVED, "2026-12-20T00:00:00", None, 21),
    Seed("L1", T.LIMIT_USE, S.DENIED, "2026-10-10T00:00:00", 2, 21, denial="suspected_fraud"),
    Seed("L2", T.LIMIT_USE, S.COMPLETED, "2026-10-11T00:00:00", 1, 21),
    # Not a §7102 type, and other regimes (in the CCPA report only for all regimes)
    Seed("R1", T.RESTRICTION, S.COMPLETED, "2026-04-04T00:00:00", 1),
    Seed("G1", T.ACCESS, S.COMPLETED, "2026-05-01T00:00:00", 10, 30, regime="gdpr"),
    # 2026-03-08 23:30 and 2026-03-09 00:30 in Los Angeles (PDT, UTC-7)
    Seed("G2", T.ERASURE, S.EXECUTING, "2026-03-09T06:30:00", None, 30, regime="gdpr"),
    Seed("G3", T.ERASURE, S.CANCELED, "2026-03-09T07:30:00", 2, 30, regime="gdpr"),
)


def _node(address: str, action: str, exemption: Exemption | None = None) -> PlanNode:
    return PlanNode(
        address=address,
        system="shop",
        connector="sql",
        wave=0,
        primary_key=("id",),
        identity_inputs=(IdentityInput("email", "email"),),
        edge_inputs=(),
        targets=(),
        fetch_fields=("id", "email"),
        action=action,
        exemption=exemption,
    )


def erasure_plan() -> dict[str, object]:
    tax = Exemption("tax law: keep invoices", "10 years")
    plan = ExecutionPlan(
        request_type=T.ERASURE,
        policy_key="default",
        identity_types=("email",),
        nodes=(_node("shop:customers", "mask"), _node("shop:orders", "keep", tax)),
        erase_order=(("shop:customers",),),
        skipped=(),
    )
    return plan.to_dict()


def _request(seed: Seed) -> PrivacyRequest:
    received = at(seed.received)
    closed = received + timedelta(days=seed.days) if seed.days is not None else None
    return PrivacyRequest(
        id=str(uuid.uuid4()),
        type=seed.type,
        regime=seed.regime,
        policy_key="default",
        status=seed.status,
        received_at=received,
        due_at=received + timedelta(days=seed.due_days),
        identity_types=("email",),
        denial_reason=seed.denial,
        closed_at=None if seed.legacy else closed,
        completed_at=closed if seed.status is S.COMPLETED else None,
    )


def _extras(uow: SqlUnitOfWork, seed: Seed, request_id: str) -> None:
    if seed.kept_rows is not None:
        uow.requests.save_plan(request_id, erasure_plan())
        kept = NodeResult(request_id, "shop:orders", "retrieve", rows_found=seed.kept_rows)
        masked = NodeResult(
            request_id, "shop:customers", "retrieve", rows_found=seed.found_in_masked
        )
        uow.results.put(kept)
        uow.results.put(masked)
    if seed.call is not None:
        status, outcome = seed.call
        received = at(seed.received)
        uow.calls.put(
            SystemCallRecord(
                id=str(uuid.uuid4()),
                request_id=request_id,
                system="crm",
                operation="erase" if seed.type is T.ERASURE else "access",
                status=status,
                issued_at=received,
                due_at=received + timedelta(days=7),
                outcome=outcome,
                detail="see the receipt",
            )
        )


def seed_requests(engine: Engine, seeds: tuple[Seed, ...] = SEEDS) -> dict[str, str]:
    """Write the seeds; returns seed name -> request id."""
    ids: dict[str, str] = {}
    with SqlUnitOfWork(engine) as uow:
        for seed in seeds:
            request = _request(seed)
            uow.requests.add(request, b"sealed-identities-never-read-by-reports")
            _extras(uow, seed, request.id)
            ids[seed.name] = request.id
        uow.commit()
    return ids
