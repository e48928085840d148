"""Consent and preferences: purposes, versioned notices, and the ledger of choices.

A *purpose* (analytics, advertising, sale/sharing, ...) is something the company uses personal
data for; each regime gives it a legal basis and a default. Under opt-in regimes (the GDPR
family, LGPD, PIPEDA) nothing but essential processing happens until the person says yes; under
opt-out regimes (CCPA/CPRA and the US state laws) processing is on until the person says no.

A *notice* is the text a person saw when choosing; it is versioned and a published version is
never edited, so the ledger can say exactly what someone agreed to.

The *ledger* is append-only: one `ConsentRecord` per write (who, where from, which notice, the
raw TCF/GPP strings) with one `LedgerEntry` per purpose. The current state per subject is
derived from it and kept materialised; history is never rewritten.

Subjects are a user id, a device id or an email, and are only ever stored as a keyed hash
(services/identity_lookup.identity_hash), so the ledger holds no identity in plain text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from rightsflow.domain.errors import InvalidInput

PURPOSE_KEY = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
NOTICE_KEY = PURPOSE_KEY
MAX_SUBJECT_VALUE = 256


class Source(StrEnum):
    """Where a choice came from (recorded with every ledger entry)."""

    BANNER = "banner"
    PREFERENCES = "preferences"  # the preferences page of the privacy center or the product
    API = "api"
    GPC = "gpc"  # a Global Privacy Control signal (Sec-GPC: 1)
    AGENT = "agent"  # an authorized agent acting for the person
    DRP = "drp"  # a Data Rights Protocol opt-out
    LINK = "link"  # carried over from a device (or email) to a user when they signed in


class ConsentModel(StrEnum):
    OPT_IN = "opt_in"  # off until the person agrees (GDPR Art. 6(1)(a), 7)
    OPT_OUT = "opt_out"  # on until the person objects (Cal. Civ. Code 1798.120)


class SubjectKind(StrEnum):
    USER_ID = "user_id"
    DEVICE_ID = "device_id"
    EMAIL = "email"


# The consent model of each regime in domain/regimes.py. PIPEDA asks for meaningful consent,
# express for sensitive uses: treated as opt-in.
REGIME_MODELS: Mapping[str, ConsentModel] = {
    "gdpr": ConsentModel.OPT_IN,
    "uk_gdpr": ConsentModel.OPT_IN,
    "lgpd": ConsentModel.OPT_IN,
    "pipeda": ConsentModel.OPT_IN,
    "ccpa": ConsentModel.OPT_OUT,
    "vcdpa": ConsentModel.OPT_OUT,
    "cpa": ConsentModel.OPT_OUT,
    "ctdpa": ConsentModel.OPT_OUT,
    "ucpa": ConsentModel.OPT_OUT,
}

# Regimes under which a browser's GPC signal is a valid opt-out of sale/sharing/targeted
# advertising that the business must honour: 11 CCR 7025(b); Colorado 4 CCR 904-3 Rule 5
# (universal opt-out mechanisms, from 1 July 2024); Connecticut Gen. Stat. 42-520(a)(1)(A)(ii)
# (from 1 January 2025). Virginia and Utah do not require it; under the GDPR family it is
# recorded as an objection (see consent_rules.py for how conflicts are resolved).
GPC_BINDING: frozenset[str] = frozenset({"ccpa", "cpa", "ctdpa"})


def consent_model(regime: str) -> ConsentModel:
    try:
        return REGIME_MODELS[regime]
    except KeyError:
        allowed = ", ".join(sorted(REGIME_MODELS))
        raise InvalidInput(f"unknown regime; expected one of: {allowed}", field="regime") from None


@dataclass(frozen=True)
class SubjectRef:
    """A consent subject as given by a caller: `user_id:u-123`, `device_id:...`, `email:...`.

    The value is personal data: it is hashed before it is stored and never logged."""

    kind: SubjectKind
    value: str = field(repr=False)

    @staticmethod
    def parse(text: str, default_kind: SubjectKind = SubjectKind.USER_ID) -> SubjectRef:
        """`kind:value`, or a bare value of `default_kind`. Errors never echo the value."""
        kind_text, sep, value = text.partition(":")
        kind = default_kind
        if sep and kind_text in SubjectKind.__members__.values():
            kind = SubjectKind(kind_text)
        else:
            value = text
        value = value.strip()
        if not value:
            raise InvalidInput("the subject is empty", field="subject")
        if len(value) > MAX_SUBJECT_VALUE:
            raise InvalidInput(
                f"the subject is longer than {MAX_SUBJECT_VALUE} characters", field="subject"
            )
        return SubjectRef(kind, value)


@dataclass(frozen=True)
class Purpose:
    """A use of personal data people can be asked about.

    `legal_bases` names the basis per regime (e.g. {"gdpr": "Art. 6(1)(a) consent"}); a regime
    missing from it uses `default_basis`. `gpc` purposes are opted out by a GPC signal (sale,
    sharing, targeted advertising). `essential` purposes (strictly necessary) are always on and
    cannot be refused: a choice about one is a 422."""

    key: str
    name: str
    description: str = ""
    legal_bases: Mapping[str, str] = field(default_factory=dict)
    default_basis: str = ""
    gpc: bool = False
    essential: bool = False
    retired: bool = False

    def __post_init__(self) -> None:
        if not PURPOSE_KEY.fullmatch(self.key):
            raise InvalidInput(
                "a purpose key is lowercase letters, digits and underscores (at most 64), "
                "starting with a letter",
                field="key",
            )

    def basis(self, regime: str) -> str:
        return self.legal_bases.get(regime, self.default_basis)

    def default_granted(self, regime: str) -> bool:
        """The state before any choice: essential is on; otherwise the regime's model."""
        return self.essential or consent_model(regime) is ConsentModel.OPT_OUT


