"""Legal regimes as data: which rights each grants and the deadlines for them.

The arithmetic (periods, calendars, rolling, extensions) and its semantics are in `deadlines.py`;
everything there is re-exported here so callers import one module. This is a compliance aid,
not legal advice: each rule names the article or section it comes from so a reviewer can check.
"""

from __future__ import annotations

from datetime import datetime
from types import MappingProxyType

from rightsflow.domain.deadlines import (
    Period,
    Regime,
    Rule,
    Unit,
    acknowledge_due,
    add_months,
    add_period,
    appeal_response_due,
    appeal_until,
    due_date,
    extended_due,
    response_due,
)
from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.requests import RequestType

__all__ = [
    "REGIMES",
    "Period",
    "Regime",
    "Rule",
    "Unit",
    "acknowledge_due",
    "add_months",
    "add_period",
    "appeal_response_due",
    "appeal_until",
    "due_at",
    "due_date",
    "extended_due",
    "get_regime",
    "response_due",
]

T = RequestType
_DAYS_45 = Period(45, Unit.DAYS)
# The US state laws say only "a reasonable period" for appeals; 60 days is a generous default
# (accepting a late appeal is never a breach, refusing a timely one is).
_APPEAL_WINDOW = Period(60, Unit.DAYS)


def _gdpr(law: str) -> dict[RequestType, Rule]:
    # Art. 12(3): one month from receipt, extendable by two further months; the subject is told
    # within the first month with the reasons. Art. 15 access, 16 rectification, 17 erasure,
    # 18 restriction, 20 portability, 21(2)-(3) objection to direct marketing (our opt_out:
    # absolute, so it needs no proof of identity - a false objection harms no one).
    # No appeal to the controller: the subject complains to the supervisory authority (Art. 77).
    def rule(article: str, verification: bool = True) -> Rule:
        return Rule(
            Period(1, Unit.MONTHS),
            basis=f"{law} Art. 12(3), Art. {article}",
            extension=Period(2, Unit.MONTHS),
            extension_notice="within one month of receipt, with the reasons for the delay",
            verification=verification,
        )

    return {
        T.ACCESS: rule("15"),
        T.RECTIFICATION: rule("16"),
        T.ERASURE: rule("17"),
        T.RESTRICTION: rule("18"),
        T.PORTABILITY: rule("20"),
        T.OPT_OUT: rule("21(3)", verification=False),
    }


def _ccpa() -> dict[RequestType, Rule]:
    # Civ. Code 1798.130(a)(2)(A): 45 days from receipt (verification time included), extendable
    # once by 45 days with notice within the first 45. 11 CCR 7021(a): confirm receipt of
    # know/delete/correct requests within 10 business days. Portability is part of the right to
    # know (1798.130(a)(3)(B)(iii)). Opt-out of sale/sharing (7026(f)) and limit use of sensitive
    # PI (7027(g)): 15 business days, and no verifiable request may be required (7026(d),
    # 7027(e)). No restriction right and no appeal to the business.
    def know(section: str) -> Rule:
        return Rule(
            _DAYS_45,
            basis=f"Cal. Civ. Code {section}, 1798.130(a)(2)(A); 11 CCR 7021",
            extension=_DAYS_45,
            extension_notice="within the first 45 days, with the reasons for the extension",
            acknowledge=Period(10, Unit.BUSINESS_DAYS),
        )

    def stop(section: str, reg: str) -> Rule:
        return Rule(
            Period(15, Unit.BUSINESS_DAYS),
            basis=f"Cal. Civ. Code {section}; {reg}",
            verification=False,
        )

    return {
        T.ACCESS: know("1798.110"),
        T.ERASURE: know("1798.105"),
        T.RECTIFICATION: know("1798.106"),
        T.PORTABILITY: know("1798.100(d)"),
        T.OPT_OUT: stop("1798.120", "11 CCR 7026(f)"),
        T.LIMIT_USE: stop("1798.121", "11 CCR 7027(g)"),
    }


