"""Rules of the consent catalogue: what a valid purpose and a valid notice look like, and the
standard purposes every installation starts with.

Messages name the field and, for a purpose or notice key, the key itself (keys are validated
identifiers such as `analytics`, never personal data); free text (names, descriptions, notice
texts) is never echoed.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence

from rightsflow.domain.consent import NOTICE_KEY, PURPOSE_KEY, REGIME_MODELS, Purpose
from rightsflow.domain.errors import InvalidInput

MAX_NAME = 200  # consent_purposes.name
MAX_BASIS = 300  # consent_purposes.default_basis (and each legal basis)
MAX_DESCRIPTION = 4000
MAX_NOTICE_TEXT = 200_000  # characters; a notice is a page of text, not a document store
MAX_NOTICE_PURPOSES = 64
# A BCP 47 tag in its common shapes: `en`, `pt-BR`, `zh-Hant-TW`, `es-419`.
LANGUAGE = re.compile(r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")

GDPR_FAMILY = ("gdpr", "uk_gdpr")
US_STATES = ("ccpa", "vcdpa", "cpa", "ctdpa", "ucpa")


def text_sha256(text: str) -> str:
    """The hex sha256 of a notice's text (UTF-8): stored with the version, shown in lists and
    audited in place of the text."""
    return hashlib.sha256(text.encode()).hexdigest()


def check_purpose(purpose: Purpose) -> None:
    """Raise InvalidInput naming the first field that breaks a rule (the key is checked by
    Purpose itself)."""
    if not purpose.name.strip():
        raise InvalidInput("a purpose needs a name", field="name")
    if len(purpose.name) > MAX_NAME:
        raise InvalidInput(f"the name is longer than {MAX_NAME} characters", field="name")
    if len(purpose.description) > MAX_DESCRIPTION:
        raise InvalidInput(
            f"the description is longer than {MAX_DESCRIPTION} characters", field="description"
        )
    if len(purpose.default_basis) > MAX_BASIS:
        raise InvalidInput(
            f"the default basis is longer than {MAX_BASIS} characters", field="default_basis"
        )
    for regime, basis in purpose.legal_bases.items():
        if regime not in REGIME_MODELS:
            allowed = ", ".join(sorted(REGIME_MODELS))
            raise InvalidInput(
                f"unknown regime in legal_bases; expected one of: {allowed}", field="legal_bases"
            )
        if not basis.strip() or len(basis) > MAX_BASIS:
            raise InvalidInput(
                f"a legal basis is 1 to {MAX_BASIS} characters", field=f"legal_bases.{regime}"
            )
    if purpose.essential and purpose.gpc:
        # GPC opts a purpose out; an essential purpose cannot be refused: both cannot hold.
        raise InvalidInput("a purpose cannot be both essential and opted out by GPC", "gpc")


def check_notice(key: str, text: str, purposes: Sequence[str], language: str) -> None:
    """The shape of a notice about to be published (whether its purposes exist is the
    catalogue's to say: services/consent_catalog.require_purposes)."""
    if not NOTICE_KEY.fullmatch(key):
        raise InvalidInput(
            "a notice key is lowercase letters, digits and underscores (at most 64), "
            "starting with a letter",
            field="key",
        )
    if not text.strip():
        raise InvalidInput("the notice text is empty", field="text")
    if len(text) > MAX_NOTICE_TEXT:
        raise InvalidInput(
            f"the notice text is longer than {MAX_NOTICE_TEXT} characters", field="text"
        )
    if not LANGUAGE.fullmatch(language):
        raise InvalidInput("the language is not a language tag such as en or pt-BR", "language")
    check_purpose_keys(purposes)


def check_purpose_keys(purposes: Sequence[str], field: str = "purposes") -> None:
    """A non-empty list of distinct, well-formed purpose keys."""
    if not purposes:
        raise InvalidInput("name at least one purpose", field=field)
    if len(purposes) > MAX_NOTICE_PURPOSES:
        raise InvalidInput(f"at most {MAX_NOTICE_PURPOSES} purposes", field=field)
    seen: set[str] = set()
    for key in purposes:
        if not PURPOSE_KEY.fullmatch(key):
            raise InvalidInput("a purpose key is lowercase letters, digits and underscores", field)
        if key in seen:
            raise InvalidInput(f"purpose '{key}' is listed twice", field=field)
        seen.add(key)


def _bases(gdpr: str, us: Mapping[str, str], lgpd: str, pipeda: str) -> dict[str, str]:
    bases = dict.fromkeys(GDPR_FAMILY, gdpr)
    bases.update(us)
    bases["lgpd"] = lgpd
    bases["pipeda"] = pipeda
    return bases


_CONSENT = "Art. 6(1)(a) consent (ePrivacy Art. 5(3) / PECR reg. 6 for device storage)"
_LGPD_CONSENT = "LGPD Art. 7 I consent"
_PIPEDA_CONSENT = "PIPEDA Sch. 1 Principle 4.3 (meaningful consent)"
_NOTICE_AT_COLLECTION = "notice at collection (Cal. Civ. Code 1798.100(a)); no opt-in required"
# The US state rights to opt out of targeted advertising and of sale (CCPA: sale and sharing).
_OPT_OUT = {
    "ccpa": "right to opt out of sale and sharing (Cal. Civ. Code 1798.120)",
    "vcdpa": "right to opt out (Va. Code 59.1-577(A)(5))",
    "cpa": "right to opt out (Colo. Rev. Stat. 6-1-1306(1)(a))",
    "ctdpa": "right to opt out (Conn. Gen. Stat. 42-518(a)(5))",
    "ucpa": "right to opt out (Utah Code 13-61-201(4))",
}

STANDARD_PURPOSES: tuple[Purpose, ...] = (
    Purpose(
        key="essential",
        name="Strictly necessary",
        description="What the service cannot work without: sign-in, security, the basket.",
        legal_bases=_bases(
            "Art. 6(1)(b) contract / 6(1)(f) legitimate interests; strictly necessary",
            {"ccpa": "business purpose (Cal. Civ. Code 1798.140(e)); no opt-out"},
            "LGPD Art. 7 V contract / IX legitimate interests",
            "PIPEDA Sch. 1 Principle 4.3.3 (required for the service)",
        ),
        default_basis="necessary to provide the service the person asked for",
        essential=True,
    ),
    Purpose(
        key="analytics",
        name="Analytics",
        description="Measuring how the service is used, to improve it.",
        legal_bases=_bases(
            _CONSENT, {"ccpa": _NOTICE_AT_COLLECTION}, _LGPD_CONSENT, _PIPEDA_CONSENT
        ),
        default_basis="notice at collection; no opt-in required",
    ),
    Purpose(
        key="personalisation",
        name="Personalisation",
        description="Tailoring content and recommendations to the person.",
        legal_bases=_bases(
            _CONSENT, {"ccpa": _NOTICE_AT_COLLECTION}, _LGPD_CONSENT, _PIPEDA_CONSENT
        ),
        default_basis="notice at collection; no opt-in required",
    ),
    Purpose(
        key="advertising",
        name="Targeted advertising",
        description="Ads chosen from activity across other businesses' sites and apps.",
        legal_bases=_bases(
            _CONSENT,
            {
                **_OPT_OUT,
                "ccpa": "right to opt out of sharing for cross-context behavioral advertising "
                "(Cal. Civ. Code 1798.120)",
            },
            _LGPD_CONSENT,
            "PIPEDA Sch. 1 Principle 4.3 (express consent expected)",
        ),
        gpc=True,
    ),
    Purpose(
        key="sale_sharing",
        name="Sale and sharing",
        description="Selling personal information or sharing it with third parties.",
        legal_bases=_bases(
            _CONSENT, _OPT_OUT, _LGPD_CONSENT, "PIPEDA Sch. 1 Principle 4.3 (express consent)"
        ),
        gpc=True,
    ),
)
