"""/api/v1/consent/purposes and /api/v1/consent/notices: the consent catalogue.

Purposes are put (created or updated in place) and retired, never deleted: the ledger names
them. Notices are published as numbered versions (1, 2, 3 ... per key) whose text never
changes afterwards. Reads need `consent:read`, changes `consent:write`; every change is audited.

Included in the app before the read API's `/api/v1/consent/{subject}`, which would otherwise
take `/api/v1/consent/purposes` for a subject.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, Security
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from rightsflow.api.auth import ActorDep, AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep
from rightsflow.api.problems import problem_responses
from rightsflow.domain.access import Scope
from rightsflow.domain.consent import PURPOSE_KEY, REGIME_MODELS, Notice, Purpose
from rightsflow.domain.consent_catalog import (
    LANGUAGE,
    MAX_BASIS,
    MAX_DESCRIPTION,
    MAX_NAME,
    MAX_NOTICE_PURPOSES,
    MAX_NOTICE_TEXT,
    text_sha256,
)
from rightsflow.services import consent_catalog as catalog

router = APIRouter(
    prefix="/api/v1/consent",
    tags=["consent"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 403, 422),
)
_KEY = PURPOSE_KEY.pattern  # purpose and notice keys follow the same rule
Key = Annotated[str, Path(max_length=64, pattern=_KEY, description="e.g. analytics")]
Version = Annotated[int, Path(ge=1, le=2**31 - 1)]
_NOT_BLANK = r"\S"  # at least one character that is not white space
Basis = Annotated[str, Field(min_length=1, max_length=MAX_BASIS, pattern=_NOT_BLANK)]
PurposeKey = Annotated[str, Field(max_length=64, pattern=_KEY)]
_REGIMES: list[JsonValue] = [*sorted(REGIME_MODELS)]


class PurposeIn(BaseModel):
    # Strict: `"gpc": 0` is not a boolean, and the schema says so.
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(min_length=1, max_length=MAX_NAME, pattern=_NOT_BLANK)
    description: str = Field(default="", max_length=MAX_DESCRIPTION)
    legal_bases: dict[str, Basis] = Field(
        default_factory=dict,
        description='Regime -> legal basis, e.g. {"gdpr": "Art. 6(1)(a) consent"}',
        json_schema_extra={"propertyNames": {"enum": _REGIMES}},
    )
    default_basis: str = Field(default="", max_length=MAX_BASIS)
    gpc: bool = Field(
        default=False, description="A GPC signal opts the person out of it (not with essential)"
    )
    essential: bool = Field(default=False, description="Always on; cannot be refused")


class PurposeOut(BaseModel):
    key: str
    name: str
    description: str
    legal_bases: dict[str, str]
    default_basis: str
    gpc: bool
    essential: bool
    retired: bool

    @classmethod
    def of(cls, purpose: Purpose) -> PurposeOut:
        return cls(
            key=purpose.key,
            name=purpose.name,
            description=purpose.description,
            legal_bases=dict(purpose.legal_bases),
            default_basis=purpose.default_basis,
            gpc=purpose.gpc,
            essential=purpose.essential,
            retired=purpose.retired,
        )


class PurposeList(BaseModel):
    items: list[PurposeOut]


_CREATED: dict[int | str, dict[str, Any]] = {201: {"description": "Created", "model": PurposeOut}}


class NoticeIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    text: str = Field(
        min_length=1, max_length=MAX_NOTICE_TEXT, pattern=_NOT_BLANK, description="The text"
    )
    purposes: list[PurposeKey] = Field(
        min_length=1,
        max_length=MAX_NOTICE_PURPOSES,
        description="Keys of purposes that exist and are not retired",
        json_schema_extra={"uniqueItems": True},
    )
    language: str = Field(default="en", max_length=35, pattern=LANGUAGE.pattern)


class NoticeVersionOut(BaseModel):
    """A version without its text (lists); the text's sha256 identifies it."""

    key: str
    version: int
    language: str
    purposes: list[str]
    sha256: str
    published_at: datetime | None

    @classmethod
    def of(cls, notice: Notice) -> NoticeVersionOut:
        return cls(
            key=notice.key,
            version=notice.version,
            language=notice.language,
            purposes=list(notice.purposes),
            sha256=text_sha256(notice.text),
            published_at=notice.published_at,
        )


