"""A bulk erase job erases its subjects' consent data with them, chunk by chunk (SQLite and
PostgreSQL): their experiment rows go (with those of a linked device), their sealed consent
values are crypto-shredded, other subjects keep theirs, and the chunk's audit event counts it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from rightsflow.bootstrap import Runtime
from rightsflow.domain.consent import SubjectRef
from rightsflow.domain.errors import RightsflowError
from rightsflow.sample.shop import email_for
from rightsflow.services import bulk_run, consent_erasure, experiments
from rightsflow.storage.consent_tables import (
    consent_records,
    experiment_assignments,
    experiment_events,
)
from rightsflow.storage.tables import audit_events
from tests.support.bulk_stack import new_job
from tests.support.db_runtime import DB_KINDS, runtime_on
from tests.support.experiment_data import (
    link,
    publish_notices,
    running_experiment,
    sealed_record,
    subject_digest,
)

ERASED = (1, 2, 3, 4)  # customers in the job: two chunks of two
BYSTANDER = 5


@pytest.fixture(params=DB_KINDS)
def runtime(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Runtime]:
    with runtime_on(
        request, tmp_path, customers=6, prefix="rf_bulk_consent", auto_approve=["*"]
    ) as runtime:
        publish_notices(runtime.platform)
        yield runtime


def _experiment_rows(runtime: Runtime, digest: str) -> int:
    total = 0
    with runtime.engine.connect() as conn:
        for table in (experiment_events, experiment_assignments):
            query = sa.select(sa.func.count()).where(table.c.subject_hash == digest)
            total += int(conn.execute(query).scalar_one())
    return total


def _run_job(runtime: Runtime, job_id: str) -> None:
    chunks = bulk_run.begin(runtime.platform, job_id, 10)
    assert chunks
    for chunk_no in chunks:
        assert not bulk_run.run_chunk(runtime.platform, job_id, chunk_no, lambda: None).stop
    assert bulk_run.finish(runtime.platform, job_id) == "completed"


def test_an_erase_job_erases_its_subjects_consent_data(runtime: Runtime) -> None:
    platform = runtime.platform
    running_experiment(platform)
    subjects = [f"email:{email_for(i)}" for i in (*ERASED, BYSTANDER)]
    for text in [*subjects, "device_id:phone-2"]:
        experiments.exposure(platform, "banner_copy", SubjectRef.parse(text))
    link(runtime, "device_id:phone-2", subjects[1])  # the device's choices went to customer 2
    sealed = {text: sealed_record(runtime, text) for text in subjects}

    job = new_job(platform, ERASED, chunk_size=2)
    _run_job(runtime, job.id)

    for text in [*subjects[:-1], "device_id:phone-2"]:
        assert _experiment_rows(runtime, subject_digest(platform, text)) == 0, text
    assert _experiment_rows(runtime, subject_digest(platform, subjects[-1])) == 2
    with runtime.engine.connect() as conn:
        query = sa.select(consent_records.c.id, consent_records.c.sealed_subject)
        kept = {row.id: row.sealed_subject for row in conn.execute(query)}
        details = conn.execute(
            sa.select(audit_events.c.detail)
            .where(audit_events.c.request_id == job.id, audit_events.c.action == "bulk.chunk_done")
            .order_by(audit_events.c.id)
        ).scalars()
        details = list(details)
    for text in subjects[:-1]:
        record_id, value = sealed[text]
        assert kept[record_id] is None, text  # the hashed record stays, its sealed value goes
        with pytest.raises(RightsflowError):  # and the key that sealed it is destroyed
            platform.vault.open(record_id, value)
    other_id, other_value = sealed[subjects[-1]]
    assert kept[other_id] == other_value
    assert platform.vault.open(other_id, other_value) == email_for(BYSTANDER).encode()
    consent = [
        {k: d[k] for k in ("consent_subjects", "experiment_rows", "sealed_cleared")}
        for d in details
    ]
    assert consent == [
        {"consent_subjects": 3, "experiment_rows": 6, "sealed_cleared": 2},  # 1, 2 + device
        {"consent_subjects": 2, "experiment_rows": 4, "sealed_cleared": 2},
    ]
    assert sum(d["keys_destroyed"] for d in details) == 4
    assert not any(email_for(i) in str(details) for i in ERASED)


def test_erasing_a_chunks_consent_data_again_finds_nothing(runtime: Runtime) -> None:
    platform = runtime.platform
    running_experiment(platform)
    texts = [f"email:{email_for(i)}" for i in (1, 2)]
    for text in texts:
        experiments.exposure(platform, "banner_copy", SubjectRef.parse(text))
        sealed_record(runtime, text)
    identities = [{"email": email_for(i), "phone": "+15550000000"} for i in (1, 2)]
    with platform.uow() as uow:
        first = consent_erasure.erase_consent_subjects(platform, uow, identities)
        uow.commit()
    with platform.uow() as uow:
        again = consent_erasure.erase_consent_subjects(platform, uow, identities)
        uow.commit()
    assert (first.experiment_rows, first.sealed_cleared, first.keys_destroyed) == (4, 2, 2)
    assert (again.experiment_rows, again.sealed_cleared, again.keys_destroyed) == (0, 0, 0)
    with platform.uow() as uow:  # nothing to erase: no statement, no counts
        assert consent_erasure.erase_consent_subjects(platform, uow, []).subjects == 0
