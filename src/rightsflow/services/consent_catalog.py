"""The consent catalogue: purposes (with their legal basis per regime) and versioned notices.

A purpose is created or updated in place (`put_purpose`) and retired rather than deleted: the
ledger names purposes, so a retired one keeps its row and its history, and is refused in new
choices and new notices. A notice is published as versions 1, 2, 3 ... per key; a published
version is never edited, so the ledger can say what exactly a person saw.

Every change is audited (no request; actor as given; details are keys, flags, versions and the
text's sha256, never the texts). Changes take the catalogue lock first (storage: an advisory
lock on PostgreSQL, BEGIN IMMEDIATE on SQLite), so two processes seeding the standard purposes,
or two publishers numbering the next version, are serialised instead of colliding.

Other use cases validate what they are given with `require_purposes` and `require_notice`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from rightsflow.domain.consent import NOTICE_KEY, PURPOSE_KEY, Notice, NoticeRef, Purpose
from rightsflow.domain.consent_catalog import (
    STANDARD_PURPOSES,
    check_notice,
    check_purpose,
    check_purpose_keys,
    text_sha256,
)
from rightsflow.domain.errors import InvalidInput, NotFound
from rightsflow.services import audit
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork

NO_REQUEST = ""  # catalogue events belong to no privacy request
PURPOSE_CREATED = "consent.purpose_created"
PURPOSE_UPDATED = "consent.purpose_updated"
PURPOSE_RETIRED = "consent.purpose_retired"
NOTICE_PUBLISHED = "consent.notice_published"
SYSTEM = "system"


# -- Purposes ------------------------------------------------------------------------------------
def list_purposes(platform: Platform, include_retired: bool = False) -> Sequence[Purpose]:
    with platform.uow() as uow:
        return uow.consent_catalog.purposes(include_retired)


def get_purpose(platform: Platform, key: str) -> Purpose:
    with platform.uow() as uow:
        return _existing(uow, key)


def put_purpose(platform: Platform, purpose: Purpose, actor: str) -> tuple[Purpose, bool]:
    """Create or update a purpose; True if it was created. Retiring is `retire_purpose`'s: an
    update keeps the stored purpose's `retired`."""
    check_purpose(purpose)
    with platform.uow() as uow:
        uow.consent_catalog.lock()
        stored = uow.consent_catalog.purpose(purpose.key)
        if stored is not None:
            purpose = replace(purpose, retired=stored.retired)
            changed = _changed(stored, purpose)
            if not changed:
                return stored, False
        uow.consent_catalog.put_purpose(purpose)
        action = PURPOSE_CREATED if stored is None else PURPOSE_UPDATED
        details = _purpose_details(purpose)
        if stored is not None:
            details["changed"] = changed
        audit.record(uow, NO_REQUEST, action, platform.clock(), actor=actor, **details)
        uow.commit()
    return purpose, stored is None


def retire_purpose(platform: Platform, key: str, actor: str) -> Purpose:
    """Retire a purpose: kept with its history, refused in new choices and notices.
    Retiring a retired purpose changes nothing (and is not audited again)."""
    with platform.uow() as uow:
        uow.consent_catalog.lock()
        stored = _existing(uow, key)
        if stored.retired:
            return stored
        retired = replace(stored, retired=True)
        uow.consent_catalog.put_purpose(retired)
        audit.record(uow, NO_REQUEST, PURPOSE_RETIRED, platform.clock(), actor=actor, key=key)
        uow.commit()
    return retired


def ensure_standard_purposes(platform: Platform) -> int:
    """Create the standard purposes (domain/consent_catalog.STANDARD_PURPOSES) if the catalogue
    is empty, retired purposes included; return how many were created. Idempotent, and safe
    with two processes starting at once (the second waits for the lock, then finds them)."""
    with platform.uow() as uow:
        if uow.consent_catalog.purposes(include_retired=True):
            return 0  # the common case on every start: one read, no write lock
    with platform.uow() as uow:
        uow.consent_catalog.lock()
        if uow.consent_catalog.purposes(include_retired=True):
            return 0
        at = platform.clock()
        for purpose in STANDARD_PURPOSES:
            uow.consent_catalog.put_purpose(purpose)
            details = {**_purpose_details(purpose), "standard": True}
            audit.record(uow, NO_REQUEST, PURPOSE_CREATED, at, actor=SYSTEM, **details)
        uow.commit()
    return len(STANDARD_PURPOSES)