class NoticeOut(NoticeVersionOut):
    text: str

    @classmethod
    def of(cls, notice: Notice) -> NoticeOut:
        return cls(**NoticeVersionOut.of(notice).model_dump(), text=notice.text)


class NoticeList(BaseModel):
    items: list[NoticeVersionOut]


@router.get("/purposes", summary="The purposes people can be asked about")
@requires(Scope.CONSENT_READ)
def list_purposes(
    platform: PlatformDep,
    include_retired: Annotated[bool, Query(description="Also list retired purposes")] = False,
) -> PurposeList:
    return PurposeList(
        items=[PurposeOut.of(p) for p in catalog.list_purposes(platform, include_retired)]
    )


@router.get("/purposes/{key}", summary="One purpose", responses=problem_responses(404))
@requires(Scope.CONSENT_READ)
def get_purpose(platform: PlatformDep, key: Key) -> PurposeOut:
    return PurposeOut.of(catalog.get_purpose(platform, key))


@router.put(
    "/purposes/{key}",
    summary="Create (201) or update (200) a purpose; a retired purpose stays retired",
    responses=_CREATED | problem_responses(409),
)
@requires(Scope.CONSENT_WRITE)
def put_purpose(
    platform: PlatformDep, key: Key, body: PurposeIn, actor: ActorDep, response: Response
) -> PurposeOut:
    purpose = Purpose(key=key, **body.model_dump())
    stored, created = catalog.put_purpose(platform, purpose, actor)
    if created:
        response.status_code = 201
    return PurposeOut.of(stored)


@router.post(
    "/purposes/{key}/retire",
    summary="Retire a purpose: kept with its history, refused in new choices and notices",
    responses=problem_responses(404),
)
@requires(Scope.CONSENT_WRITE)
def retire_purpose(platform: PlatformDep, key: Key, actor: ActorDep) -> PurposeOut:
    return PurposeOut.of(catalog.retire_purpose(platform, key, actor))


@router.get("/notices", summary="Every notice's newest version (without texts)")
@requires(Scope.CONSENT_READ)
def list_notices(platform: PlatformDep) -> NoticeList:
    return NoticeList(items=[NoticeVersionOut.of(n) for n in catalog.latest_notices(platform)])


@router.get(
    "/notices/{key}/versions",
    summary="A notice's published versions, oldest first (without texts)",
    responses=problem_responses(404),
)
@requires(Scope.CONSENT_READ)
def list_versions(platform: PlatformDep, key: Key) -> NoticeList:
    return NoticeList(
        items=[NoticeVersionOut.of(n) for n in catalog.notice_versions(platform, key)]
    )


@router.post(
    "/notices/{key}/versions",
    status_code=201,
    summary="Publish the next version of a notice (its text never changes afterwards)",
    responses=problem_responses(409),
)
@requires(Scope.CONSENT_WRITE)
def publish_version(platform: PlatformDep, key: Key, body: NoticeIn, actor: ActorDep) -> NoticeOut:
    notice = catalog.publish_notice(
        platform, key, body.text, body.purposes, actor=actor, language=body.language
    )
    return NoticeOut.of(notice)


@router.get(
    "/notices/{key}/versions/{version}",
    summary="One published notice version, with its text",
    responses=problem_responses(404),
)
@requires(Scope.CONSENT_READ)
def get_version(platform: PlatformDep, key: Key, version: Version) -> NoticeOut:
    return NoticeOut.of(catalog.get_notice(platform, key, version))
