"""/api/v1/consent/experiments: A/B experiments of consent notices.

Create (a draft), start, stop; assign a subject (their variant and its notice text), record
exposures and outcomes; results per variant with the difference to the control (Newcombe
95 % interval, pooled two-proportion z-test) and a sample-ratio-mismatch check. Changes and
events need `consent:write`, reads `consent:read`; create/start/stop are audited.

Included in the app before the read API's `/api/v1/consent/{subject}`, which would otherwise
take `/api/v1/consent/experiments` for a subject.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Security
from pydantic import BaseModel, ConfigDict, Field

from rightsflow.api.auth import ActorDep, AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep
from rightsflow.api.problems import problem_responses
from rightsflow.domain import experiments as ex
from rightsflow.domain.access import Scope
from rightsflow.domain.consent import NOTICE_KEY, SubjectRef
from rightsflow.domain.experiments import Experiment, ExperimentStatus, Variant
from rightsflow.services import experiments

router = APIRouter(
    prefix="/api/v1/consent/experiments",
    tags=["consent experiments"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 403),
)
Key = Annotated[
    str, Path(max_length=64, pattern=NOTICE_KEY.pattern, description="e.g. banner_copy")
]


_KEY = NOTICE_KEY.pattern  # experiment, notice and purpose keys follow the same rule
KeyField = Annotated[str, Field(max_length=64, pattern=_KEY)]


class VariantIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: str = Field(
        max_length=64,
        pattern=ex.VARIANT_NAME.pattern,
        description="Unique in the experiment; the first variant is the control",
    )
    notice_version: int = Field(
        ge=1, le=2**31 - 1, description="A published version of the experiment's notice"
    )
    weight: float = Field(
        default=1.0,
        gt=0,
        le=1e6,
        allow_inf_nan=False,
        description="Share of the traffic (relative)",
    )


class ExperimentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    key: KeyField = Field(description="e.g. banner_copy")
    notice_key: KeyField = Field(description="The notice whose versions are tested")
    purpose: KeyField = Field(description="The purpose measured: was it granted?")
    variants: list[VariantIn] = Field(
        min_length=ex.MIN_VARIANTS,
        max_length=ex.MAX_VARIANTS,
        description="The first is the control; names must be unique",
    )
    salt: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="Seeds assignment; random when omitted",
    )


class VariantOut(BaseModel):
    name: str
    notice_version: int
    weight: float


class ExperimentOut(BaseModel):
    key: str
    notice_key: str
    purpose: str
    status: str = Field(description="draft | running | stopped")
    variants: list[VariantOut]
    created_by: str
    created_at: datetime | None
    started_at: datetime | None
    stopped_at: datetime | None

    @classmethod
    def of(cls, experiment: Experiment) -> ExperimentOut:
        return cls(
            key=experiment.key,
            notice_key=experiment.notice_key,
            purpose=experiment.purpose,
            status=experiment.status.value,
            variants=[VariantOut(**vars(v)) for v in experiment.variants],
            created_by=experiment.created_by,
            created_at=experiment.created_at,
            started_at=experiment.started_at,
            stopped_at=experiment.stopped_at,
        )


class ExperimentList(BaseModel):
    items: list[ExperimentOut]


class SubjectIn(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    subject: str = Field(
        pattern=r"\S",
        min_length=1,
        max_length=300,
        description="user_id:..., device_id:..., email:... or a user id",
    )


class OutcomeIn(SubjectIn):
    granted: bool = Field(description="Did the subject grant the experiment's purpose?")


class AssignmentOut(BaseModel):
    experiment: str
    variant: str
    notice_key: str
    notice_version: int
    language: str
    text: str
    recorded: bool = Field(description="False once stopped: everyone sees the control")


class EventOut(BaseModel):
    experiment: str
    variant: str


class VariantResult(BaseModel):
    variant: str
    assigned: int
    exposures: int = Field(description="Distinct subjects shown the notice (or who chose)")
    outcomes: int = Field(description="Distinct subjects who chose")
    granted: int = Field(description="Distinct subjects whose first choice granted the purpose")
    consent_rate: float | None = Field(description="granted / exposures")


class ComparisonOut(BaseModel):
    variant: str
    control: str
    difference: float | None = Field(description="consent rate of the variant minus control's")
    ci_low: float | None
    ci_high: float | None
    z: float | None
    p_value: float | None = Field(description="Two-sided, pooled two-proportion z-test")


class SampleRatioOut(BaseModel):
    chi2: float | None
    p_value: float | None
    mismatch: bool = Field(description=f"p < {ex.SRM_ALPHA}: exposures do not follow the weights")


class ResultsOut(BaseModel):
    experiment: str
    status: str
    method: str = Field(description="Interval of the difference: Newcombe hybrid Wilson score")
    confidence: float
    variants: list[VariantResult]
    comparisons: list[ComparisonOut]
    sample_ratio: SampleRatioOut


def _results(experiment: Experiment, results: ex.Results) -> ResultsOut:
    return ResultsOut(
        experiment=experiment.key,
        status=experiment.status.value,
        method=results.method,
        confidence=results.confidence,
        variants=[
            VariantResult(
                variant=row.variant,
                assigned=row.assigned,
                exposures=row.exposures,
                outcomes=row.outcomes,
                granted=row.granted,
                consent_rate=row.consent_rate,
            )
            for row in results.variants
        ],
        comparisons=[
            ComparisonOut(control=experiment.control.name, **vars(c)) for c in results.comparisons
        ],
        sample_ratio=SampleRatioOut(**vars(results.sample_ratio)),
    )


@router.post(
    "",
    status_code=201,
    summary="Create an experiment (a draft) over published versions of one notice",
    responses=problem_responses(409, 422),
)
@requires(Scope.CONSENT_WRITE)
def create(platform: PlatformDep, body: ExperimentIn, actor: ActorDep) -> ExperimentOut:
    new = experiments.NewExperiment(
        key=body.key,
        notice_key=body.notice_key,
        purpose=body.purpose,
        variants=tuple(Variant(v.name, v.notice_version, v.weight) for v in body.variants),
        salt=body.salt,
    )
    return ExperimentOut.of(experiments.create(platform, new, actor))


@router.get("", summary="Experiments, newest first", responses=problem_responses(422))
@requires(Scope.CONSENT_READ)
def list_experiments(
    platform: PlatformDep, status: Annotated[ExperimentStatus | None, Query()] = None
) -> ExperimentList:
    items = experiments.list_experiments(platform, status)
    return ExperimentList(items=[ExperimentOut.of(x) for x in items])


@router.get("/{key}", summary="One experiment", responses=problem_responses(404, 422))
@requires(Scope.CONSENT_READ)
def get_experiment(platform: PlatformDep, key: Key) -> ExperimentOut:
    return ExperimentOut.of(experiments.get(platform, key))


@router.post(
    "/{key}/start",
    summary="Start assigning subjects (a running experiment is left as it is)",
    responses=problem_responses(404, 409, 422),
)
@requires(Scope.CONSENT_WRITE)
def start(platform: PlatformDep, key: Key, actor: ActorDep) -> ExperimentOut:
    return ExperimentOut.of(experiments.start(platform, key, actor))


@router.post(
    "/{key}/stop",
    summary="Stop: no new assignments or events, everyone sees the control; results are kept",
    responses=problem_responses(404, 422),
)
@requires(Scope.CONSENT_WRITE)
def stop(platform: PlatformDep, key: Key, actor: ActorDep) -> ExperimentOut:
    return ExperimentOut.of(experiments.stop(platform, key, actor))


@router.post(
    "/{key}/assignments",
    summary="The subject's variant and its notice (the first assignment is kept)",
    responses=problem_responses(404, 409, 422),
)
@requires(Scope.CONSENT_WRITE)
def assign(platform: PlatformDep, key: Key, body: SubjectIn) -> AssignmentOut:
    got = experiments.assign(platform, key, SubjectRef.parse(body.subject))
    return AssignmentOut(
        experiment=got.experiment,
        variant=got.variant,
        notice_key=got.notice.key,
        notice_version=got.notice.version,
        language=got.notice.language,
        text=got.notice.text,
        recorded=got.kept,
    )


@router.post(
    "/{key}/exposures",
    status_code=201,
    summary="Record that the subject was shown their variant",
    responses=problem_responses(404, 409, 422),
)
@requires(Scope.CONSENT_WRITE)
def exposure(platform: PlatformDep, key: Key, body: SubjectIn) -> EventOut:
    variant = experiments.exposure(platform, key, SubjectRef.parse(body.subject))
    return EventOut(experiment=key, variant=variant)


@router.post(
    "/{key}/outcomes",
    status_code=201,
    summary="Record the subject's choice about the experiment's purpose",
    responses=problem_responses(404, 409, 422),
)
@requires(Scope.CONSENT_WRITE)
def outcome(platform: PlatformDep, key: Key, body: OutcomeIn) -> EventOut:
    subject = SubjectRef.parse(body.subject)
    variant = experiments.outcome(platform, key, subject, body.granted)
    return EventOut(experiment=key, variant=variant)


@router.get(
    "/{key}/results",
    summary="Consent rate per variant, difference to the control with a 95 % CI, z-test, SRM",
    responses=problem_responses(404, 422),
)
@requires(Scope.CONSENT_READ)
def results(platform: PlatformDep, key: Key) -> ResultsOut:
    experiment, computed = experiments.results(platform, key)
    return _results(experiment, computed)
