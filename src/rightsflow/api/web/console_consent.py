"""The console's consent pages: the catalogue (`/console/consent`: purposes, notices and their
versions, opt-out rates per purpose, experiments) and an experiment's results
(`/console/consent/experiments/{key}`: consent rate per variant with 95 % intervals, the
difference to the control, the sample-ratio check), with a form to stop a running experiment.

Reads need consent:read and stopping consent:write, as in the REST API; pages call the same
services (consent_catalog, experiments), and the stop is audited by the experiments service.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from markupsafe import Markup
from starlette.responses import RedirectResponse, Response

from rightsflow.api.deps import api_deps
from rightsflow.api.web.charts import Proportion, proportion_bars
from rightsflow.api.web.console_auth import OperatorDep, PostingOperatorDep
from rightsflow.api.web.pages import render
from rightsflow.domain import experiments as ex
from rightsflow.domain.access import Scope
from rightsflow.domain.consent import NOTICE_KEY, Notice, Purpose
from rightsflow.domain.consent_catalog import text_sha256
from rightsflow.domain.console_metrics import ChoiceCounts
from rightsflow.services import consent_catalog as catalog
from rightsflow.services import console_metrics, experiments
from rightsflow.services.platform import Platform

router = APIRouter()
Key = Annotated[str, Path(max_length=64, pattern=NOTICE_KEY.pattern)]
DONE = {"stopped": "The experiment is stopped: everyone now sees the control."}


@dataclass(frozen=True)
class Catalogue:
    purposes: Sequence[Purpose]
    notices: Sequence[tuple[Notice, Sequence[Notice]]]  # newest version, every version
    choices: Mapping[str, ChoiceCounts]
    experiments: Sequence[ex.Experiment]


def _catalogue(platform: Platform) -> Catalogue:
    notices = [
        (latest, catalog.notice_versions(platform, latest.key))
        for latest in catalog.latest_notices(platform)
    ]
    return Catalogue(
        purposes=catalog.list_purposes(platform, include_retired=True),
        notices=notices,
        choices=console_metrics.consent_choices(platform),
        experiments=experiments.list_experiments(platform),
    )


def _interval(successes: int, trials: int) -> tuple[float | None, float | None]:
    return ex.wilson(successes, trials) if trials else (None, None)


def _opt_out_chart(purposes: Sequence[Purpose], choices: Mapping[str, ChoiceCounts]) -> Markup:
    bars = []
    for purpose in purposes:
        counts = choices.get(purpose.key)
        if counts is None or not counts.total:
            continue
        low, high = _interval(counts.refused, counts.total)
        bars.append(Proportion(purpose.key, counts.opt_out_rate, low, high))
    return proportion_bars(bars, title="Opt-out rate per purpose (95 % interval)")


@router.get("/consent")
async def consent(request: Request, operator: OperatorDep) -> Response:
    operator.require(Scope.CONSENT_READ)
    found = await asyncio.to_thread(_catalogue, api_deps(request).platform)
    context = {
        "operator": operator,
        "section": "consent",
        "catalogue": found,
        "opt_out_chart": _opt_out_chart(found.purposes, found.choices),
        "text_sha256": text_sha256,
    }
    return render(request, "console/consent.html", context)


@dataclass(frozen=True)
class VariantRow:
    counts: ex.VariantCounts
    low: float | None
    high: float | None


def _variant_rows(results: ex.Results) -> list[VariantRow]:
    return [VariantRow(c, *_interval(c.granted, c.exposures)) for c in results.variants]


@router.get("/consent/experiments/{key}")
async def experiment_page(
    request: Request,
    operator: OperatorDep,
    key: Key,
    done: Annotated[str, Query(max_length=32)] = "",
) -> Response:
    operator.require(Scope.CONSENT_READ)
    platform = api_deps(request).platform
    experiment, results = await asyncio.to_thread(experiments.results, platform, key)
    rows = _variant_rows(results)
    chart = proportion_bars(
        [Proportion(r.counts.variant, r.counts.consent_rate, r.low, r.high) for r in rows],
        title=f"Consent rate per variant of {experiment.key} (95 % interval)",
    )
    context = {
        "operator": operator,
        "section": "consent",
        "experiment": experiment,
        "results": results,
        "rows": rows,
        "chart": chart,
        "can_stop": operator.can(Scope.CONSENT_WRITE)
        and experiment.status is not ex.ExperimentStatus.STOPPED,
        "done": DONE.get(done),
    }
    return render(request, "console/consent_experiment.html", context)


@router.post("/consent/experiments/{key}/stop")
async def stop_experiment(request: Request, operator: PostingOperatorDep, key: Key) -> Response:
    operator.require(Scope.CONSENT_WRITE)
    platform = api_deps(request).platform
    await asyncio.to_thread(experiments.stop, platform, key, operator.actor)
    return RedirectResponse(f"/console/consent/experiments/{key}?done=stopped", status_code=303)
