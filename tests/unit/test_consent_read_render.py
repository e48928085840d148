"""Rendering a stored consent state, and the version that orders cached documents."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from rightsflow.domain.consent import NoticeRef, Purpose, PurposeState, Source
from rightsflow.domain.consent_state import DeliveryStatus, GpcSeen, StoredConsent, micros
from rightsflow.services.consent_cache import InProcessConsentCache
from rightsflow.services.consent_read import default_members, encode, render

T0 = datetime(2026, 3, 1, 12, tzinfo=UTC)
CATALOGUE = [
    Purpose("essential", "Essential", essential=True),
    Purpose("analytics", "Analytics"),
    Purpose("advertising", "Advertising", gpc=True),
    Purpose("old_thing", "Retired", retired=True),
]


def state(purpose: str, granted: bool, seconds: int = 0) -> PurposeState:
    return PurposeState(
        purpose=purpose,
        granted=granted,
        source=Source.BANNER,
        updated_at=T0 + timedelta(seconds=seconds),
        entry_id=seconds + 1,
        notice=NoticeRef("banner", 3),
    )


def rendered(stored: StoredConsent, regime: str) -> dict[str, Any]:
    document = render(encode(stored), regime, default_members(CATALOGUE, regime))
    parsed: dict[str, Any] = json.loads(document)
    return parsed


def test_a_subject_without_choices_gets_each_regimes_defaults() -> None:
    empty = StoredConsent("h")
    gdpr, ccpa = rendered(empty, "gdpr"), rendered(empty, "ccpa")
    assert (gdpr["version"], gdpr["gpc"], gdpr["systems"]) == (0, None, [])
    assert {k: v["granted"] for k, v in gdpr["purposes"].items()} == {
        "essential": True,
        "analytics": False,
        "advertising": False,
    }
    assert {k: v["granted"] for k, v in ccpa["purposes"].items()} == {
        "essential": True,
        "analytics": True,
        "advertising": True,
    }
    assert all(v["default"] and v["source"] is None for v in ccpa["purposes"].values())
    assert (gdpr["regime"], ccpa["regime"]) == ("gdpr", "ccpa")


def test_stored_choices_win_over_defaults_and_show_where_they_came_from() -> None:
    stored = StoredConsent(
        "h",
        purposes={
            "advertising": state("advertising", False, 5),
            "old_thing": state("old_thing", True),
        },
        gpc=GpcSeen(True, T0 + timedelta(seconds=5)),
        systems=(DeliveryStatus("crm", "confirmed", T0 + timedelta(seconds=9)),),
    )
    doc = rendered(stored, "ccpa")
    ad = doc["purposes"]["advertising"]
    assert ad == {
        "granted": False,
        "source": "banner",
        "notice": {"key": "banner", "version": 3},
        "updated_at": "2026-03-01T12:00:05Z",
        "default": False,
        "resolution": None,
    }
    assert doc["purposes"]["analytics"]["default"] is True  # no choice: the default
    assert doc["purposes"]["old_thing"]["granted"] is True  # retired: its stored state still shows
    assert doc["gpc"] == {"signal": True, "at": "2026-03-01T12:00:05Z"}
    assert doc["systems"] == [
        {"system": "crm", "status": "confirmed", "at": "2026-03-01T12:00:09Z"}
    ]
    assert doc["version"] == micros(T0 + timedelta(seconds=9))  # the newest change it holds


def test_only_stored_purposes_when_the_catalogue_adds_nothing() -> None:
    stored = StoredConsent("h", purposes={"x": state("x", True)})
    doc = json.loads(render(encode(stored), "gdpr", {}))
    assert list(doc["purposes"]) == ["x"]


def test_the_version_grows_with_any_newer_change() -> None:
    base = StoredConsent("h", purposes={"a": state("a", True, 1)})
    later_choice = StoredConsent("h", purposes={"a": state("a", False, 2)})
    later_delivery = StoredConsent(
        "h",
        purposes={"a": state("a", True, 1)},
        systems=(DeliveryStatus("crm", "pending", T0 + timedelta(seconds=1, microseconds=1)),),
    )
    assert 0 < base.version < later_choice.version
    assert base.version < later_delivery.version
    assert later_delivery.version - base.version == 1  # microsecond resolution


def test_a_cache_never_goes_back_to_an_older_version() -> None:
    cache = InProcessConsentCache()
    new, old = (
        StoredConsent("h", purposes={"a": state("a", False, 2)}),
        StoredConsent("h", purposes={"a": state("a", True, 1)}),
    )
    cache.put("k", new.version, encode(new))
    cache.put("k", old.version, encode(old))  # a slow reader that read before the write
    held = cache.get("k")
    assert held is not None
    assert json.loads(render(held, "gdpr", {}))["purposes"]["a"]["granted"] is False
