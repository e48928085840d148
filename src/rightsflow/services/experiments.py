"""A/B experiments of consent notices: create, start, stop, assign, record events, results.

An experiment is a draft until started; while it runs, every subject asked about is put in a
variant (deterministically, and the first assignment is stored and kept for ever) and its
exposures and outcomes are recorded; once stopped it assigns nobody new, records nothing more,
shows everyone the control notice and keeps its assignments and results.

Admin changes (create, start, stop) are audited with keys, names, versions and weights only.
Assignments and events are not put in the audit chain one by one: the events table is their
record (as the ledger is for choices), and the chain's lock would cap how many a second we
can take. Subjects are keyed hashes (services/identity_lookup.identity_hash) throughout.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from rightsflow.domain import experiments as ex
from rightsflow.domain.consent import NOTICE_KEY, Choice, Notice, NoticeRef, SubjectRef
from rightsflow.domain.errors import Conflict, InvalidInput, NotFound
from rightsflow.domain.experiments import EventKind, Experiment, ExperimentStatus, Variant
from rightsflow.services import audit
from rightsflow.services.consent_catalog import require_purposes
from rightsflow.services.consent_read import subject_hash
from rightsflow.services.platform import Platform
from rightsflow.services.ports import UnitOfWork

NO_REQUEST = ""  # experiment events belong to no privacy request
CREATED = "consent.experiment_created"
STARTED = "consent.experiment_started"
STOPPED = "consent.experiment_stopped"


@dataclass(frozen=True)
class NewExperiment:
    key: str
    notice_key: str
    purpose: str
    variants: tuple[Variant, ...]
    salt: str | None = None  # None: a random one


@dataclass(frozen=True)
class Assignment:
    """The variant a subject sees and its notice. `kept` is False when the experiment is
    stopped: everyone sees the control and nothing is recorded."""

    experiment: str
    variant: str
    notice: Notice
    kept: bool


# -- Administration -----------------------------------------------------------------------------


def create(platform: Platform, new: NewExperiment, actor: str) -> Experiment:
    """A draft experiment. Every variant's notice version must be published (422 naming the
    unknown ones) and the purpose must exist."""
    experiment = ex.validated(
        Experiment(
            id=str(uuid.uuid4()),
            key=new.key,
            notice_key=new.notice_key,
            purpose=new.purpose,
            variants=new.variants,
            status=ExperimentStatus.DRAFT,
            salt=new.salt if new.salt is not None else secrets.token_hex(16),
            created_by=actor,
            created_at=platform.clock(),
        )
    )
    with platform.uow() as uow:
        require_purposes(uow, [experiment.purpose], field="purpose")
        _require_notices(uow, experiment)
        uow.experiments.add(experiment)
        audit.record(
            uow,
            NO_REQUEST,
            CREATED,
            platform.clock(),
            actor=actor,
            key=experiment.key,
            notice_key=experiment.notice_key,
            purpose=experiment.purpose,
            variants=[
                {"name": v.name, "notice_version": v.notice_version, "weight": v.weight}
                for v in experiment.variants
            ],
        )
        uow.commit()
    return experiment


def _require_notices(uow: UnitOfWork, experiment: Experiment) -> None:
    unknown = [
        (i, v.notice_version)
        for i, v in enumerate(experiment.variants)
        if uow.consent_catalog.notice(experiment.notice_key, v.notice_version) is None
    ]
    if unknown:
        versions = ", ".join(f"v{version}" for _, version in unknown)
        raise InvalidInput(
            f"unknown notice version(s) of '{experiment.notice_key}': {versions}",
            field=f"variants.{unknown[0][0]}.notice_version",
        )


def get(platform: Platform, key: str) -> Experiment:
    with platform.uow() as uow:
        return _existing(uow, key)


def list_experiments(
    platform: Platform, status: ExperimentStatus | None = None
) -> Sequence[Experiment]:
    with platform.uow() as uow:
        return uow.experiments.list(status)


def start(platform: Platform, key: str, actor: str) -> Experiment:
    """Draft -> running. Starting a running experiment changes nothing; a stopped one cannot
    run again (its results would mix two periods): make a new experiment."""
    return _move(platform, key, actor, ExperimentStatus.RUNNING)


def stop(platform: Platform, key: str, actor: str) -> Experiment:
    """Running (or draft) -> stopped, keeping assignments and events. Stopping a stopped
    experiment changes nothing."""
    return _move(platform, key, actor, ExperimentStatus.STOPPED)


def _move(platform: Platform, key: str, actor: str, to: ExperimentStatus) -> Experiment:
    with platform.uow() as uow:
        experiment = _existing(uow, key)
        if experiment.status is to:
            return experiment
        if experiment.status is ExperimentStatus.STOPPED:
            raise Conflict("the experiment is stopped and cannot run again")
        at = platform.clock()
        if to is ExperimentStatus.RUNNING:
            moved = replace(experiment, status=to, started_at=at)
        else:
            moved = replace(experiment, status=to, stopped_at=at)
        uow.experiments.set_status(moved)
        action = STARTED if to is ExperimentStatus.RUNNING else STOPPED
        audit.record(uow, NO_REQUEST, action, at, actor=actor, key=key)
        uow.commit()
    return moved


def _existing(uow: UnitOfWork, key: str) -> Experiment:
    experiment = uow.experiments.get(key) if NOTICE_KEY.fullmatch(key) else None
    if experiment is None:
        raise NotFound("no such experiment")
    return experiment


# -- Subjects -----------------------------------------------------------------------------------


def assign(platform: Platform, key: str, subject: SubjectRef) -> Assignment:
    """The subject's variant and its notice, recording the assignment the first time."""
    digest = subject_hash(platform, subject)
    with platform.uow() as uow:
        experiment = _existing(uow, key)
        if experiment.status is ExperimentStatus.STOPPED:
            variant, kept = experiment.control, False
        else:
            variant, kept = _variant_of(uow, experiment, digest, platform.clock()), True
        notice = uow.consent_catalog.notice(experiment.notice_key, variant.notice_version)
        uow.commit()
    if notice is None:  # checked at creation; a notice version is never deleted
        raise Conflict("the variant's notice version is not published")
    return Assignment(experiment.key, variant.name, notice, kept)