@dataclass(frozen=True)
class Notice:
    """One published version of a notice; immutable once published."""

    key: str
    version: int
    text: str
    purposes: tuple[str, ...]
    language: str = "en"
    published_at: datetime | None = None


@dataclass(frozen=True)
class NoticeRef:
    key: str
    version: int


@dataclass(frozen=True)
class Choice:
    purpose: str
    granted: bool


@dataclass(frozen=True)
class Signals:
    """What came with a write besides the choices: the GPC header, the raw TCF and GPP strings."""

    gpc: bool = False
    tcf: str | None = None
    gpp: str | None = None


@dataclass(frozen=True)
class ConsentWrite:
    """One write to the ledger, as a use case receives it."""

    subject: SubjectRef
    choices: tuple[Choice, ...]
    source: Source
    regime: str
    notice: NoticeRef | None = None
    signals: Signals = field(default_factory=Signals)
    # The person opted in knowing their browser sends GPC (11 CCR 7025(c)(3)): see consent_rules.
    confirmed_over_gpc: bool = False
    request_id: str | None = None  # the privacy request (opt-out, DRP) that caused it, if any
    actor: str = ""  # who wrote it: a client id, "console:<user>", "subject"


@dataclass(frozen=True)
class LedgerEntry:
    """One purpose's outcome in one record. `granted` is what was asked; `effective` is what
    the state became after conflict resolution (`resolution` says why they differ, if they do)."""

    id: int
    record_id: str
    subject_hash: str
    purpose: str
    granted: bool
    effective: bool
    source: Source
    recorded_at: datetime
    notice: NoticeRef | None = None
    resolution: str | None = None


@dataclass(frozen=True)
class PurposeState:
    """The current state of one purpose for one subject (materialised from the ledger)."""

    purpose: str
    granted: bool
    source: Source
    updated_at: datetime
    entry_id: int
    notice: NoticeRef | None = None
    resolution: str | None = None


@dataclass(frozen=True)
class ConsentRecordView:
    """A stored record, without its choices: what a history or audit shows."""

    id: str
    subject_hash: str
    subject_kind: SubjectKind
    source: Source
    regime: str
    recorded_at: datetime
    notice: NoticeRef | None
    gpc: bool
    actor: str = ""
    tcf: str | None = None
    tcf_decoded: Mapping[str, Any] | None = None
    tcf_valid: bool | None = None
    gpp: str | None = None
    gpp_decoded: Mapping[str, Any] | None = None
    gpp_valid: bool | None = None
    request_id: str | None = None
    linked_from: str | None = None  # the device/email hash a link carried these choices from
