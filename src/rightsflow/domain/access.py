"""Who may do what: scopes per resource and action, the roles people hold, and the principal a
request to the API was authenticated as.

A service (OAuth2 client) holds the scopes it was granted; a person holds a role, and a role is
a fixed set of scopes. Every protected route names exactly one scope; `docs/authorization.md` is
the matrix of routes x roles, and a test checks the app against it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from rightsflow.domain.errors import InvalidInput


class Scope(StrEnum):
    REQUESTS_READ = "requests:read"  # list and read requests, results, receipts, their audit
    REQUESTS_WRITE = "requests:write"  # submit, cancel, retry
    REQUESTS_APPROVE = "requests:approve"  # approve, deny, extend, verify manually, resend, unlock
    PACKAGES_READ = "packages:read"  # download access packages (personal data) and make links
    DATAMAP_READ = "datamap:read"  # connectors, systems
    DATAMAP_WRITE = "datamap:write"  # change the data map
    TASKS_READ = "tasks:read"  # the list of open manual tasks (never identities)
    AUDIT_READ = "audit:read"  # the audit log, its export and verification
    REPORTS_READ = "reports:read"  # regulatory metrics
    CONSENT_READ = "consent:read"
    CONSENT_WRITE = "consent:write"
    PAYLOADS_DECODE = "payloads:decode"  # the Temporal codec server (workflow payloads)
    ACCESS_ADMIN = "access:admin"  # clients, users, the bootstrap credential


class Role(StrEnum):
    OWNER = "owner"
    PRIVACY_OPERATOR = "privacy_operator"
    REVIEWER = "reviewer"
    VIEWER = "viewer"


_VIEW = frozenset({Scope.REQUESTS_READ, Scope.DATAMAP_READ, Scope.TASKS_READ, Scope.REPORTS_READ})
_REVIEW = _VIEW | {Scope.REQUESTS_APPROVE, Scope.AUDIT_READ, Scope.CONSENT_READ}
_OPERATE = _REVIEW | {
    Scope.REQUESTS_WRITE,
    Scope.PACKAGES_READ,
    Scope.CONSENT_WRITE,
    Scope.PAYLOADS_DECODE,
}

ROLE_SCOPES: dict[Role, frozenset[Scope]] = {
    Role.OWNER: frozenset(Scope),
    Role.PRIVACY_OPERATOR: frozenset(_OPERATE),
    Role.REVIEWER: frozenset(_REVIEW),
    Role.VIEWER: _VIEW,
}


def parse_scopes(raw: Iterable[str]) -> frozenset[Scope]:
    """Scopes from their names; an unknown name is an error that names it and lists the rest."""
    scopes: set[Scope] = set()
    for name in raw:
        try:
            scopes.add(Scope(name.strip()))
        except ValueError:
            known = ", ".join(s.value for s in Scope)
            raise InvalidInput(
                f"unknown scope {name.strip()!r}; known: {known}", "scopes"
            ) from None
    if not scopes:
        raise InvalidInput("at least one scope is required", "scopes")
    return frozenset(scopes)


def parse_role(raw: str) -> Role:
    try:
        return Role(raw.strip())
    except ValueError:
        known = ", ".join(r.value for r in Role)
        raise InvalidInput(f"unknown role {raw.strip()!r}; known: {known}", "role") from None


class PrincipalKind(StrEnum):
    BOOTSTRAP = "bootstrap"  # the embedded default's owner token (data_dir/admin-token)
    CLIENT = "client"  # a service, through an OAuth2 access token
    USER = "user"  # a person, through a console session


@dataclass(frozen=True)
class Principal:
    kind: PrincipalKind
    id: str
    scopes: frozenset[Scope]
    role: Role | None = None  # people only

    @property
    def actor(self) -> str:
        """How the audit trail names this principal (ids only, never a person's name)."""
        return f"{self.kind.value}:{self.id}"

    def may(self, scope: Scope) -> bool:
        return scope in self.scopes


BOOTSTRAP_OWNER = Principal(PrincipalKind.BOOTSTRAP, "owner", ROLE_SCOPES[Role.OWNER], Role.OWNER)
