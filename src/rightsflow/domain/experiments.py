"""A/B experiments of consent notices: variants, deterministic assignment, and their statistics.

An experiment shows versions of one notice (its *variants*, each with a traffic weight) and
measures one purpose: did the person grant it? A subject is put in a variant by hashing the
experiment's salt with the subject's keyed hash into a bucket in [0, 1) and walking the
cumulative weights, so the same subject always lands in the same variant (the first assignment
is also stored and kept, see services/experiments.py).

Statistics compare every variant with the control (the first variant): the difference of
consent rates with a 95 % Newcombe (hybrid Wilson score, "method 10") interval, a pooled
two-proportion z-test, and a sample-ratio-mismatch check (chi-square goodness of fit of the
exposures against the weights). docs/consent_experiments.md has the formulas.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from rightsflow.domain.consent import NOTICE_KEY, PURPOSE_KEY
from rightsflow.domain.errors import InvalidInput

MIN_VARIANTS, MAX_VARIANTS = 2, 10
VARIANT_NAME = re.compile(r"^[a-z0-9][a-z0-9_\-]{0,63}$")
CONFIDENCE = 0.95
SRM_ALPHA = 0.001  # a p-value below this flags a sample-ratio mismatch
_BUCKET_BITS = 64


class ExperimentStatus(StrEnum):
    DRAFT = "draft"  # defined; assigns nobody yet
    RUNNING = "running"  # assigns subjects and records events
    STOPPED = "stopped"  # keeps assignments and results; shows everyone the control


class EventKind(StrEnum):
    EXPOSURE = "exposure"  # the subject was shown their variant's notice
    OUTCOME = "outcome"  # the subject chose (granted or not) the measured purpose


@dataclass(frozen=True)
class Variant:
    name: str
    notice_version: int
    weight: float


@dataclass(frozen=True)
class Experiment:
    """An experiment as stored. Built through `validated` from outside input."""

    id: str
    key: str
    notice_key: str
    purpose: str
    variants: tuple[Variant, ...]
    status: ExperimentStatus
    salt: str
    created_by: str = ""
    created_at: datetime | None = None
    started_at: datetime | None = None
    stopped_at: datetime | None = None

    @property
    def control(self) -> Variant:
        return self.variants[0]

    def variant(self, name: str) -> Variant | None:
        return next((v for v in self.variants if v.name == name), None)


def validated(experiment: Experiment) -> Experiment:
    """The experiment if it keeps the rules; InvalidInput naming the field otherwise."""
    if not NOTICE_KEY.fullmatch(experiment.key):
        raise InvalidInput(
            "an experiment key is lowercase letters, digits and underscores (at most 64), "
            "starting with a letter",
            field="key",
        )
    if not NOTICE_KEY.fullmatch(experiment.notice_key):
        raise InvalidInput("not a notice key", field="notice_key")
    if not PURPOSE_KEY.fullmatch(experiment.purpose):
        raise InvalidInput("not a purpose key", field="purpose")
    if not experiment.salt or len(experiment.salt) > 64:
        raise InvalidInput("the salt is 1 to 64 characters", field="salt")
    _check_variants(experiment.variants)
    return experiment


def _check_variants(variants: Sequence[Variant]) -> None:
    if not MIN_VARIANTS <= len(variants) <= MAX_VARIANTS:
        raise InvalidInput(
            f"an experiment has {MIN_VARIANTS} to {MAX_VARIANTS} variants", field="variants"
        )
    seen: set[str] = set()
    for i, variant in enumerate(variants):
        where = f"variants.{i}"
        if not VARIANT_NAME.fullmatch(variant.name):
            raise InvalidInput(
                "a variant name is lowercase letters, digits, '_' and '-' (at most 64)",
                field=f"{where}.name",
            )
        if variant.name in seen:
            raise InvalidInput("variant names must be unique", field=f"{where}.name")
        seen.add(variant.name)
        if variant.notice_version < 1:
            raise InvalidInput("a notice version is at least 1", field=f"{where}.notice_version")
        if not (math.isfinite(variant.weight) and variant.weight > 0):
            raise InvalidInput("a weight is a positive number", field=f"{where}.weight")


# -- Assignment ---------------------------------------------------------------------------------


def bucket(salt: str, subject_hash: str) -> float:
    """A uniform number in [0, 1) fixed by the salt and the subject: the first 64 bits of
    SHA-256(salt ":" subject hash). A new salt reshuffles everyone; nothing else does."""
    digest = hashlib.sha256(f"{salt}:{subject_hash}".encode()).digest()
    return int.from_bytes(digest[: _BUCKET_BITS // 8], "big") / 2.0**_BUCKET_BITS


def variant_at(variants: Sequence[Variant], point: float) -> Variant:
    """The variant whose share of the cumulative weights holds `point` (in [0, 1))."""
    total = math.fsum(v.weight for v in variants)
    edge = 0.0
    for variant in variants:
        edge += variant.weight / total
        if point < edge:
            return variant
    return variants[-1]  # rounding left the last edge a hair under 1


def assign(experiment: Experiment, subject_hash: str) -> Variant:
    return variant_at(experiment.variants, bucket(experiment.salt, subject_hash))


# -- Statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class VariantCounts:
    """Distinct subjects per variant: assigned, exposed (shown the notice or chose under it),
    chose (made a choice) and granted (their first choice granted the purpose)."""

    variant: str
    assigned: int = 0
    exposures: int = 0
    outcomes: int = 0
    granted: int = 0

    @property
    def consent_rate(self) -> float | None:
        return self.granted / self.exposures if self.exposures else None


@dataclass(frozen=True)
class Comparison:
    """A variant against the control: rate difference (variant - control), its interval and
    the two-sided p-value of the pooled z-test. None where a side has no exposures."""

    variant: str
    difference: float | None
    ci_low: float | None
    ci_high: float | None
    z: float | None
    p_value: float | None


@dataclass(frozen=True)
class SampleRatio:
    """Chi-square goodness of fit of the exposures against the weights."""

    chi2: float | None
    p_value: float | None
    mismatch: bool


@dataclass(frozen=True)
class Results:
    variants: tuple[VariantCounts, ...]
    comparisons: tuple[Comparison, ...]
    sample_ratio: SampleRatio
    method: str = "newcombe-wilson"
    confidence: float = CONFIDENCE


def _stats() -> Any:
    """scipy.stats, imported on first use: it takes ~0.8 s, which every CLI command and
    process start would otherwise pay (tests/unit/test_registry_lazy.py)."""
    from scipy import stats  # noqa: PLC0415

    return stats


def _z(confidence: float) -> float:
    return float(_stats().norm.ppf(0.5 + confidence / 2))


def wilson(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson score interval of a proportion (trials > 0)."""
    z = _z(confidence)
    p = successes / trials
    denominator = 1 + z * z / trials
    centre = (p + z * z / (2 * trials)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / trials + z * z / (4 * trials * trials))
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe(
    a: tuple[int, int], b: tuple[int, int], confidence: float = CONFIDENCE
) -> tuple[float, float, float]:
    """pa - pb and its Newcombe hybrid score interval; a and b are (successes, trials)."""
    pa, pb = a[0] / a[1], b[0] / b[1]
    la, ua = wilson(*a, confidence)
    lb, ub = wilson(*b, confidence)
    difference = pa - pb
    low = difference - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    high = difference + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    return difference, low, high


