"""The consent catalogue on a real SQLite file and a real PostgreSQL server: the repository's
round trips, immutable numbered notice versions, audited changes without texts, the standard
purposes seeded once even by processes starting together, and the 422s naming what is unknown."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from rightsflow.domain.consent import Notice, NoticeRef, Purpose
from rightsflow.domain.consent_catalog import text_sha256
from rightsflow.domain.errors import Conflict, InvalidInput, NotFound
from rightsflow.services import consent_catalog as catalog
from rightsflow.services.platform import Platform
from rightsflow.storage.migrate import make_engine, upgrade_database
from tests.support.catalog_platform import audit_events, catalog_platform
from tests.support.db_runtime import DB_KINDS, pg_database_url

SECRET_TEXT = "We use cookies. Contact jane.doe@example.test"  # must never reach the audit


@pytest.fixture(params=DB_KINDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'app.db'}"
    else:
        url = pg_database_url(request, "rf_catalog")
    upgrade_database(url)
    return url


@pytest.fixture
def engines(db_url: str) -> Iterator[Callable[[], Engine]]:
    made: list[Engine] = []

    def make() -> Engine:
        made.append(make_engine(db_url))
        return made[-1]

    yield make
    for engine in made:
        engine.dispose()


@pytest.fixture
def platform(engines: Callable[[], Engine]) -> Platform:
    return catalog_platform(engines())


def test_repository_round_trip(platform: Platform) -> None:
    purpose = Purpose("analytics", "Analytics", "why", {"gdpr": "Art. 6(1)(a)"}, "basis", gpc=True)
    with platform.uow() as uow:
        uow.consent_catalog.put_purpose(purpose)
        uow.consent_catalog.put_purpose(Purpose("ads", "Ads", retired=True))
        uow.consent_catalog.add_notice(Notice("banner", 1, "one", ("analytics",)), "ops")
        uow.consent_catalog.add_notice(Notice("banner", 2, "two", ("analytics", "ads"), "de"), "x")
        uow.consent_catalog.add_notice(Notice("footer", 1, "f", ("analytics",)), "ops")
        uow.commit()
    with platform.uow() as uow:
        repo = uow.consent_catalog
        assert repo.purpose("analytics") == purpose
        assert [p.key for p in repo.purposes()] == ["analytics"]
        assert [p.key for p in repo.purposes(include_retired=True)] == ["ads", "analytics"]
        assert repo.purpose("nope") is None
        second = repo.notice("banner", 2)
        assert second is not None
        assert (second.text, second.purposes, second.language) == (
            "two",
            ("analytics", "ads"),
            "de",
        )
        assert second.published_at is not None
        assert [n.version for n in repo.notice_versions("banner")] == [1, 2]
        assert [(n.key, n.version) for n in repo.latest_notices()] == [("banner", 2), ("footer", 1)]
        assert (repo.last_version("banner"), repo.last_version("none")) == (2, 0)
        assert repo.notice("banner", 3) is None


def test_a_published_version_cannot_be_written_again(platform: Platform) -> None:
    with platform.uow() as uow:
        uow.consent_catalog.add_notice(Notice("banner", 1, "first", ("analytics",)), "ops")
        uow.commit()
    with platform.uow() as uow, pytest.raises(Conflict, match="already published"):
        uow.consent_catalog.add_notice(Notice("banner", 1, "changed", ("analytics",)), "ops")
    with platform.uow() as uow:
        stored = uow.consent_catalog.notice("banner", 1)
    assert stored is not None
    assert stored.text == "first"


def test_standard_purposes_are_seeded_once_and_audited(platform: Platform) -> None:
    assert catalog.ensure_standard_purposes(platform) == 5
    assert catalog.ensure_standard_purposes(platform) == 0
    purposes = {p.key: p for p in catalog.list_purposes(platform)}
    assert sorted(purposes) == [
        "advertising",
        "analytics",
        "essential",
        "personalisation",
        "sale_sharing",
    ]
    assert purposes["essential"].essential
    assert {k for k, p in purposes.items() if p.gpc} == {"advertising", "sale_sharing"}
    assert "1798.120" in purposes["sale_sharing"].basis("ccpa")
    events = audit_events(platform, catalog.PURPOSE_CREATED)
    assert len(events) == 5
    assert {e.actor for e in events} == {"system"}
    assert all(e.detail["standard"] for e in events)


def test_no_seeding_over_a_catalogue_of_retired_purposes(platform: Platform) -> None:
    with platform.uow() as uow:
        uow.consent_catalog.put_purpose(Purpose("legacy", "Legacy", retired=True))
        uow.commit()
    assert catalog.ensure_standard_purposes(platform) == 0
    assert catalog.list_purposes(platform) == []


def test_processes_starting_together_seed_once(engines: Callable[[], Engine]) -> None:
    platforms = [catalog_platform(engines()) for _ in range(4)]
    created: list[int] = []
    failures: list[BaseException] = []
    start = threading.Barrier(len(platforms))

    def seed(p: Platform) -> None:
        start.wait()
        try:
            created.append(catalog.ensure_standard_purposes(p))
        except BaseException as exc:  # reported below, with the thread's error
            failures.append(exc)

    threads = [threading.Thread(target=seed, args=(p,)) for p in platforms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(created) == [0, 0, 0, 5]
    assert len(catalog.list_purposes(platforms[0])) == 5
    assert len(audit_events(platforms[0], catalog.PURPOSE_CREATED)) == 5


def test_notice_versions_are_numbered_and_audited_without_text(platform: Platform) -> None:
    catalog.ensure_standard_purposes(platform)
    first = catalog.publish_notice(platform, "banner", SECRET_TEXT, ["analytics"], actor="ops")
    second = catalog.publish_notice(
        platform, "banner", "v2", ["analytics", "advertising"], actor="ops", language="pt-BR"
    )
    assert (first.version, second.version) == (1, 2)
    assert catalog.get_notice(platform, "banner", 1).text == SECRET_TEXT
    assert [n.version for n in catalog.notice_versions(platform, "banner")] == [1, 2]
    assert [n.version for n in catalog.latest_notices(platform)] == [2]
    events = audit_events(platform, catalog.NOTICE_PUBLISHED)
    assert [(e.detail["key"], e.detail["version"]) for e in events] == [
        ("banner", 1),
        ("banner", 2),
    ]
    assert events[0].detail["sha256"] == text_sha256(SECRET_TEXT)
    dumped = json.dumps([dict(e.detail) for e in audit_events(platform)])
    assert "jane.doe" not in dumped
    assert "cookies" not in dumped
    with pytest.raises(NotFound):
        catalog.get_notice(platform, "banner", 3)
    with pytest.raises(NotFound):
        catalog.notice_versions(platform, "nothing")


def test_concurrent_publishers_get_consecutive_versions(engines: Callable[[], Engine]) -> None:
    first = catalog_platform(engines())
    catalog.ensure_standard_purposes(first)
    platforms = [first, *(catalog_platform(engines()) for _ in range(3))]
    versions: list[int] = []
    failures: list[BaseException] = []
    start = threading.Barrier(len(platforms))

    def publish(p: Platform) -> None:
        start.wait()
        try:
            versions.append(
                catalog.publish_notice(p, "banner", "t", ["analytics"], actor="x").version
            )
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=publish, args=(p,)) for p in platforms]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(versions) == [1, 2, 3, 4]


@pytest.mark.parametrize(
    ("purposes", "message"),
    [
        (["analytics", "telemetry"], "unknown purpose 'telemetry'"),
        (["legacy"], "purpose 'legacy' is retired"),
        ([], "at least one purpose"),
        (["analytics", "analytics"], "listed twice"),
    ],
)
def test_a_notice_names_live_purposes(
    platform: Platform, purposes: list[str], message: str
) -> None:
    catalog.ensure_standard_purposes(platform)
    catalog.put_purpose(platform, Purpose("legacy", "Legacy"), actor="ops")
    catalog.retire_purpose(platform, "legacy", actor="ops")
    with pytest.raises(InvalidInput, match=message) as caught:
        catalog.publish_notice(platform, "banner", "text", purposes, actor="ops")
    assert caught.value.field == "purposes"
    with pytest.raises(NotFound):
        catalog.notice_versions(platform, "banner")


def test_put_updates_in_place_and_audits_changed_fields(platform: Platform) -> None:
    made, created = catalog.put_purpose(platform, Purpose("email_news", "News"), actor="ops")
    assert created
    assert not made.retired
    updated, created = catalog.put_purpose(
        platform, Purpose("email_news", "Newsletter", legal_bases={"gdpr": "consent"}), actor="a"
    )
    assert not created
    assert updated.name == "Newsletter"
    _same, created = catalog.put_purpose(
        platform, Purpose("email_news", "Newsletter", legal_bases={"gdpr": "consent"}), actor="a"
    )
    assert not created
    retired = catalog.retire_purpose(platform, "email_news", actor="ops")
    assert retired.retired
    assert catalog.retire_purpose(platform, "email_news", actor="ops").retired
    # An update keeps a retired purpose retired (retiring is one-way).
    again, _ = catalog.put_purpose(platform, Purpose("email_news", "N2"), actor="ops")
    assert again.retired
    actions = [(e.action, e.actor, dict(e.detail)) for e in audit_events(platform)]
    assert [a for a, _, _ in actions] == [
        catalog.PURPOSE_CREATED,
        catalog.PURPOSE_UPDATED,
        catalog.PURPOSE_RETIRED,
        catalog.PURPOSE_UPDATED,
    ]
    assert actions[1][2]["changed"] == ["name", "legal_bases"]
    assert actions[1][1] == "a"
    assert "Newsletter" not in json.dumps([d for _, _, d in actions])


def test_require_helpers_name_what_is_unknown(platform: Platform) -> None:
    catalog.ensure_standard_purposes(platform)
    catalog.publish_notice(platform, "banner", "text", ["analytics"], actor="ops")
    with platform.uow() as uow:
        found: Any = catalog.require_purposes(uow, ["analytics", "essential"])
        assert sorted(found) == ["analytics", "essential"]
        assert catalog.require_notice(uow, NoticeRef("banner", 1)).version == 1
        with pytest.raises(InvalidInput, match="unknown notice version 'banner' v2"):
            catalog.require_notice(uow, NoticeRef("banner", 2))
        with pytest.raises(InvalidInput, match="unknown notice version 'footer' v1"):
            catalog.require_notice(uow, NoticeRef("footer", 1))
        with pytest.raises(InvalidInput, match="unknown purpose 'fishing'") as caught:
            catalog.require_purposes(uow, ["fishing"], field="choices")
        assert caught.value.field == "choices"
        # A malformed key is refused without being echoed (it could be anything a caller sent).
        with pytest.raises(InvalidInput) as malformed:
            catalog.require_purposes(uow, ["Jane Doe <jane@example.test>"])
        assert "jane" not in str(malformed.value).lower()
