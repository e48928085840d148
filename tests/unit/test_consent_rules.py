"""domain/consent_rules: validation, GPC conflicts per regime, linking, and what is withdrawn."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rightsflow.domain import consent_rules as rules
from rightsflow.domain.consent import (
    GPC_BINDING,
    REGIME_MODELS,
    Choice,
    ConsentWrite,
    Purpose,
    PurposeState,
    Signals,
    Source,
    SubjectKind,
    SubjectRef,
)
from rightsflow.domain.errors import InvalidInput

T0 = datetime(2026, 5, 1, 12, tzinfo=UTC)
PURPOSES = {
    p.key: p
    for p in (
        Purpose("essential", "Essential", essential=True),
        Purpose("analytics", "Analytics"),
        Purpose("advertising", "Advertising", gpc=True),
        Purpose("sale_sharing", "Sale and sharing", gpc=True),
        Purpose("old_thing", "Old", retired=True),
    )
}
SUBJECT = SubjectRef(SubjectKind.USER_ID, "u-1")


def write(
    *choices: tuple[str, bool],
    regime: str = "ccpa",
    gpc: bool = False,
    confirmed: bool = False,
    source: Source = Source.BANNER,
) -> ConsentWrite:
    return ConsentWrite(
        subject=SUBJECT,
        choices=tuple(Choice(p, g) for p, g in choices),
        source=source,
        regime=regime,
        signals=Signals(gpc=gpc),
        confirmed_over_gpc=confirmed,
    )


def state(
    purpose: str, granted: bool, *, at: datetime = T0, entry: int = 1, resolution: str | None = None
) -> PurposeState:
    return PurposeState(purpose, granted, Source.BANNER, at, entry, resolution=resolution)


def effective(outcomes: list[rules.Outcome]) -> dict[str, tuple[bool, str | None]]:
    return {o.purpose: (o.effective, o.resolution) for o in outcomes}


# -- validation ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("choices", "field", "message"),
    [
        ([("nope", True)], "choices.0.purpose", "unknown purpose: nope"),
        ([("analytics", True), ("x y", True)], "choices.1.purpose", "(not a purpose key)"),
        ([("old_thing", True)], "choices.0.purpose", "retired"),
        ([("analytics", True), ("analytics", False)], "choices.1.purpose", "twice"),
        ([("essential", False)], "choices.0.granted", "cannot be refused"),
    ],
)
def test_bad_choices_name_the_purpose_and_position(
    choices: list[tuple[str, bool]], field: str, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message) as caught:
        rules.resolve(write(*choices), PURPOSES, {})
    assert caught.value.field == field


def test_plain_choices_are_taken_as_given() -> None:
    out = rules.resolve(write(("analytics", True), ("advertising", False)), PURPOSES, {})
    assert out == [
        rules.Outcome("analytics", True, True, Source.BANNER),
        rules.Outcome("advertising", False, False, Source.BANNER),
    ]
    assert rules.resolve(write(("essential", True)), PURPOSES, {})[0].effective


# -- GPC under binding regimes --------------------------------------------------------------------
@pytest.mark.parametrize("regime", sorted(GPC_BINDING))
def test_gpc_opts_out_over_saved_and_fresh_opt_ins(regime: str) -> None:
    saved = {"advertising": state("advertising", True)}
    out = rules.resolve(write(("sale_sharing", True), regime=regime, gpc=True), PURPOSES, saved)
    assert effective(out) == {
        "sale_sharing": (False, rules.GPC_OVERRIDES_CHOICE),
        "advertising": (False, rules.GPC_OVERRIDES_SAVED),
    }
    assert next(o for o in out if o.purpose == "advertising").source is Source.GPC


def test_confirmed_over_gpc_keeps_the_opt_in_and_later_signals_keep_it() -> None:
    first = rules.resolve(write(("sale_sharing", True), gpc=True, confirmed=True), PURPOSES, {})
    assert effective(first)["sale_sharing"] == (True, rules.CONFIRMED_OVER_GPC)
    saved = {"sale_sharing": state("sale_sharing", True, resolution=rules.CONFIRMED_OVER_GPC)}
    later = rules.resolve(write(gpc=True, source=Source.GPC), PURPOSES, saved)
    assert effective(later) == {
        "advertising": (False, None),
        "sale_sharing": (True, rules.CONFIRMED_KEPT),
    }


def test_gpc_leaves_purposes_already_off_alone_and_ignores_other_purposes() -> None:
    saved = {"advertising": state("advertising", False), "analytics": state("analytics", True)}
    out = rules.resolve(write(gpc=True), PURPOSES, saved)
    assert effective(out) == {"sale_sharing": (False, None)}


def test_source_gpc_counts_as_the_signal() -> None:
    out = rules.resolve(write(source=Source.GPC), PURPOSES, {})
    assert {o.purpose for o in out} == {"advertising", "sale_sharing"}


@pytest.mark.parametrize("regime", ["vcdpa", "ucpa"])
def test_non_binding_opt_out_regimes_honour_gpc_too(regime: str) -> None:
    saved = {"advertising": state("advertising", True)}
    out = rules.resolve(write(("sale_sharing", True), regime=regime, gpc=True), PURPOSES, saved)
    assert not any(o.effective for o in out)


# -- GPC under opt-in regimes -----------------------------------------------------------------
@pytest.mark.parametrize("regime", ["gdpr", "uk_gdpr", "lgpd", "pipeda"])
def test_opt_in_regimes_record_an_objection_and_keep_specific_consent(regime: str) -> None:
    saved = {"advertising": state("advertising", True)}
    out = rules.resolve(write(("sale_sharing", True), regime=regime, gpc=True), PURPOSES, saved)
    assert effective(out) == {
        "sale_sharing": (True, rules.CHOICE_KEPT_OVER_GPC),
        "advertising": (True, rules.SAVED_KEPT_OVER_GPC),
    }
    fresh = rules.resolve(write(regime=regime, gpc=True), PURPOSES, {})
    assert [(o.effective, o.source) for o in fresh] == [(False, Source.GPC)] * 2


@given(
    regime=st.sampled_from(sorted(GPC_BINDING | {"vcdpa", "ucpa"})),
    choices=st.dictionaries(
        st.sampled_from(["analytics", "advertising", "sale_sharing"]), st.booleans()
    ),
    saved=st.dictionaries(
        st.sampled_from(["analytics", "advertising", "sale_sharing"]),
        st.tuples(st.booleans(), st.sampled_from([None, rules.CONFIRMED_OVER_GPC])),
    ),
    confirmed=st.booleans(),
)
def test_gpc_never_leaves_a_gpc_purpose_granted_without_confirmation(
    regime: str,
    choices: dict[str, bool],
    saved: dict[str, tuple[bool, str | None]],
    confirmed: bool,
) -> None:
    stored = {k: state(k, g, resolution=r) for k, (g, r) in saved.items()}
    request = write(*choices.items(), regime=regime, gpc=True, confirmed=confirmed)
    after = {k: s.granted for k, s in stored.items()}
    after.update({o.purpose: o.effective for o in rules.resolve(request, PURPOSES, stored)})
    for key in ("advertising", "sale_sharing"):
        was_confirmed = key in saved and saved[key] == (True, rules.CONFIRMED_OVER_GPC)
        now_confirmed = confirmed and choices.get(key) is True
        on = after.get(key, PURPOSES[key].default_granted(regime))
        assert not on or was_confirmed or now_confirmed


@given(
    regime=st.sampled_from(sorted(REGIME_MODELS)),
    choices=st.dictionaries(st.sampled_from(["analytics", "advertising"]), st.booleans()),
    gpc=st.booleans(),
)
def test_an_explicit_refusal_is_always_effective_and_withdrawn(
    regime: str, choices: dict[str, bool], gpc: bool
) -> None:
    out = rules.resolve(write(*choices.items(), regime=regime, gpc=gpc), PURPOSES, {})
    refused = {k for k, g in choices.items() if not g}
    assert refused <= {o.purpose for o in out if not o.effective}
    assert refused <= set(rules.withdrawn(out, {}, PURPOSES, regime))


# -- withdrawn ------------------------------------------------------------------------------
def test_withdrawn_is_granted_to_not_granted_or_an_explicit_refusal() -> None:
    saved = {"analytics": state("analytics", True)}
    out = rules.resolve(write(("analytics", False), gpc=True), PURPOSES, saved)
    # ccpa: gpc purposes were on by default, analytics was saved on.
    assert rules.withdrawn(out, saved, PURPOSES, "ccpa") == [
        "advertising",
        "analytics",
        "sale_sharing",
    ]
    # gdpr: gpc purposes were off by default: the signal alone withdraws nothing.
    out = rules.resolve(write(regime="gdpr", gpc=True), PURPOSES, {})
    assert rules.withdrawn(out, {}, PURPOSES, "gdpr") == []
    out = rules.resolve(write(("analytics", True)), PURPOSES, {})
    assert rules.withdrawn(out, {}, PURPOSES, "ccpa") == []


# -- linking -----------------------------------------------------------------------------------
def test_linking_rules() -> None:
    later = T0 + timedelta(minutes=5)
    device = {
        "analytics": state("analytics", True, at=later, entry=9),  # newer: wins
        "advertising": state("advertising", False, at=T0, entry=2),  # opt-out of gpc: carried
        "sale_sharing": state("sale_sharing", True, at=T0, entry=3),  # user never chose: taken
        "essential": state("essential", True),
        "gone": state("gone", True),
    }
    user = {
        "analytics": state("analytics", False, at=T0, entry=4),
        "advertising": state("advertising", True, at=later, entry=8),
    }
    out = rules.link_outcomes(device, user, PURPOSES)
    assert {(o.purpose, o.effective, o.resolution) for o in out} == {
        ("analytics", True, rules.NEWER_DEVICE_CHOICE),
        ("advertising", False, rules.DEVICE_OPT_OUT_CARRIED),
        ("sale_sharing", True, rules.DEVICE_CHOICE_TAKEN),
    }
    assert {o.source for o in out} == {Source.LINK}


def test_linking_keeps_the_users_own_newer_or_equal_choice() -> None:
    device = {"analytics": state("analytics", True, at=T0, entry=1)}
    user = {"analytics": state("analytics", False, at=T0, entry=2)}
    assert rules.link_outcomes(device, user, PURPOSES) == []
    same = {"analytics": state("analytics", True, at=T0, entry=2)}
    assert rules.link_outcomes(device, same, PURPOSES) == []
    # a device opt-in never overrides a user's opt-out of a gpc purpose unless newer
    device = {"advertising": state("advertising", True, at=T0, entry=1)}
    user = {"advertising": state("advertising", False, at=T0 + timedelta(seconds=1), entry=2)}
    assert rules.link_outcomes(device, user, PURPOSES) == []
