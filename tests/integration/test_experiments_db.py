"""Experiments on a real SQLite file and a real PostgreSQL server: the first assignment is kept
under concurrent first calls, counts are distinct subjects in SQL, outcomes come from consent
writes carrying the assigned notice, a subject's rows are erased alone, and an erasure
request erases its subject's experiment rows and crypto-shreds their sealed consent value."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rightsflow.bootstrap import Runtime
from rightsflow.domain.consent import Choice, ConsentWrite, NoticeRef, Source, SubjectRef
from rightsflow.domain.errors import RightsflowError
from rightsflow.domain.experiments import EventKind
from rightsflow.sample.shop import email_for
from rightsflow.services import consent, experiments, requests
from rightsflow.services.inline import run_inline
from rightsflow.storage.consent_tables import (
    consent_records,
    experiment_assignments,
    experiment_events,
)
from rightsflow.storage.tables import audit_events
from tests.support.db_runtime import DB_KINDS, runtime_on
from tests.support.experiment_data import (
    link,
    publish_notices,
    running_experiment,
    sealed_record,
    subject_digest,
)

THREADS = 6


@pytest.fixture(params=DB_KINDS)
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    with runtime_on(
        request, tmp_path, customers=5, prefix="rf_experiments", auto_approve=["*"]
    ) as runtime:
        publish_notices(runtime.platform)
        yield runtime


def count(runtime: Runtime, table: sa.Table, **where: str) -> int:
    query = sa.select(sa.func.count()).select_from(table)
    for column, value in where.items():
        query = query.where(table.c[column] == value)
    with runtime.engine.connect() as conn:
        return int(conn.execute(query).scalar_one())


def test_first_assignment_wins_under_concurrency(runtime: Runtime) -> None:
    experiment = running_experiment(runtime.platform)
    platform, barrier = runtime.platform, threading.Barrier(THREADS)
    subjects = [f"{i:064x}" for i in range(40)]
    seen: dict[int, list[str]] = {}
    errors: list[BaseException] = []

    def claim(worker: int) -> None:
        # Each worker proposes its own variant name: only the first stored may ever come back.
        try:
            barrier.wait()
            kept = []
            for digest in subjects:
                with platform.uow() as uow:
                    at = platform.clock()
                    kept.append(uow.experiments.assign(experiment.id, digest, f"w{worker}", at))
                    uow.commit()
            seen[worker] = kept
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert all(seen[w] == seen[0] for w in range(THREADS))
    assert count(runtime, experiment_assignments) == len(subjects)
    with platform.uow() as uow:  # and it stays: a later proposal changes nothing
        assert (
            uow.experiments.assign(experiment.id, subjects[0], "other", platform.clock())
            == (seen[0][0])
        )


def test_service_assignment_is_stable_and_counts_are_distinct_subjects(runtime: Runtime) -> None:
    platform = runtime.platform
    running_experiment(platform)
    subject = SubjectRef.parse("user_id:u-1")
    first = experiments.assign(platform, "banner_copy", subject)
    assert {experiments.assign(platform, "banner_copy", subject).variant for _ in range(5)} == {
        first.variant
    }
    assert first.notice.version == (1 if first.variant == "control" else 2)
    experiments.exposure(platform, "banner_copy", subject)
    experiments.exposure(platform, "banner_copy", subject)  # seen twice: one subject
    experiments.outcome(platform, "banner_copy", subject, granted=True)
    experiments.outcome(platform, "banner_copy", subject, granted=False)  # the first counts
    _, results = experiments.results(platform, "banner_copy")
    row = next(v for v in results.variants if v.variant == first.variant)
    assert (row.assigned, row.exposures, row.outcomes, row.granted) == (1, 1, 1, 1)


def test_observe_choice_records_the_assigned_variants_outcome(runtime: Runtime) -> None:
    platform = runtime.platform
    experiment = running_experiment(platform)
    subject = SubjectRef.parse("device_id:d-7")
    digest = subject_digest(platform, "device_id:d-7")
    assigned = experiments.assign(platform, "banner_copy", subject)
    version = assigned.notice.version
    other = 2 if version == 1 else 1
    choices = [Choice("analytics", True), Choice("advertising", False)]
    with platform.uow() as uow:
        at = platform.clock()
        assert experiments.observe_choice(uow, digest, NoticeRef("banner", other), choices, at) == 0
        assert experiments.observe_choice(uow, digest, None, choices, at) == 0
        unassigned = subject_digest(platform, "device_id:d-8")
        notice = NoticeRef("banner", version)
        assert experiments.observe_choice(uow, unassigned, notice, choices, at) == 0
        assert experiments.observe_choice(uow, digest, notice, choices[1:], at) == 0
        assert experiments.observe_choice(uow, digest, notice, choices, at) == 1
        uow.commit()
    assert count(runtime, experiment_events, kind=EventKind.OUTCOME.value) == 1
    experiments.stop(platform, experiment.key, "console:admin")
    with platform.uow() as uow:  # a stopped experiment records nothing more
        assert experiments.observe_choice(uow, digest, notice, choices, platform.clock()) == 0


def test_a_consent_write_on_the_assigned_notice_is_the_outcome(runtime: Runtime) -> None:
    platform = runtime.platform
    running_experiment(platform)
    subject = SubjectRef.parse("user_id:u-42")
    assigned = experiments.assign(platform, "banner_copy", subject)
    notice = NoticeRef("banner", assigned.notice.version)
    write = ConsentWrite(subject, (Choice("analytics", True),), Source.BANNER, "gdpr", notice)
    consent.record(platform, write)
    _, results = experiments.results(platform, "banner_copy")
    row = next(v for v in results.variants if v.variant == assigned.variant)
    assert (row.exposures, row.outcomes, row.granted) == (1, 1, 1)


def test_erase_subject_removes_only_that_subjects_rows(runtime: Runtime) -> None:
    platform = runtime.platform
    running_experiment(platform)
    for text in ("user_id:keep", "user_id:gone"):
        experiments.exposure(platform, "banner_copy", SubjectRef.parse(text))
        experiments.outcome(platform, "banner_copy", SubjectRef.parse(text), granted=True)
    gone, keep = subject_digest(platform, "user_id:gone"), subject_digest(platform, "user_id:keep")
    with platform.uow() as uow:
        assert uow.experiments.erase_subject(gone) == 3  # assignment, exposure, outcome
        uow.commit()
    with platform.uow() as uow:
        assert uow.experiments.erase_subject(gone) == 0
    assert count(runtime, experiment_events, subject_hash=gone) == 0
    assert count(runtime, experiment_events, subject_hash=keep) == 2
    assert count(runtime, experiment_assignments, subject_hash=keep) == 1


def test_an_erasure_request_erases_its_subjects_consent_data(runtime: Runtime) -> None:
    platform = runtime.platform
    running_experiment(platform)
    email, bystander = f"email:{email_for(2)}", f"email:{email_for(3)}"
    for text in (email, "device_id:phone-2", bystander):
        experiments.exposure(platform, "banner_copy", SubjectRef.parse(text))
    link(runtime, "device_id:phone-2", email)  # the device's choices were carried to the person
    record_id, sealed = sealed_record(runtime, email)
    other_id, _ = sealed_record(runtime, bystander)

    new = requests.NewRequest("erasure", {"email": email_for(2)}, "gdpr", verified=True)
    request, _ = requests.submit(platform, new)
    assert run_inline(platform, request.id) == "completed"

    for text in (email, "device_id:phone-2"):
        digest = subject_digest(platform, text)
        assert count(runtime, experiment_events, subject_hash=digest) == 0
        assert count(runtime, experiment_assignments, subject_hash=digest) == 0
    assert count(runtime, experiment_events, subject_hash=subject_digest(platform, bystander)) == 1
    with runtime.engine.connect() as conn:
        query = sa.select(consent_records.c.id, consent_records.c.sealed_subject)
        kept = {row.id: row.sealed_subject for row in conn.execute(query)}
        detail = conn.execute(
            sa.select(audit_events.c.detail).where(
                audit_events.c.request_id == request.id,
                audit_events.c.action == "consent.subject_erased",
            )
        ).scalar_one()
    assert kept[record_id] is None  # the hashed record stays, its sealed value is gone
    assert kept[other_id] is not None
    with pytest.raises(RightsflowError):  # and the key that sealed it is destroyed
        platform.vault.open(record_id, sealed)
    assert detail == {
        "subjects": 2,
        "experiment_rows": 4,
        "sealed_cleared": 1,
        "keys_destroyed": 1,
    }
    assert email_for(2) not in str(detail)
