"""A subject's stored consent state as the read API sees it (regime-independent).

`StoredConsent` is what the state query returns for one subject hash: the materialised purpose
states, the latest GPC signal seen with a write, and the latest delivery status per system told
about an opt-out. Per-regime defaults for purposes without a choice are merged when rendering
(services/consent_read.py), so one stored document serves every regime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from rightsflow.domain.consent import PurposeState

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class DeliveryStatus:
    """The latest answer of one system told about one of the subject's opt-outs."""

    system: str
    status: str  # pending | confirmed | failed
    updated_at: datetime


@dataclass(frozen=True)
class GpcSeen:
    """Whether the subject's latest write carried a GPC signal, and when it was recorded."""

    signal: bool
    at: datetime


@dataclass(frozen=True)
class StoredConsent:
    subject_hash: str
    purposes: Mapping[str, PurposeState] = field(default_factory=dict)
    gpc: GpcSeen | None = None
    systems: tuple[DeliveryStatus, ...] = ()

    @property
    def version(self) -> int:
        """Monotonic per subject: the newest change it holds, in microseconds since the epoch
        (0: nothing stored). A cache only replaces a document with one of a newer version."""
        times = [s.updated_at for s in self.purposes.values()]
        times += [d.updated_at for d in self.systems]
        if self.gpc is not None:
            times.append(self.gpc.at)
        if not times:
            return 0
        return micros(max(times))


def micros(at: datetime) -> int:
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
