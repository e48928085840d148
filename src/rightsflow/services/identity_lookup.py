"""Finding requests by identity without storing identities in plain text.

Identities are sealed under the request's data key; next to them, each identity is kept as a
keyed hash: vault.lookup_hash("identity:<kind>:<normalised value>") (HMAC-SHA256 under a key
derived from the master secret, which a KEK rotation never changes). Someone with the database
but not the master key cannot test a guessed address against it; an operator with the platform
can ask "which requests did alice@example.com make?".

Values are normalised before hashing so that the way a subject typed them does not matter:
emails are trimmed and lowercased; phone numbers keep a leading "+" and their digits only
("+1 (555) 010-0199" and "+15550100199" are one number; a number written without its country
code is a different one, as we cannot guess the country); other kinds are trimmed.

A purged request loses its hashes with its other records (the table belongs to the request).
"""

from __future__ import annotations

from collections.abc import Mapping

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.requests import PrivacyRequest
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork, Vault

MAX_RESULTS = 1000


def normalised(kind: str, value: str) -> str:
    text = value.strip()
    if kind == "email":
        return text.lower()
    if kind == "phone_number":
        digits = "".join(c for c in text if c.isdigit())
        return ("+" if text.startswith("+") else "") + digits
    return text


def identity_hash(vault: Vault, kind: str, value: str) -> str:
    return vault.lookup_hash(f"identity:{kind}:{normalised(kind, value)}")


def record(
    platform: Platform, uow: UnitOfWork, request_id: str, identities: Mapping[str, str]
) -> None:
    """Keep the lookup hashes of a new request's identities (in the submitting transaction)."""
    hashes = {kind: identity_hash(platform.vault, kind, v) for kind, v in identities.items()}
    uow.identities.add(request_id, hashes)


def requests_for_identity(
    platform: Platform, kind: str, value: str, limit: int = MAX_RESULTS
) -> list[PrivacyRequest]:
    """The requests made with this identity, oldest first (at most `limit`)."""
    if not value.strip():
        raise InvalidInput("an identity value is required", field=kind)
    digest = identity_hash(platform.vault, kind, value)
    with platform.uow() as uow:
        return [uow.requests.get(rid) for rid in uow.identities.request_ids(kind, digest, limit)]
