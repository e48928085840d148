"""domain.experiments: validation, deterministic assignment, and the statistics against values
published or worked out by hand (Newcombe 1998, Stat Med 17:873-890, tables I and II)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rightsflow.domain.errors import InvalidInput
from rightsflow.domain.experiments import (
    Experiment,
    ExperimentStatus,
    Variant,
    VariantCounts,
    assign,
    bucket,
    compare,
    newcombe,
    results,
    sample_ratio,
    two_proportion_z,
    validated,
    variant_at,
    wilson,
)


def experiment(*variants: Variant, salt: str = "s1") -> Experiment:
    chosen = variants or (Variant("control", 1, 1.0), Variant("short", 2, 1.0))
    return Experiment(
        "x1", "banner_copy", "banner", "analytics", chosen, ExperimentStatus.DRAFT, salt
    )


# -- validation ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variants", "field"),
    [
        ((Variant("a", 1, 1.0),), "variants"),
        (tuple(Variant(f"v{i}", 1, 1.0) for i in range(11)), "variants"),
        ((Variant("a", 1, 1.0), Variant("a", 2, 1.0)), "variants.1.name"),
        ((Variant("a", 1, 1.0), Variant("b", 2, 0.0)), "variants.1.weight"),
        ((Variant("a", 1, -1.0), Variant("b", 2, 1.0)), "variants.0.weight"),
        ((Variant("a", 1, math.nan), Variant("b", 2, 1.0)), "variants.0.weight"),
        ((Variant("a", 0, 1.0), Variant("b", 2, 1.0)), "variants.0.notice_version"),
        ((Variant("A b", 1, 1.0), Variant("b", 2, 1.0)), "variants.0.name"),
    ],
)
def test_invalid_variants_name_the_field(variants: tuple[Variant, ...], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        validated(experiment(*variants))
    assert caught.value.field == field


def test_ten_variants_and_an_aa_test_are_valid() -> None:
    ten = tuple(Variant(f"v{i}", 1, 0.5 + i) for i in range(10))
    assert validated(experiment(*ten)).control.name == "v0"
    same_notice = (Variant("a", 3, 1.0), Variant("b", 3, 1.0))
    assert validated(experiment(*same_notice)).variant("b") == same_notice[1]


# -- assignment ---------------------------------------------------------------------------------


def test_bucket_is_fixed_by_salt_and_subject() -> None:
    assert bucket("s1", "h" * 64) == bucket("s1", "h" * 64)
    assert bucket("s1", "h" * 64) != bucket("s2", "h" * 64)
    assert 0 <= bucket("s1", "") < 1


def test_variant_at_walks_cumulative_weights() -> None:
    variants = (Variant("a", 1, 1.0), Variant("b", 2, 3.0))  # a: [0, .25), b: [.25, 1)
    assert variant_at(variants, 0.0).name == "a"
    assert variant_at(variants, 0.2499).name == "a"
    assert variant_at(variants, 0.25).name == "b"
    assert variant_at(variants, 0.999999).name == "b"


@settings(max_examples=50, deadline=None)
@given(subject=st.text(min_size=1, max_size=80), salt=st.text(min_size=1, max_size=64))
def test_assignment_is_stable(subject: str, salt: str) -> None:
    x = experiment(salt=salt)
    assert assign(x, subject) == assign(x, subject) == assign(experiment(salt=salt), subject)


@settings(max_examples=15, deadline=None)
@given(
    weights=st.lists(st.integers(min_value=1, max_value=9), min_size=2, max_size=5),
    salt=st.text(min_size=1, max_size=16),
)
def test_assignment_proportions_converge_to_weights(weights: list[int], salt: str) -> None:
    variants = tuple(Variant(f"v{i}", 1, float(w)) for i, w in enumerate(weights))
    x = experiment(*variants, salt=salt)
    n = 20_000
    seen = Counter(assign(x, f"{i:064x}").name for i in range(n))
    for v in variants:
        share = v.weight / sum(weights)
        # 5 standard errors: a false failure is about one in 1.7 million per variant
        assert abs(seen[v.name] / n - share) < 5 * math.sqrt(share * (1 - share) / n)


# -- statistics ---------------------------------------------------------------------------------


def test_wilson_matches_newcombe_table_i() -> None:
    low, high = wilson(81, 263)
    assert (round(low, 4), round(high, 4)) == (0.2553, 0.3662)
    low, high = wilson(0, 10)
    assert (low, round(high, 4)) == (0.0, 0.2775)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((56, 70), (48, 80), (0.2, 0.0524, 0.3339)),
        ((9, 10), (3, 10), (0.6, 0.1705, 0.8090)),
    ],
)
def test_newcombe_matches_table_ii(
    a: tuple[int, int], b: tuple[int, int], expected: tuple[float, float, float]
) -> None:
    assert tuple(round(x, 4) for x in newcombe(a, b)) == expected


def test_newcombe_is_antisymmetric() -> None:
    difference, low, high = newcombe((30, 100), (45, 90))
    assert newcombe((45, 90), (30, 100)) == pytest.approx((-difference, -high, -low))


def test_z_test_against_a_hand_computation() -> None:
    # pooled p = 104/150; se = sqrt(p(1-p)(1/70 + 1/80)); z = 0.2/se; p = erfc(|z|/sqrt 2)
    pooled = 104 / 150
    z_expected = 0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    z, p_value = two_proportion_z((56, 70), (48, 80))
    assert z == pytest.approx(z_expected)
    assert round(z, 3) == 2.650
    assert p_value == pytest.approx(math.erfc(z_expected / math.sqrt(2)))
    assert two_proportion_z((0, 10), (0, 20)) == (0.0, 1.0)


def test_sample_ratio_mismatch() -> None:
    fine = sample_ratio([5000, 5200], [1, 1])  # chi2 = 2 * 100^2 / 5100
    assert fine.chi2 == pytest.approx(3.92157, rel=1e-5)
    assert fine.p_value == pytest.approx(0.04767, rel=1e-3)
    assert not fine.mismatch
    off = sample_ratio([1000, 1200], [1, 1])  # chi2 = 18.18, p = 2.0e-5
    assert off.mismatch
    assert off.p_value == pytest.approx(2.0079e-5, rel=1e-3)
    weighted = sample_ratio([250, 750], [1, 3])
    assert (weighted.chi2, weighted.mismatch) == (0.0, False)
    assert sample_ratio([0, 0], [1, 1]).p_value is None


def test_results_compare_each_variant_with_the_control() -> None:
    x = experiment(Variant("control", 1, 1.0), Variant("short", 2, 1.0), Variant("long", 3, 1.0))
    counts = {
        "control": VariantCounts("control", 80, 80, 70, 48),
        "short": VariantCounts("short", 70, 70, 60, 56),
        "ghost": VariantCounts("ghost", 5, 5, 5, 5),  # not a variant: ignored
    }
    out = results(x, counts)
    assert [v.variant for v in out.variants] == ["control", "short", "long"]
    assert out.variants[0].consent_rate == 0.6
    assert out.variants[2].consent_rate is None
    short, long = out.comparisons
    assert (short.variant, round(short.ci_low or 0, 4), round(short.ci_high or 0, 4)) == (
        "short",
        0.0524,
        0.3339,
    )
    assert long.difference is None  # no exposures yet
    assert compare(out.variants[0], out.variants[0]).p_value == pytest.approx(1.0)
