"""DRP 1.0 rules without I/O: signed messages, the 3.07 check order, the exercise body, and
our states and denial reasons in DRP terms."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from nacl.signing import SigningKey

from rightsflow.domain.drp import (
    DrpRefused,
    Refusal,
    check_envelope,
    open_signed,
    parse_exercise,
)
from rightsflow.domain.drp_status import DENIAL_REASONS, drp_state, status_document
from rightsflow.domain.requests import DenialReason, PrivacyRequest, RequestStatus, RequestType

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
SPEC_DENIED_REASONS = {
    "suspected_fraud", "insuf_verification", "no_match", "claim_not_covered",
    "outside_jurisdiction", "too_many_requests", "other",
}  # fmt: skip


def envelope(**changes: Any) -> dict[str, Any]:
    claims = {
        "agent-id": "AGENT",
        "business-id": "BUSINESS",
        "issued-at": (NOW - timedelta(minutes=1)).isoformat(),
        "expires-at": (NOW + timedelta(minutes=9)).isoformat(),
    }
    return {**claims, **changes}


def refusal(call: Any) -> Refusal:
    with pytest.raises(DrpRefused) as refused:
        call()
    return refused.value.refusal


def test_combined_mode_signatures_open_only_with_the_right_key() -> None:
    key = SigningKey.generate()
    body = base64.b64encode(bytes(key.sign(b'{"a": 1}')))
    assert open_signed(body, bytes(key.verify_key)) == b'{"a": 1}'
    other = bytes(SigningKey.generate().verify_key)
    assert refusal(lambda: open_signed(body, other)) is Refusal.BAD_SIGNATURE
    tampered = base64.b64encode(bytes(key.sign(b'{"a": 1}'))[:-1] + b"2")
    assert refusal(lambda: open_signed(tampered, bytes(key.verify_key))) is Refusal.BAD_SIGNATURE
    assert refusal(lambda: open_signed(b"%%%", other)) is Refusal.NOT_BASE64


def test_envelope_checks_run_in_the_spec_order() -> None:
    def check(**changes: Any) -> Refusal:
        return refusal(lambda: check_envelope(envelope(**changes), "AGENT", "BUSINESS", NOW))

    late = {"expires-at": (NOW - timedelta(seconds=1)).isoformat()}
    # Several things wrong at once: the first in 3.07's order is the one named.
    assert check(**{"agent-id": "X", "business-id": "Y"}, **late) is Refusal.AGENT_MISMATCH
    assert check(**{"business-id": "Y"}, **late) is Refusal.WRONG_BUSINESS
    early = (NOW + timedelta(minutes=1)).isoformat()
    assert check(**{"issued-at": early}, **late) is Refusal.NOT_YET_VALID
    assert check(**late) is Refusal.EXPIRED
    assert check(**{"expires-at": (NOW + timedelta(days=2)).isoformat()}) is (
        Refusal.LIFETIME_TOO_LONG
    )
    assert check(**{"issued-at": "yesterday"}) is Refusal.MALFORMED
    skewed = (NOW + timedelta(seconds=10)).isoformat()
    assert check_envelope(envelope(**{"issued-at": skewed}), "AGENT", "BUSINESS", NOW)


def exercise_claims(**changes: Any) -> dict[str, Any]:
    claims = {"drp.version": "1.0", "exercise": "access", "regime": "ccpa", **changes}
    return {k: v for k, v in claims.items() if v is not None}


def test_identity_is_verified_only_when_the_agent_vouches_for_every_identity() -> None:
    both = {"email": "A@B.example", "email_verified": True, "phone_number": "+15551234567"}
    parsed = parse_exercise(exercise_claims(**both), "ccpa", allow_http_callbacks=False)
    assert parsed.identities == {"email": "a@b.example", "phone_number": "+15551234567"}
    assert parsed.verified is False
    vouched = {**both, "phone_number_verified": True, "name": "Ada", "address": {"x": 1}}
    assert parse_exercise(exercise_claims(**vouched), "ccpa", False).verified is True
    assert "name" not in parse_exercise(exercise_claims(**vouched), "ccpa", False).identities


def test_exercise_body_rules() -> None:
    email = {"email": "a@b.example"}

    def parse(**changes: Any) -> Any:
        return parse_exercise(exercise_claims(**email, **changes), "ccpa", False)

    assert parse(exercise="sale:opt-out").request_type is RequestType.OPT_OUT
    assert parse(regime=None).regime_given is None
    assert refusal(lambda: parse(status_callback="http://agent.example/cb")) is Refusal.MALFORMED
    assert parse_exercise(
        exercise_claims(**email, status_callback="http://a.example/cb"), "ccpa", True
    ).status_callback == "http://a.example/cb"  # fmt: skip
    assert refusal(lambda: parse(relationships="customer")) is Refusal.MALFORMED
    assert refusal(lambda: parse(**{"agent-request-id": "x" * 256})) is Refusal.MALFORMED
    assert refusal(lambda: parse(exercise="access:specific")) is Refusal.UNSUPPORTED


def request(status: RequestStatus, **fields: Any) -> PrivacyRequest:
    return PrivacyRequest(
        id="r-1", type=RequestType.ACCESS, regime="ccpa", policy_key="default_access",
        status=status, received_at=NOW, due_at=NOW + timedelta(days=45),
        identity_types=("email",), **fields,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (RequestStatus.RECEIVED, ("open", None)),
        (RequestStatus.AWAITING_VERIFICATION, ("open", None)),
        (RequestStatus.AWAITING_APPROVAL, ("open", None)),
        (RequestStatus.EXECUTING, ("in_progress", None)),
        (RequestStatus.FAILED, ("in_progress", None)),
        (RequestStatus.COMPLETED, ("fulfilled", None)),
        (RequestStatus.EXPIRED, ("denied", "insuf_verification")),
    ],
)
def test_our_states_in_drp_terms(status: RequestStatus, expected: tuple[str, Any]) -> None:
    state, reason = drp_state(request(status), canceled_by=None)
    assert (state.value, reason) == expected


def test_cancellations_and_denials() -> None:
    canceled = request(RequestStatus.CANCELED)
    assert drp_state(canceled, "agent:A")[0].value == "revoked"
    assert drp_state(canceled, "subject")[0].value == "revoked"
    assert drp_state(canceled, "bootstrap:owner") == ("denied", "other")
    for ours, theirs in DENIAL_REASONS.items():
        denied = request(RequestStatus.DENIED, denial_reason=ours.value)
        assert drp_state(denied, None) == ("denied", theirs)
    assert set(DENIAL_REASONS) == set(DenialReason)  # every reason of ours has a DRP one
    assert set(DENIAL_REASONS.values()) <= SPEC_DENIED_REASONS


def test_status_document_carries_expected_by_and_an_extension_reason() -> None:
    extended = request(
        RequestStatus.EXECUTING, extended_at=NOW, extension_reason="the request is complex"
    )
    doc = status_document(extended, agent_request_id="aa-9")
    assert doc == {
        "request_id": "r-1",
        "status": "in_progress",
        "received_at": "2026-05-01T12:00:00Z",
        "expected_by": "2026-06-15T12:00:00Z",
        "agent_request_id": "aa-9",
        "processing_details": "The response deadline was extended: the request is complex.",
    }
    assert json.dumps(doc)