def _lgpd() -> dict[RequestType, Rule]:
    # Art. 19 II: access (a clear and complete statement) within 15 days of the request. Art. 18
    # §5 leaves the other rights' deadlines to ANPD regulation, which has set none; we apply the
    # same 15 days. Art. 18: III correction, IV blocking (restriction) or elimination, V
    # portability, VI deletion, IX revocation of consent and §2 objection (our opt_out).
    # No extension, no appeal (petition to the ANPD, Art. 18 §1).
    def rule(item: str, verification: bool = True) -> Rule:
        return Rule(
            Period(15, Unit.DAYS), basis=f"LGPD Art. 18 {item}, Art. 19", verification=verification
        )

    return {
        T.ACCESS: rule("II"),
        T.RECTIFICATION: rule("III"),
        T.RESTRICTION: rule("IV"),
        T.ERASURE: rule("IV, VI"),
        T.PORTABILITY: rule("V"),
        T.OPT_OUT: rule("IX, §2", verification=False),
    }


def _pipeda() -> dict[RequestType, Rule]:
    # s. 8(3): access within 30 days of receipt; s. 8(4): extendable by at most 30 days, with
    # notice within the first 30 days giving the new limit, the reasons and the right to
    # complain to the Commissioner. Sch. 1 Principle 4.9.5: correction (no statutory time; we
    # apply 30 days); 4.3.8: withdrawal of consent (our opt_out; "reasonable notice", 30 days).
    # No erasure, restriction or portability right; complaints go to the OPC (s. 11).
    return {
        T.ACCESS: Rule(
            Period(30, Unit.DAYS),
            basis="PIPEDA s. 8(3)-(4)",
            extension=Period(30, Unit.DAYS),
            extension_notice=(
                "within the first 30 days, with the new time limit, the reasons and the right"
                " to complain to the Privacy Commissioner"
            ),
        ),
        T.RECTIFICATION: Rule(Period(30, Unit.DAYS), basis="PIPEDA Sch. 1, Principle 4.9.5"),
        T.OPT_OUT: Rule(
            Period(30, Unit.DAYS), basis="PIPEDA Sch. 1, Principle 4.3.8", verification=False
        ),
    }


def _us_state(
    code: str, types: dict[RequestType, str], appeal: Period | None
) -> dict[RequestType, Rule]:
    """The Virginia model: 45 days, one 45-day extension noticed within the first 45 days;
    opt-outs (of sale, targeted advertising, profiling) need no authentication."""

    def rule(request_type: RequestType, section: str) -> Rule:
        return Rule(
            _DAYS_45,
            basis=f"{code} {section}",
            extension=_DAYS_45,
            extension_notice="within the first 45 days, with the length and the reasons",
            verification=request_type is not T.OPT_OUT,
            appeal_window=None if appeal is None else _APPEAL_WINDOW,
            appeal_response=appeal,
        )

    return {t: rule(t, section) for t, section in types.items()}


def _regime(
    key: str,
    name: str,
    zone: str,
    calendar: tuple[str, str | None],  # holiday country and subdivision
    rules: dict[RequestType, Rule],
    *,
    month_based: bool = False,
) -> Regime:
    # Only the GDPR family counts in months, pauses for identity and rolls off non-working days.
    # Read-only, so no caller can change the law for everyone else at run time.
    return Regime(key, name, zone, *calendar, month_based, month_based, MappingProxyType(rules))