def _variant_of(uow: UnitOfWork, experiment: Experiment, digest: str, at: datetime) -> Variant:
    """The stored variant of a running experiment's subject (stored now if it had none)."""
    if experiment.status is not ExperimentStatus.RUNNING:
        raise Conflict(f"the experiment is {experiment.status.value}, not running")
    name = uow.experiments.assign(experiment.id, digest, ex.assign(experiment, digest).name, at)
    variant = experiment.variant(name)
    if variant is None:  # variants never change once created
        raise Conflict("the subject's stored variant is not in the experiment")
    return variant


def exposure(platform: Platform, key: str, subject: SubjectRef) -> str:
    """Record that the subject was shown their variant (assigning them if they had none)."""
    return _event(platform, key, subject, EventKind.EXPOSURE, None)


def outcome(platform: Platform, key: str, subject: SubjectRef, granted: bool) -> str:
    """Record the subject's choice about the experiment's purpose."""
    return _event(platform, key, subject, EventKind.OUTCOME, granted)


def _event(
    platform: Platform, key: str, subject: SubjectRef, kind: EventKind, granted: bool | None
) -> str:
    digest = subject_hash(platform, subject)
    with platform.uow() as uow:
        experiment = _existing(uow, key)
        at = platform.clock()
        variant = _variant_of(uow, experiment, digest, at)
        uow.experiments.add_event(
            experiment.id, digest, variant.name, kind=kind, at=at, granted=granted
        )
        uow.commit()
    return variant.name


def results(platform: Platform, key: str) -> tuple[Experiment, ex.Results]:
    with platform.uow() as uow:
        experiment = _existing(uow, key)
        counts = uow.experiments.counts(experiment.id)
    return experiment, ex.results(experiment, counts)


def observe_choice(
    uow: UnitOfWork,
    subject_hash: str,
    notice_ref: NoticeRef | None,
    choices: Iterable[Choice],
    at: datetime,
) -> int:
    """Inside a consent write's transaction: when it carries a notice version that is the
    variant this subject was assigned in a running experiment, record the outcome (the
    choice about the experiment's purpose, as asked). Returns how many were recorded."""
    if notice_ref is None:
        return 0
    running = uow.experiments.running_for_notice(notice_ref.key)
    if not running:
        return 0
    asked = {choice.purpose: choice.granted for choice in choices}
    recorded = 0
    for experiment in running:
        if experiment.purpose not in asked:
            continue
        name = uow.experiments.assignment(experiment.id, subject_hash)
        variant = experiment.variant(name) if name is not None else None
        if variant is None or variant.notice_version != notice_ref.version:
            continue
        uow.experiments.add_event(
            experiment.id,
            subject_hash,
            variant.name,
            kind=EventKind.OUTCOME,
            at=at,
            granted=asked[experiment.purpose],
        )
        recorded += 1
    return recorded
