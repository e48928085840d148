"""Legal regimes and their response deadlines (the lifecycle issue extends this table)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

from rightsflow.domain.errors import InvalidInput


@dataclass(frozen=True)
class Regime:
    key: str
    name: str
    days: int = 0
    months: int = 0


REGIMES: dict[str, Regime] = {
    r.key: r
    for r in (
        Regime("gdpr", "EU GDPR", months=1),
        Regime("uk_gdpr", "UK GDPR", months=1),
        Regime("ccpa", "California CCPA/CPRA", days=45),
        Regime("lgpd", "Brazil LGPD", days=15),
        Regime("pipeda", "Canada PIPEDA", days=30),
        Regime("vcdpa", "Virginia CDPA", days=45),
        Regime("cpa", "Colorado CPA", days=45),
        Regime("ctdpa", "Connecticut DPA", days=45),
        Regime("ucpa", "Utah CPA", days=45),
    )
}


def get_regime(key: str) -> Regime:
    try:
        return REGIMES[key]
    except KeyError:
        allowed = ", ".join(sorted(REGIMES))
        raise InvalidInput(f"unknown regime; expected one of: {allowed}", field="regime") from None


def add_months(at: datetime, months: int) -> datetime:
    """Same date N months later, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = at.month - 1 + months
    year, month = at.year + month_index // 12, month_index % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def due_at(regime: Regime, received_at: datetime) -> datetime:
    return add_months(received_at, regime.months) + timedelta(days=regime.days)