def _regimes() -> tuple[Regime, ...]:
    va = {
        T.ACCESS: "A 1",
        T.RECTIFICATION: "A 2",
        T.ERASURE: "A 3",
        T.PORTABILITY: "A 4",
        T.OPT_OUT: "A 5",
    }
    co = {
        T.OPT_OUT: "(1)(a)",
        T.ACCESS: "(1)(b)",
        T.RECTIFICATION: "(1)(c)",
        T.ERASURE: "(1)(d)",
        T.PORTABILITY: "(1)(e)",
    }
    ct = {
        T.ACCESS: "(a)(1)",
        T.RECTIFICATION: "(a)(2)",
        T.ERASURE: "(a)(3)",
        T.PORTABILITY: "(a)(4)",
        T.OPT_OUT: "(a)(5)",
    }
    ut = {T.ACCESS: "(1)", T.ERASURE: "(2)", T.PORTABILITY: "(3)", T.OPT_OUT: "(4)"}
    days_60 = Period(60, Unit.DAYS)
    return (
        # EU GDPR: Irish calendar by default (the lead authority for many controllers under the
        # one-stop shop); deployments elsewhere replace holiday_country. Regulation 1182/71
        # Art. 3(4) rolls a due date off weekends and holidays; the month starts once identity
        # is confirmed (Art. 12(6); EDPB Guidelines 01/2022 on the right of access).
        _regime("gdpr", "EU GDPR", "Europe/Dublin", ("IE", None), _gdpr("GDPR"), month_based=True),
        # UK GDPR: same articles; ICO guidance (and Art. 12A, Data (Use and Access) Act 2025)
        # starts the month once identity is confirmed and rolls over English bank holidays.
        _regime(
            "uk_gdpr",
            "UK GDPR",
            "Europe/London",
            ("GB", "ENG"),
            _gdpr("UK GDPR"),
            month_based=True,
        ),
        _regime("ccpa", "California CCPA/CPRA", "America/Los_Angeles", ("US", "CA"), _ccpa()),
        _regime("lgpd", "Brazil LGPD", "America/Sao_Paulo", ("BR", None), _lgpd()),
        _regime("pipeda", "Canada PIPEDA", "America/Toronto", ("CA", "ON"), _pipeda()),
        # Va. Code 59.1-577: A 1-5 rights; B 45 + 45 days; C appeal answered within 60 days.
        _regime(
            "vcdpa",
            "Virginia CDPA",
            "America/New_York",
            ("US", "VA"),
            _us_state("Va. Code 59.1-577", va, appeal=days_60),
        ),
        # C.R.S. 6-1-1306: (1) rights; (2) 45 + 45 days; (3) appeal answered within 45 days
        # (extendable by 60 more, which the table does not model).
        _regime(
            "cpa",
            "Colorado CPA",
            "America/Denver",
            ("US", "CO"),
            _us_state("C.R.S. 6-1-1306", co, appeal=_DAYS_45),
        ),
        # Conn. Gen. Stat. 42-518: (a) rights; (b) 45 + 45 days; (d) appeal answered in 60 days.
        _regime(
            "ctdpa",
            "Connecticut DPA",
            "America/New_York",
            ("US", "CT"),
            _us_state("Conn. Gen. Stat. 42-518", ct, appeal=days_60),
        ),
        # Utah Code 13-61-201 (access, deletion, portability, opt-out; no correction right) and
        # 13-61-203 (45 + 45 days, extension noticed before the first 45 end). No appeal right.
        _regime(
            "ucpa",
            "Utah CPA",
            "America/Denver",
            ("US", "UT"),
            _us_state("Utah Code 13-61-201, 13-61-203", ut, appeal=None),
        ),
    )


REGIMES: dict[str, Regime] = {r.key: r for r in _regimes()}


def get_regime(key: str) -> Regime:
    try:
        return REGIMES[key]
    except KeyError:
        allowed = ", ".join(sorted(REGIMES))
        raise InvalidInput(f"unknown regime; expected one of: {allowed}", field="regime") from None


def due_at(
    regime: Regime, received_at: datetime, request_type: RequestType = RequestType.ACCESS
) -> datetime:
    """Compatibility wrapper: the response deadline counted from receipt."""
    return response_due(regime, request_type, received_at)
