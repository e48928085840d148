"""The operator's choices for the lifecycle (from the settings), passed in with the Platform."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from rightsflow.domain.requests import RequestType
from rightsflow.domain.verification import VerificationPolicy

# Reading a verified person's own data, or honouring an opt-out, needs no one's judgement;
# changing or deleting data waits for an operator unless the settings say otherwise.
DEFAULT_AUTO_APPROVE = frozenset(
    {RequestType.ACCESS, RequestType.PORTABILITY, RequestType.OPT_OUT, RequestType.LIMIT_USE}
)


@dataclass(frozen=True)
class LifecycleRules:
    auto_approve: frozenset[RequestType] = DEFAULT_AUTO_APPROVE  # once verified (or exempt)
    verify_within: timedelta = timedelta(days=14)  # unverified requests expire after this
    remind_before: tuple[timedelta, ...] = (timedelta(days=7), timedelta(days=1))
    verification: VerificationPolicy = field(default_factory=VerificationPolicy)
