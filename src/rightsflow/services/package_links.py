"""Signed, expiring, single-subject links to an access package.

A link is `/api/v1/packages/{request_id}?expires=<unix seconds>&sig=<signature>`, where the
signature is HMAC-SHA256 over the purpose, the request id and the expiry, under a key of its
own: derived from the vault's keyed hash with a fixed label (as subject tokens are), so every
API process agrees on it without a new secret, and nothing is stored per link. It opens that
one request's package until it expires and nothing else; changing any part breaks the
signature. Making a link and every download through one are audited (no IP address).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from rightsflow.domain.errors import RightsflowError
from rightsflow.services import audit, package
from rightsflow.services.platform import Platform
from rightsflow.services.ports import Vault

PURPOSE = "package-download"
LINK_ACTOR = "package-link"  # the audit actor of a download through a link
_KEY_LABEL = "package-link-key/v1"
_MAX_EXPIRES_DIGITS = 12


class LinkInvalid(RightsflowError):
    """Not a link we made for this request (altered, for another request, or malformed)."""

    code = "link-invalid"


class LinkExpired(RightsflowError):
    """A link we made, past its expiry."""

    code = "link-expired"


@dataclass(frozen=True)
class PackageLink:
    request_id: str
    expires: int  # unix seconds
    signature: str

    @property
    def path(self) -> str:
        return f"/api/v1/packages/{self.request_id}?expires={self.expires}&sig={self.signature}"

    @property
    def expires_at(self) -> datetime:
        return datetime.fromtimestamp(self.expires, UTC)


def issue(platform: Platform, request_id: str, actor: str, ttl: timedelta) -> PackageLink:
    """A link to the package of a completed access or portability request; audited."""
    with platform.uow() as uow:
        # The download's own rule, so a link is only made when it can work.
        package.check_ready(uow.requests.get(request_id))
        now = platform.clock()
        expires = int((now + ttl).timestamp())
        link = PackageLink(request_id, expires, _sign(platform.vault, request_id, expires))
        audit.record(
            uow,
            request_id,
            "package.link_created",
            now,
            actor=actor,
            expires_at=link.expires_at.isoformat(),
        )
        uow.commit()
    return link


def check(platform: Platform, request_id: str, expires: str, signature: str) -> None:
    """LinkInvalid unless we signed exactly this; then LinkExpired once it is past its expiry
    (only a genuine link learns that it expired)."""
    if not expires.isdigit() or len(expires) > _MAX_EXPIRES_DIGITS:
        raise LinkInvalid("this link is not valid")
    expected = _sign(platform.vault, request_id, int(expires))
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise LinkInvalid("this link is not valid")
    if platform.clock().timestamp() >= int(expires):
        raise LinkExpired("this link has expired; ask for a new one")


def open_by_link(
    platform: Platform, request_id: str, expires: str, signature: str
) -> Iterator[bytes]:
    """The package as the download streams it (checked and audited before the first byte)."""
    check(platform, request_id, expires, signature)
    return package.open_package(platform, request_id, LINK_ACTOR)


def _sign(vault: Vault, request_id: str, expires: int) -> str:
    key = bytes.fromhex(vault.lookup_hash(_KEY_LABEL))
    message = f"{PURPOSE}|{request_id}|{expires}".encode()
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