# -- Notices -------------------------------------------------------------------------------------
def publish_notice(
    platform: Platform,
    key: str,
    text: str,
    purposes: Sequence[str],
    *,
    actor: str,
    language: str = "en",
) -> Notice:
    """Publish the next version of notice `key` (1 for a new key). Its purposes must exist and
    not be retired."""
    check_notice(key, text, purposes, language)
    with platform.uow() as uow:
        uow.consent_catalog.lock()
        require_purposes(uow, purposes)
        at = platform.clock()
        version = uow.consent_catalog.last_version(key) + 1
        notice = Notice(key, version, text, tuple(purposes), language, published_at=at)
        uow.consent_catalog.add_notice(notice, published_by=actor)
        audit.record(
            uow,
            NO_REQUEST,
            NOTICE_PUBLISHED,
            at,
            actor=actor,
            key=key,
            version=version,
            language=language,
            purposes=list(purposes),
            sha256=text_sha256(text),
        )
        uow.commit()
    return notice


def get_notice(platform: Platform, key: str, version: int) -> Notice:
    with platform.uow() as uow:
        notice = uow.consent_catalog.notice(key, version)
    if notice is None:
        raise NotFound("no such notice version")
    return notice


def notice_versions(platform: Platform, key: str) -> Sequence[Notice]:
    """Every published version of `key`, oldest first; NotFound if none."""
    with platform.uow() as uow:
        versions = uow.consent_catalog.notice_versions(key)
    if not versions:
        raise NotFound("no such notice")
    return versions


def latest_notices(platform: Platform) -> Sequence[Notice]:
    with platform.uow() as uow:
        return uow.consent_catalog.latest_notices()


# -- Validation other use cases call -------------------------------------------------------------
def require_purposes(
    uow: UnitOfWork, keys: Iterable[str], field: str = "purposes"
) -> Mapping[str, Purpose]:
    """The purposes named, by key; InvalidInput naming the first unknown or retired one. One
    read of the catalogue (it is small) whatever the number of keys."""
    keys = list(keys)
    check_purpose_keys(keys, field)
    known = {p.key: p for p in uow.consent_catalog.purposes(include_retired=True)}
    found: dict[str, Purpose] = {}
    for key in keys:
        purpose = known.get(key)
        if purpose is None:
            raise InvalidInput(f"unknown purpose '{key}'", field=field)
        if purpose.retired:
            raise InvalidInput(f"purpose '{key}' is retired", field=field)
        found[key] = purpose
    return found


def require_notice(uow: UnitOfWork, ref: NoticeRef, field: str = "notice") -> Notice:
    """The published notice version `ref`; InvalidInput naming it if there is none."""
    if not NOTICE_KEY.fullmatch(ref.key):
        raise InvalidInput("a notice key is lowercase letters, digits and underscores", field)
    notice = uow.consent_catalog.notice(ref.key, ref.version) if ref.version >= 1 else None
    if notice is None:
        raise InvalidInput(f"unknown notice version '{ref.key}' v{ref.version}", field=field)
    return notice


def _existing(uow: UnitOfWork, key: str) -> Purpose:
    if not PURPOSE_KEY.fullmatch(key):
        raise NotFound("no such purpose")
    purpose = uow.consent_catalog.purpose(key)
    if purpose is None:
        raise NotFound(f"no purpose '{key}'")
    return purpose


def _purpose_details(purpose: Purpose) -> dict[str, object]:
    return {
        "key": purpose.key,
        "gpc": purpose.gpc,
        "essential": purpose.essential,
        "regimes": sorted(purpose.legal_bases),
    }


def _changed(old: Purpose, new: Purpose) -> list[str]:
    """The names of the fields an update changes (names only: the audit holds no texts)."""
    fields = ("name", "description", "legal_bases", "default_basis", "gpc", "essential")
    return [f for f in fields if getattr(old, f) != getattr(new, f)]
