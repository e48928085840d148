"""The emailed one-time code over a real SQLite app database, with a clock the test moves."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.engine import Engine

from rightsflow.domain.errors import Conflict, InvalidInput
from rightsflow.domain.requests import PrivacyRequest
from rightsflow.domain.verification import EMAIL_CODE, ResendRefused, VerificationPolicy
from rightsflow.services.platform import Platform
from rightsflow.services.verification import (
    CheckOutcome,
    EmailCodeVerifier,
    Verifier,
    verifier_for,
)
from rightsflow.storage.migrate import make_engine, upgrade_database
from tests.support.verification_platform import (
    RecordingNotifier,
    add_request,
    verification_platform,
)

T0 = datetime(2026, 5, 4, 10, 0, tzinfo=UTC)
EMAIL = "ada@example.test"


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path_factory.mktemp('verification') / 'app.db'}"
    upgrade_database(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def platform(engine: Engine, tmp_path_factory: pytest.TempPathFactory) -> Platform:
    return verification_platform(engine, tmp_path_factory.mktemp("vault"), RecordingNotifier())


@pytest.fixture
def verifier() -> EmailCodeVerifier:
    return EmailCodeVerifier(ttl_s=900, max_attempts=3, resend_after_s=60, max_sends=3)


def new_request(platform: Platform, identities: dict[str, str] | None = None) -> PrivacyRequest:
    return add_request(platform, identities if identities is not None else {"email": EMAIL}, T0)


def sent(platform: Platform) -> list[tuple[str, str, str]]:
    notifier = platform.notifier
    assert isinstance(notifier, RecordingNotifier)
    return notifier.sent


def last_code(platform: Platform) -> str:
    found = re.findall(r"\b\d{6}\b", sent(platform)[-1][2])
    assert len(found) == 1
    return str(found[0])


def wrong(code: str) -> str:
    return f"{(int(code) + 1) % 10**6:06d}"


def actions(platform: Platform, request: PrivacyRequest) -> list[str]:
    with platform.uow() as uow:
        return [e.action for e in uow.audit.for_request(request.id)]


def start(platform: Platform, verifier: Verifier, request: PrivacyRequest, now: datetime) -> None:
    with platform.uow() as uow:
        verifier.start(platform, uow, request, now)
        uow.commit()


def check(
    platform: Platform, verifier: Verifier, request: PrivacyRequest, answer: str, now: datetime
) -> CheckOutcome:
    with platform.uow() as uow:
        outcome = verifier.check(platform, uow, request, answer, now)
        uow.commit()
        return outcome


def resend(
    platform: Platform, verifier: EmailCodeVerifier, request: PrivacyRequest, now: datetime
) -> datetime:
    with platform.uow() as uow:
        expires = verifier.resend(platform, uow, request, now)
        uow.commit()
        return expires


def test_the_right_code_verifies_and_only_its_hash_is_stored(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    request = new_request(platform)
    start(platform, verifier, request, T0)
    [(to, subject, body)] = sent(platform)
    code = last_code(platform)
    assert to == EMAIL
    assert code not in subject
    assert EMAIL not in body
    with platform.uow() as uow:
        challenge = uow.verifications.get(request.id)
    assert challenge is not None
    assert challenge.code_hash is not None
    assert code not in challenge.code_hash
    assert code not in repr(challenge)
    assert challenge.code_hash not in repr(challenge)

    outcome = check(platform, verifier, request, f" {code[:3]}-{code[3:]} ", T0)
    assert outcome == CheckOutcome(verified=True, locked=False, expired=False, attempts_left=3)
    assert actions(platform, request) == ["verification.code_sent", "verification.succeeded"]


def test_audit_names_the_actor_and_holds_no_code_or_email(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    request = new_request(platform)
    start(platform, verifier, request, T0)
    code = last_code(platform)
    check(platform, verifier, request, wrong(code), T0)
    check(platform, verifier, request, code, T0)
    with platform.uow() as uow:
        events = uow.audit.for_request(request.id)
    assert [(e.action, e.actor) for e in events] == [
        ("verification.code_sent", "system"),
        ("verification.failed", "subject"),
        ("verification.succeeded", "subject"),
    ]
    assert events[0].detail == {"method": EMAIL_CODE, "sends": 1}
    assert events[1].detail == {"method": EMAIL_CODE, "attempts_left": 2}
    for event in events:
        assert code not in repr(event.detail)
        assert EMAIL not in repr(event.detail)


def test_wrong_codes_lock_and_then_even_the_right_code_is_refused(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    request = new_request(platform)
    start(platform, verifier, request, T0)
    code = last_code(platform)
    first = check(platform, verifier, request, wrong(code), T0)
    assert (first.verified, first.locked, first.attempts_left) == (False, False, 2)
    check(platform, verifier, request, wrong(code), T0)
    last = check(platform, verifier, request, wrong(code), T0)
    assert last == CheckOutcome(verified=False, locked=True, expired=False, attempts_left=0)
    after = check(platform, verifier, request, code, T0)
    assert after == CheckOutcome(verified=False, locked=True, expired=False, attempts_left=0)
    assert actions(platform, request)[-3:] == [
        "verification.failed",
        "verification.locked",
        "verification.failed",
    ]
    with pytest.raises(ResendRefused, match="operator must unlock") as refused:
        resend(platform, verifier, request, T0 + timedelta(hours=1))
    assert refused.value.retry_after is None


def test_an_operator_unlocks_then_a_new_code_is_sent_at_once_and_works(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    request = new_request(platform)
    start(platform, verifier, request, T0)
    old = last_code(platform)
    for _ in range(3):
        check(platform, verifier, request, wrong(old), T0)
    with platform.uow() as uow:
        verifier.unlock(platform, uow, request, T0, "bootstrap:owner")
        uow.commit()
    with pytest.raises(Conflict, match="ask for a new one"):
        check(platform, verifier, request, old, T0)
    resend(platform, verifier, request, T0 + timedelta(seconds=1))
    new = last_code(platform)
    assert check(platform, verifier, request, new, T0 + timedelta(seconds=2)).verified
    with platform.uow() as uow:
        unlocks = [e for e in uow.audit.for_request(request.id) if "unlocked" in e.action]
    assert [e.actor for e in unlocks] == ["bootstrap:owner"]
    with platform.uow() as uow, pytest.raises(Conflict, match="not locked"):
        verifier.unlock(platform, uow, request, T0, "bootstrap:owner")


def test_an_expired_code_is_refused_and_costs_no_attempt(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    request = new_request(platform)
    start(platform, verifier, request, T0)
    code = last_code(platform)
    just_before = check(platform, verifier, request, wrong(code), T0 + timedelta(seconds=899))
    assert just_before.attempts_left == 2
    outcome = check(platform, verifier, request, code, T0 + timedelta(seconds=900))
    assert outcome == CheckOutcome(verified=False, locked=False, expired=True, attempts_left=2)
    assert actions(platform, request)[-1] == "verification.expired"


def test_resend_backs_off_doubling_then_stops_at_the_limit(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    request = new_request(platform)
    start(platform, verifier, request, T0)
    first = last_code(platform)
    with pytest.raises(ResendRefused, match="after 2026-05-04T10:01:00") as early:
        resend(platform, verifier, request, T0 + timedelta(seconds=10))
    assert early.value.retry_after == 50
    expires = resend(platform, verifier, request, T0 + timedelta(seconds=60))
    assert expires == T0 + timedelta(seconds=960)
    second = last_code(platform)
    with pytest.raises(ResendRefused) as doubled:
        resend(platform, verifier, request, T0 + timedelta(seconds=179))
    assert doubled.value.retry_after == 1  # 60 s + 120 s after the first send
    resend(platform, verifier, request, T0 + timedelta(seconds=180))
    with pytest.raises(ResendRefused, match="all 3 codes") as over:
        resend(platform, verifier, request, T0 + timedelta(days=1))
    assert over.value.retry_after is None
    assert len(sent(platform)) == 3
    third = last_code(platform)
    now = T0 + timedelta(seconds=181)
    if first != third:
        assert not check(platform, verifier, request, first, now).verified
    if second != third:
        assert not check(platform, verifier, request, second, now).verified
    assert check(platform, verifier, request, third, now).verified
    sends = [e.detail["sends"] for e in _events(platform, request, "verification.code_sent")]
    assert sends == [1, 2, 3]


def _events(platform: Platform, request: PrivacyRequest, action: str) -> list[object]:
    with platform.uow() as uow:
        return [e for e in uow.audit.for_request(request.id) if e.action == action]


def test_start_twice_mails_once(platform: Platform, verifier: EmailCodeVerifier) -> None:
    request = new_request(platform)
    start(platform, verifier, request, T0)
    start(platform, verifier, request, T0 + timedelta(seconds=5))
    assert len(sent(platform)) == 1


def test_nothing_is_stored_when_the_mail_fails(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    class Broken:
        def send(self, *_: str) -> None:
            raise RuntimeError("mail server down")

    broken = dataclasses.replace(platform, notifier=Broken())
    request = new_request(broken)
    with pytest.raises(RuntimeError):
        start(broken, verifier, request, T0)
    with platform.uow() as uow:
        assert uow.verifications.get(request.id) is None
    assert actions(platform, request) == []


def test_without_an_email_identity_the_operator_is_told_to_verify_another_way(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    request = new_request(platform, {"phone": "+15550100"})
    with pytest.raises(InvalidInput, match="verify the subject's identity another way") as err:
        start(platform, verifier, request, T0)
    assert err.value.field == "identities.email"
    assert "+15550100" not in str(err.value)


def test_checks_without_a_live_code_say_what_to_do(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    request = new_request(platform)
    with pytest.raises(Conflict, match="ask for one first"):
        check(platform, verifier, request, "123456", T0)
    start(platform, verifier, request, T0)
    code = last_code(platform)
    with pytest.raises(InvalidInput, match="6 digits"):
        check(platform, verifier, request, "12345a", T0)
    assert check(platform, verifier, request, code, T0).attempts_left == 3  # format cost none
    with pytest.raises(Conflict, match="already verified"):
        check(platform, verifier, request, code, T0)


def test_a_code_works_only_for_its_own_request(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    one, other = new_request(platform), new_request(platform)
    start(platform, verifier, one, T0)
    code = last_code(platform)
    start(platform, verifier, other, T0)
    if code != last_code(platform):
        assert not check(platform, verifier, other, code, T0).verified


def test_verifier_for_knows_email_code_and_names_the_known_methods() -> None:
    policy = VerificationPolicy(ttl_s=60, max_attempts=2, resend_after_s=30, max_sends=4)
    made = verifier_for(EMAIL_CODE, policy)
    assert isinstance(made, EmailCodeVerifier)
    assert made.method == EMAIL_CODE
    assert made.policy == policy
    with pytest.raises(InvalidInput, match="known: email_code"):
        verifier_for("carrier_pigeon", policy)


def test_a_pluggable_method_is_found_through_its_factory() -> None:
    class OperatorChecksId:
        method = "operator_id"

        def start(self, *_: object) -> None:
            return None

        def check(self, *args: object) -> CheckOutcome:
            return CheckOutcome(args[3] == "ok", locked=False, expired=False, attempts_left=1)

    factories = {"operator_id": lambda _: OperatorChecksId()}
    made = verifier_for("operator_id", VerificationPolicy(), factories)
    assert made.method == "operator_id"


def _uuid_not_in(value: str) -> bool:
    return re.search(r"[0-9a-f]{8}-", value) is None


def test_mail_body_holds_the_code_and_no_request_detail(
    platform: Platform, verifier: EmailCodeVerifier
) -> None:
    request = new_request(platform)
    start(platform, verifier, request, T0)
    _, _, body = sent(platform)[-1]
    assert "15 minutes" in body
    assert _uuid_not_in(body)
