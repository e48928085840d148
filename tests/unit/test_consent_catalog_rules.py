"""The consent catalogue's rules (domain/consent_catalog.py): what a valid purpose and notice
are, and that the standard purposes are complete and consistent."""

from __future__ import annotations

import pytest

from rightsflow.domain.consent import GPC_BINDING, REGIME_MODELS, Purpose
from rightsflow.domain.consent_catalog import (
    MAX_NAME,
    MAX_NOTICE_TEXT,
    STANDARD_PURPOSES,
    check_notice,
    check_purpose,
)
from rightsflow.domain.errors import InvalidInput


def test_a_plain_purpose_is_valid() -> None:
    check_purpose(Purpose("analytics", "Analytics", legal_bases={"gdpr": "Art. 6(1)(a)"}))


@pytest.mark.parametrize(
    ("purpose", "field"),
    [
        (Purpose("a", " "), "name"),
        (Purpose("a", "x" * (MAX_NAME + 1)), "name"),
        (Purpose("a", "A", legal_bases={"narnia": "x"}), "legal_bases"),
        (Purpose("a", "A", legal_bases={"gdpr": " "}), "legal_bases.gdpr"),
        (Purpose("a", "A", legal_bases={"ccpa": "x" * 301}), "legal_bases.ccpa"),
        (Purpose("a", "A", default_basis="x" * 301), "default_basis"),
        (Purpose("a", "A", description="x" * 4001), "description"),
        (Purpose("a", "A", gpc=True, essential=True), "gpc"),
    ],
)
def test_a_bad_purpose_names_its_field(purpose: Purpose, field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_purpose(purpose)
    assert caught.value.field == field


def test_a_bad_key_is_refused_without_echoing_it() -> None:
    with pytest.raises(InvalidInput) as caught:
        Purpose("Jane.Doe@example.test", "x")
    assert "jane" not in str(caught.value).lower()


@pytest.mark.parametrize("language", ["en", "pt-BR", "zh-Hant-TW", "es-419"])
def test_language_tags(language: str) -> None:
    check_notice("banner", "text", ["analytics"], language)


@pytest.mark.parametrize(
    ("key", "text", "purposes", "language", "field"),
    [
        ("Banner", "t", ["analytics"], "en", "key"),
        ("banner", "  ", ["analytics"], "en", "text"),
        ("banner", "x" * (MAX_NOTICE_TEXT + 1), ["analytics"], "en", "text"),
        ("banner", "t", ["analytics"], "english!", "language"),
        ("banner", "t", [], "en", "purposes"),
        ("banner", "t", ["a", "a"], "en", "purposes"),
        ("banner", "t", ["Not A Key"], "en", "purposes"),
        ("banner", "t", [f"p{i}" for i in range(65)], "en", "purposes"),
    ],
)
def test_a_bad_notice_names_its_field(
    key: str, text: str, purposes: list[str], language: str, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_notice(key, text, purposes, language)
    assert caught.value.field == field


def test_the_standard_purposes_are_valid_and_cover_every_regime() -> None:
    keys = [p.key for p in STANDARD_PURPOSES]
    assert keys == ["essential", "analytics", "personalisation", "advertising", "sale_sharing"]
    for purpose in STANDARD_PURPOSES:
        check_purpose(purpose)
        for regime in REGIME_MODELS:
            assert purpose.basis(regime), (purpose.key, regime)


def test_standard_defaults_follow_the_regimes() -> None:
    by_key = {p.key: p for p in STANDARD_PURPOSES}
    assert by_key["essential"].default_granted("gdpr")
    assert not by_key["analytics"].default_granted("gdpr")
    assert by_key["sale_sharing"].default_granted("ccpa")
    assert {k for k, p in by_key.items() if p.gpc} == {"advertising", "sale_sharing"}
    for regime in GPC_BINDING:  # the regimes binding GPC cite their opt-out right
        assert "opt out" in by_key["sale_sharing"].basis(regime)
    assert "1798.120" in by_key["sale_sharing"].basis("ccpa")
    assert by_key["advertising"].basis("lgpd") == "LGPD Art. 7 I consent"
    assert "Principle 4.3" in by_key["analytics"].basis("pipeda")
    assert "Art. 6(1)(b)" in by_key["essential"].basis("gdpr")
