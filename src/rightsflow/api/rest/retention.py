"""/api/v1/retention: the data map's retention rules, dry runs, runs now, and run reports.

Reports hold counts only. "Run now" records the run and hands it to the workflow engine
(`ApiDeps.sweeps`, set by the composition root); without one it is a 409.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Security
from pydantic import BaseModel, Field

from rightsflow.api.auth import ActorDep, AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep, api_deps
from rightsflow.api.problems import problem_responses
from rightsflow.domain.access import Scope
from rightsflow.domain.errors import Conflict
from rightsflow.domain.retention_rules import RetentionRule
from rightsflow.domain.sweep_records import SweepRun
from rightsflow.services import sweeps
from rightsflow.services.platform import Platform
from rightsflow.services.sweep_plan import rule_for
from rightsflow.storage.sweep_repository import sweep_transactions

router = APIRouter(
    prefix="/api/v1/retention",
    tags=["retention"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401),
)
RuleKey = Annotated[str, Path(max_length=64, pattern=r"^[a-z0-9_\-]+$")]
RunId = Annotated[str, Path(max_length=36)]


class RuleOut(BaseModel):
    key: str
    target: str = Field(description="A data category, or one collection (dataset.collection)")
    age_field: str
    max_age: str
    action: str = Field(description="delete | mask")
    schedule: str
    cron: str = Field(description="The schedule as a cron expression (UTC)")
    collections: list[str]

    @classmethod
    def of(cls, rule: RetentionRule) -> RuleOut:
        return cls(
            key=rule.key,
            target=rule.target,
            age_field=rule.age_field,
            max_age=str(rule.max_age),
            action=rule.action,
            schedule=rule.schedule,
            cron=rule.cron,
            collections=list(rule.collections),
        )


class RuleList(BaseModel):
    items: list[RuleOut]


class CollectionOut(BaseModel):
    collection: str
    matched: int
    deleted: int
    masked: int
    done: bool
    not_sweepable: str | None = Field(description="Why this collection cannot be swept")


class RunOut(BaseModel):
    id: str
    rule: str
    action: str
    dry_run: bool
    status: str = Field(description="running | completed | failed")
    cutoff: datetime
    started_at: datetime
    finished_at: datetime | None
    failure: str | None
    totals: dict[str, int]
    collections: list[CollectionOut]

    @classmethod
    def of(cls, run: SweepRun) -> RunOut:
        return cls(
            id=run.id,
            rule=run.rule,
            action=run.action,
            dry_run=run.dry_run,
            status=run.status,
            cutoff=run.cutoff,
            started_at=run.started_at,
            finished_at=run.finished_at,
            failure=run.failure,
            totals=run.totals,
            collections=[CollectionOut.model_validate(row) for row in sweeps.rows_of(run)],
        )


class RunList(BaseModel):
    items: list[RunOut]


def _sweeps(platform: Platform) -> sweeps.Sweeps:
    return sweeps.Sweeps(platform, sweep_transactions(platform.uow))


@router.get("/rules", summary="The data map's retention rules")
@requires(Scope.DATAMAP_READ)
def list_rules(platform: PlatformDep) -> RuleList:
    return RuleList(items=[RuleOut.of(rule) for rule in platform.datamap.retention])


@router.post(
    "/rules/{key}/dry-run",
    summary="Count what the rule would delete or mask now (changes nothing)",
    responses=problem_responses(403, 404, 422),
)
@requires(Scope.DATAMAP_WRITE)
async def dry_run(platform: PlatformDep, key: RuleKey, actor: ActorDep) -> RunOut:
    rule = rule_for(platform, key)
    run = await asyncio.to_thread(sweeps.begin, _sweeps(platform), rule, dry_run=True, actor=actor)
    return RunOut.of(run)


@router.post(
    "/rules/{key}/run",
    status_code=202,
    summary="Start a run of the rule now (chunked, on the workflow engine)",
    responses=problem_responses(403, 404, 409, 422),
)
@requires(Scope.DATAMAP_WRITE)
async def run_now(request: Request, platform: PlatformDep, key: RuleKey, actor: ActorDep) -> RunOut:
    rule = rule_for(platform, key)
    launcher = api_deps(request).sweeps
    if launcher is None:
        raise Conflict("no workflow engine is connected to carry out sweeps")
    return RunOut.of(await sweeps.start(_sweeps(platform), launcher, rule, actor))


@router.get(
    "/runs", summary="Sweep runs, newest first (counts only)", responses=problem_responses(422)
)
@requires(Scope.DATAMAP_READ)
def list_runs(
    platform: PlatformDep,
    rule: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> RunList:
    return RunList(items=[RunOut.of(r) for r in sweeps.runs(_sweeps(platform), rule, limit)])


@router.get(
    "/runs/{run_id}",
    summary="One sweep run's report",
    responses=problem_responses(404, 422),
)
@requires(Scope.DATAMAP_READ)
def get_run(platform: PlatformDep, run_id: RunId) -> RunOut:
    return RunOut.of(sweeps.get(_sweeps(platform), run_id))