def two_proportion_z(a: tuple[int, int], b: tuple[int, int]) -> tuple[float, float]:
    """(z, two-sided p) of the pooled z-test of pa = pb. Both rates 0 or both 1: (0, 1)."""
    pooled = (a[0] + b[0]) / (a[1] + b[1])
    variance = pooled * (1 - pooled) * (1 / a[1] + 1 / b[1])
    if variance <= 0:
        return 0.0, 1.0
    z = (a[0] / a[1] - b[0] / b[1]) / math.sqrt(variance)
    return z, float(2 * _stats().norm.sf(abs(z)))


def compare(control: VariantCounts, variant: VariantCounts) -> Comparison:
    if not (control.exposures and variant.exposures):
        return Comparison(variant.variant, None, None, None, None, None)
    a, b = (variant.granted, variant.exposures), (control.granted, control.exposures)
    difference, low, high = newcombe(a, b)
    z, p_value = two_proportion_z(a, b)
    return Comparison(variant.variant, difference, low, high, z, p_value)


def sample_ratio(exposures: Sequence[int], weights: Sequence[float]) -> SampleRatio:
    total = sum(exposures)
    if total == 0:
        return SampleRatio(None, None, mismatch=False)
    weight_sum = math.fsum(weights)
    expected = [total * w / weight_sum for w in weights]
    fit: Any = _stats().chisquare(list(exposures), expected)
    chi2, p_value = fit
    return SampleRatio(float(chi2), float(p_value), mismatch=bool(p_value < SRM_ALPHA))


def results(experiment: Experiment, counts: Mapping[str, VariantCounts]) -> Results:
    """Statistics of the experiment from per-variant counts (variants without any count are
    zeros; counts of names that are not variants are ignored)."""
    rows = tuple(counts.get(v.name, VariantCounts(v.name)) for v in experiment.variants)
    control = rows[0]
    return Results(
        variants=rows,
        comparisons=tuple(compare(control, row) for row in rows[1:]),
        sample_ratio=sample_ratio(
            [row.exposures for row in rows], [v.weight for v in experiment.variants]
        ),
    )
