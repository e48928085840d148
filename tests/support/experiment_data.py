"""A notice with two versions and a running experiment over them, for experiment tests."""

from __future__ import annotations

import uuid

from rightsflow.bootstrap import Runtime
from rightsflow.domain.consent import SubjectRef
from rightsflow.domain.experiments import Experiment, Variant
from rightsflow.services import consent_catalog, experiments
from rightsflow.services.identity_lookup import identity_hash
from rightsflow.services.platform import Platform
from rightsflow.storage.consent_tables import consent_links, consent_records

NOTICE = "banner"
PURPOSE = "analytics"
ADMIN = "console:admin"


def publish_notices(platform: Platform, versions: int = 2) -> None:
    for i in range(versions):
        consent_catalog.publish_notice(
            platform, NOTICE, f"We use analytics (wording {i + 1}).", [PURPOSE], actor=ADMIN
        )


def running_experiment(platform: Platform, key: str = "banner_copy") -> Experiment:
    """Two variants, 50/50, over versions 1 (control) and 2 of the notice."""
    new = experiments.NewExperiment(
        key, NOTICE, PURPOSE, (Variant("control", 1, 1.0), Variant("short", 2, 1.0))
    )
    experiments.create(platform, new, ADMIN)
    return experiments.start(platform, key, ADMIN)


def subject_digest(platform: Platform, text: str) -> str:
    subject = SubjectRef.parse(text)
    return identity_hash(platform.vault, subject.kind.value, subject.value)


def sealed_record(runtime: Runtime, subject_text: str) -> tuple[str, bytes]:
    """A ledger record holding the subject's sealed value (as the ledger keeps it for
    propagation), written with plain SQL; returns (record id, sealed bytes)."""
    platform, subject = runtime.platform, SubjectRef.parse(subject_text)
    record_id = str(uuid.uuid4())
    sealed = platform.vault.seal(record_id, subject.value.encode())
    values = {
        "id": record_id,
        "subject_hash": subject_digest(platform, subject_text),
        "subject_kind": subject.kind.value,
        "source": "banner",
        "regime": "gdpr",
        "notice_key": NOTICE,
        "notice_version": 1,
        "gpc": False,
        "actor": "subject",
        "recorded_at": platform.clock(),
        "sealed_subject": sealed,
    }
    with runtime.engine.begin() as conn:
        conn.execute(consent_records.insert().values(values))
    return record_id, sealed


def link(runtime: Runtime, from_text: str, to_text: str) -> None:
    """The device's (or email's) choices carried to `to_text` (consent_links)."""
    platform = runtime.platform
    values = {
        "from_hash": subject_digest(platform, from_text),
        "to_hash": subject_digest(platform, to_text),
        "linked_at": platform.clock(),
    }
    with runtime.engine.begin() as conn:
        conn.execute(consent_links.insert().values(values))
