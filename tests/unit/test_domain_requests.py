"""Requests: the state machine and identity normalisation (regimes: test_regimes.py)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest

from rightsflow.domain.errors import InvalidInput, InvalidTransition
from rightsflow.domain.requests import (
    PrivacyRequest,
    RequestStatus,
    RequestType,
    can_transition,
    check_transition,
    normalise_identities,
)

S = RequestStatus
ALLOWED = {
    (S.RECEIVED, S.AWAITING_VERIFICATION),
    (S.RECEIVED, S.AWAITING_APPROVAL),
    (S.RECEIVED, S.EXECUTING),
    (S.RECEIVED, S.FAILED),
    (S.RECEIVED, S.DENIED),
    (S.RECEIVED, S.CANCELED),
    (S.AWAITING_VERIFICATION, S.AWAITING_APPROVAL),
    (S.AWAITING_VERIFICATION, S.EXECUTING),
    (S.AWAITING_VERIFICATION, S.DENIED),
    (S.AWAITING_VERIFICATION, S.CANCELED),
    (S.AWAITING_VERIFICATION, S.EXPIRED),
    (S.AWAITING_APPROVAL, S.EXECUTING),
    (S.AWAITING_APPROVAL, S.DENIED),
    (S.AWAITING_APPROVAL, S.CANCELED),
    (S.EXECUTING, S.COMPLETED),
    (S.EXECUTING, S.FAILED),
    (S.EXECUTING, S.CANCELED),
    (S.FAILED, S.EXECUTING),
    (S.FAILED, S.CANCELED),
}
T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
T1 = datetime(2024, 5, 2, 12, 0, tzinfo=UTC)


def _request(status: RequestStatus = S.RECEIVED) -> PrivacyRequest:
    return PrivacyRequest(
        id="r1",
        type=RequestType.ERASURE,
        regime="gdpr",
        policy_key="default_erasure",
        status=status,
        received_at=T0,
        due_at=T0,
        identity_types=("email",),
    )


@pytest.mark.parametrize(("current", "new"), list(itertools.product(S, S)))
def test_every_transition_pair(current: RequestStatus, new: RequestStatus) -> None:
    allowed = (current, new) in ALLOWED
    assert can_transition(current, new) is allowed
    request = _request(current)
    if allowed:
        check_transition(current, new)
        request.transition(new, T1, reason="boom" if new is S.FAILED else None)
        assert request.status is new
        assert request.events == [(current, new)]
    else:
        with pytest.raises(InvalidTransition) as exc:
            check_transition(current, new)
        assert current.value in str(exc.value)
        assert new.value in str(exc.value)
        assert exc.value.current == current.value
        with pytest.raises(InvalidTransition):
            request.transition(new, T1)
        assert request.status is current
        assert request.events == []


@pytest.mark.parametrize("terminal", [S.COMPLETED, S.CANCELED, S.DENIED, S.EXPIRED])
def test_terminal_states_have_no_way_out(terminal: RequestStatus) -> None:
    assert not any(can_transition(terminal, s) for s in S)


def test_completion_sets_completed_at_and_clears_failure() -> None:
    request = _request()
    request.transition(S.EXECUTING, T0)
    assert request.completed_at is None
    request.transition(S.FAILED, T0, reason="connector shop failed")
    request.transition(S.EXECUTING, T0)
    request.transition(S.COMPLETED, T1)
    assert request.completed_at == T1
    assert request.failure_reason is None
    assert request.events == [
        (S.RECEIVED, S.EXECUTING),
        (S.EXECUTING, S.FAILED),
        (S.FAILED, S.EXECUTING),
        (S.EXECUTING, S.COMPLETED),
    ]


def test_failure_reason_set_then_cleared_on_retry() -> None:
    request = _request()
    request.transition(S.EXECUTING, T0)
    request.transition(S.FAILED, T1, reason="timeout reading shop:orders")
    assert request.failure_reason == "timeout reading shop:orders"
    assert request.completed_at is None
    request.transition(S.EXECUTING, T1)
    assert request.failure_reason is None


def test_cancel_after_failure_keeps_the_reason() -> None:
    request = _request()
    request.transition(S.FAILED, T0, reason="no connector")
    request.transition(S.CANCELED, T1)
    assert request.failure_reason == "no connector"
    assert request.completed_at is None


# --- identities --------------------------------------------------------------------------


def test_normalise_lowercases_and_strips_emails() -> None:
    out = normalise_identities({"email": "  Alice.Smith@Example.COM ", "phone_number": "+44 7700"})
    assert out == {"email": "alice.smith@example.com", "phone_number": "+44 7700"}


def test_integer_user_id_becomes_text() -> None:
    assert normalise_identities({"user_id": 42}) == {"user_id": "42"}


def test_custom_identity_type_when_known() -> None:
    known = frozenset({"email", "loyalty_id"})
    assert normalise_identities({"loyalty_id": "L-1"}, known) == {"loyalty_id": "L-1"}
    with pytest.raises(InvalidInput) as exc:
        normalise_identities({"user_id": "u1"}, known)
    assert exc.value.field == "identities.user_id"


SECRET = "zelda.secret@hidden.example"


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "identities"),
        ({"fax": SECRET}, "identities.fax"),
        ({"Email": SECRET}, "identities.Email"),
        ({"email": "zelda.secret-at-hidden.example"}, "identities.email"),
        ({"email": "zelda secret@hidden.example"}, "identities.email"),
        ({"email": "   "}, "identities.email"),
        ({"email": ""}, "identities.email"),
        ({"phone_number": "call zelda.secret"}, "identities.phone_number"),
        ({"user_id": [SECRET]}, "identities.user_id"),
        ({"user_id": {"v": SECRET}}, "identities.user_id"),
        ({"user_id": None}, "identities.user_id"),
        ({"user_id": True}, "identities.user_id"),
        ({"user_id": 1.5}, "identities.user_id"),
        ({"user_id": "zelda" * 65}, "identities.user_id"),
        ({"email": "z" * 310 + "@hidden.example"}, "identities.email"),
    ],
)
def test_bad_identities_name_the_field_not_the_value(raw: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as exc:
        normalise_identities(raw)
    assert exc.value.field == field
    assert "zelda" not in str(exc.value).lower()
    assert "hidden" not in str(exc.value)


def test_length_limit_is_320_characters() -> None:
    assert normalise_identities({"user_id": "u" * 320}) == {"user_id": "u" * 320}
    with pytest.raises(InvalidInput):
        normalise_identities({"user_id": "u" * 321})


def test_first_bad_identity_is_reported_even_with_good_ones() -> None:
    with pytest.raises(InvalidInput) as exc:
        normalise_identities({"email": "ok@example.com", "phone_number": "nope"})
    assert exc.value.field == "identities.phone_number"
