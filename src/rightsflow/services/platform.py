"""Everything a use case needs, wired once by a composition root and passed down."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from rightsflow.domain.datamap import DataMap
from rightsflow.domain.policy import Policy
from rightsflow.services.consent_cache import InProcessConsentCache
from rightsflow.services.consent_ports import ConsentCache, ConsentPropagator
from rightsflow.services.lifecycle_rules import LifecycleRules
from rightsflow.services.ports import (
    Clock,
    Connectors,
    Notifier,
    PackageStore,
    Signer,
    UnitOfWork,
    Vault,
)


@dataclass(frozen=True)
class Platform:
    uow: Callable[[], UnitOfWork]
    vault: Vault
    packages: PackageStore
    connectors: Connectors
    clock: Clock
    datamap: DataMap
    policies: Mapping[str, Policy]
    signer: Signer
    notifier: Notifier
    public_url: str  # where systems and people reach this platform's API (callbacks, tasks)
    operators: str  # who is told when a system fails or is overdue
    lifecycle: LifecycleRules = field(default_factory=LifecycleRules)
    # Current consent state documents (Redis when configured) and who tells the systems with
    # the consent capability about opt-outs (None: not propagated, e.g. in unit tests).
    consent_cache: ConsentCache = field(default_factory=InProcessConsentCache)
    consent_propagator: ConsentPropagator | None = None
    consent_regime: str = "gdpr"  # the regime of a consent call that names none
