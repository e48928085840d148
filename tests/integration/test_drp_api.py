"""DRP 1.0 over real HTTP: pairing, exercise (each action), status and revoke, from a signing
agent written from the spec; every refusal answered with the spec's error and audited."""

from __future__ import annotations

import base64
import hashlib
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from nacl.signing import SigningKey

from rightsflow.domain.requests import RequestStatus, RequestType
from rightsflow.services import requests
from tests.support.drp_agent import DrpAgent, iso
from tests.support.drp_stack import AGENT_ID, DrpStack, drp_stack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[DrpStack]:
    with drp_stack(tmp_path) as built:
        yield built


@pytest.fixture
def paired(stack: DrpStack) -> DrpStack:
    assert stack.agent.pair().status_code == 200
    return stack


def refusals(stack: DrpStack) -> list[tuple[str, str]]:
    """(actor, reason) of every audited refusal, oldest first."""
    with stack.engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT actor, detail FROM audit_events WHERE action = 'drp.refused' ORDER BY id"
            )
        ).all()
    return [(actor, json.loads(detail)["reason"]) for actor, detail in rows]


def request_count(stack: DrpStack) -> int:
    with stack.engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM privacy_requests")).scalar_one())


def error(response: Any, status: int, fatal: bool) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["code"] == str(status)
    assert body.get("fatal", False) is fatal
    message: str = body["message"]
    assert "ada@example.com" not in message
    return message


def minutes(n: int) -> timedelta:
    return timedelta(minutes=n)


def _window(start: timedelta, end: timedelta) -> dict[str, str]:
    now = datetime.now(UTC)
    return {"issued-at": iso(now + start), "expires-at": iso(now + end)}


# ---- pair-wise key setup ---------------------------------------------------------------------


def test_pairing_returns_a_token_once_kept_only_as_its_hash(stack: DrpStack) -> None:
    response = stack.agent.pair()
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"agent-id", "token"}
    assert body["agent-id"] == AGENT_ID
    token = body["token"]
    with stack.engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT agent_id, token_hash FROM drp_agents")).all()
    assert rows == [(AGENT_ID, hashlib.sha256(token.encode()).hexdigest())]
    assert stack.agent.send("GET", f"/v1/agent/{AGENT_ID}").json() == {}
    # A new pairing replaces the token: the old one stops working.
    assert stack.agent.pair().status_code == 200
    old = stack.agent.send("GET", f"/v1/agent/{AGENT_ID}", token=token)
    error(old, 403, fatal=False)


def test_agent_information_needs_the_token_of_that_agent(paired: DrpStack) -> None:
    other = paired.other
    assert other.pair().status_code == 200
    error(paired.agent.send("GET", "/v1/agent/OTHER_AGENT"), 403, fatal=True)
    error(paired.agent.send("GET", f"/v1/agent/{AGENT_ID}", token="guess"), 403, fatal=False)
    assert refusals(paired)[-2:] == [
        (f"agent:{AGENT_ID}", "agent_mismatch"),
        ("agent:unknown", "bad_token"),
    ]


def _pair_claims(agent: DrpAgent, **changes: Any) -> dict[str, Any]:
    return {**agent.envelope(), "drp.version": "1.0", **changes}


def test_every_failed_pairing_is_a_bare_403_and_audited(stack: DrpStack) -> None:
    agent, minutes = stack.agent, partial(timedelta)
    cases = {
        "bad_signature": agent.sign(_pair_claims(agent), key=SigningKey.generate()),
        "wrong_business": agent.sign(_pair_claims(agent, **{"business-id": "SOMEONE_ELSE"})),
        "agent_mismatch": agent.sign(_pair_claims(agent, **{"agent-id": "OTHER"})),
        "expired": agent.sign(_pair_claims(agent, **_window(minutes(-20), minutes(-10)))),
        "not_base64": b"this is not base64!",
        "unsupported": agent.sign(_pair_claims(agent, **{"drp.version": "0.5"})),
    }
    for body in cases.values():
        response = agent.pair(body=body)
        assert (response.status_code, response.content) == (403, b"")
    unknown = DrpAgent("NOT_LISTED", agent.business_id, agent.client)
    assert unknown.pair().status_code == 403
    assert [reason for _, reason in refusals(stack)] == [*cases, "unknown_agent"]
    assert refusals(stack)[-1][0] == "agent:unknown"
    assert agent.token is None


def test_a_replayed_pairing_message_gets_no_second_token(stack: DrpStack) -> None:
    body = stack.agent.sign(_pair_claims(stack.agent))
    assert stack.agent.pair(body=body).status_code == 200
    again = stack.agent.pair(body=body)
    assert (again.status_code, again.content) == (403, b"")
    assert refusals(stack) == [(f"agent:{AGENT_ID}", "replayed")]


# ---- exercise --------------------------------------------------------------------------------

ACTIONS = [
    ("access", RequestType.ACCESS),
    ("deletion", RequestType.ERASURE),
    ("sale:opt_out", RequestType.OPT_OUT),
    ("sale:opt-out", RequestType.OPT_OUT),
    ("sensitive:limit", RequestType.LIMIT_USE),
]


@pytest.mark.parametrize(("action", "expected"), ACTIONS, ids=[a for a, _ in ACTIONS])
def test_each_action_becomes_our_request(
    paired: DrpStack, action: str, expected: RequestType
) -> None:
    response = paired.agent.exercise(action, **{"agent-request-id": "aa-1"})
    assert response.status_code == 200, response.text
    body = response.json()
    request = requests.detail(paired.platform, body["request_id"]).request
    assert (request.type, request.regime, request.source) == (expected, "ccpa", f"agent:{AGENT_ID}")
    assert body["agent_request_id"] == "aa-1"
    assert body["status"] in ("open", "in_progress", "fulfilled")
    assert body["received_at"] == request.received_at.isoformat().replace("+00:00", "Z")
    assert body["expected_by"] == request.due_at.isoformat().replace("+00:00", "Z")
    assert paired.starter.started[-1][0] == request.id
    with paired.engine.connect() as conn:
        row = conn.execute(sa.text("SELECT agent_id, action FROM drp_requests")).one()
    assert tuple(row) == (AGENT_ID, action)


def test_voluntary_requests_take_the_configured_regime(paired: DrpStack) -> None:
    body = paired.agent.exercise("deletion", regime=None).json()
    assert requests.detail(paired.platform, body["request_id"]).request.regime == "ccpa"


def test_the_same_agent_request_id_is_the_same_request(paired: DrpStack) -> None:
    first = paired.agent.exercise("access", **{"agent-request-id": "same"}).json()
    again = paired.agent.exercise("access", **{"agent-request-id": "same"}).json()
    assert again["request_id"] == first["request_id"]
    assert request_count(paired) == 1


def test_identity_verified_by_the_agent_counts_as_verified(paired: DrpStack) -> None:
    vouched = paired.agent.exercise("access").json()
    unvouched = paired.agent.exercise("access", email_verified=False).json()
    checked = requests.detail(paired.platform, vouched["request_id"]).request
    unchecked = requests.detail(paired.platform, unvouched["request_id"]).request
    assert checked.verified_at is not None
    assert unchecked.verified_at is None


def _signed_exercise(agent: DrpAgent, **changes: Any) -> bytes:
    claims = {**agent.exercise_claims("access"), **changes}
    return agent.sign({k: v for k, v in claims.items() if v is not None})


def test_exercise_refusals_follow_the_spec(paired: DrpStack) -> None:
    agent, other_key = paired.agent, SigningKey.generate()
    signed = partial(_signed_exercise, agent)
    cases: list[tuple[str, bytes, int, bool, str | None]] = [
        ("bad_token", signed(), 403, False, ""),
        ("bad_token", signed(), 403, False, "wrong-token"),
        ("not_base64", b"{not base64}", 400, True, None),
        ("bad_signature", agent.sign(agent.exercise_claims(), key=other_key), 403, True, None),
        ("bad_signature", base64.b64encode(b"\0" * 64 + b"{}"), 403, True, None),
        ("malformed", agent.sign({"just": "text"}), 400, True, None),  # no envelope
        ("agent_mismatch", signed(**{"agent-id": "OTHER"}), 403, True, None),
        ("wrong_business", signed(**{"business-id": "ELSEWHERE"}), 403, True, None),
        ("not_yet_valid", signed(**_window(minutes(5), minutes(15))), 400, False, None),
        ("expired", signed(**_window(minutes(-20), minutes(-5))), 400, True, None),
        ("unsupported", signed(exercise="correction"), 400, True, None),
        ("unsupported", signed(exercise="sale:opt_in"), 400, True, None),
        ("unsupported", signed(regime="gdpr"), 400, True, None),
        ("unsupported", signed(**{"drp.version": "0.7"}), 400, True, None),
        ("malformed", signed(email=None, email_verified=None), 400, True, None),
        ("malformed", signed(email="not-an-email"), 400, True, None),
        ("malformed", signed(status_callback="ftp://x.example/cb"), 400, True, None),
    ]
    messages = []
    for reason, body, status, fatal, token in cases:
        response = agent.send("POST", "/v1/data-rights-request", body, token=token)
        messages.append(error(response, status, fatal))
        assert refusals(paired)[-1][1] == reason, reason
    assert request_count(paired) == 0
    assert "expired" in messages[9]
    assert "Supported: access, deletion, sale:opt_out" in messages[10]
    assert "correction" in messages[10]


def test_a_replayed_exercise_is_refused_and_creates_nothing(paired: DrpStack) -> None:
    body = _signed_exercise(paired.agent)
    assert paired.agent.send("POST", "/v1/data-rights-request", body).status_code == 200
    replay = paired.agent.send("POST", "/v1/data-rights-request", body)
    assert "replay" in error(replay, 409, fatal=True)
    assert request_count(paired) == 1
    assert refusals(paired) == [(f"agent:{AGENT_ID}", "replayed")]


def test_a_paired_agent_removed_from_the_directory_is_unknown(tmp_path: Path) -> None:
    with drp_stack(tmp_path, drp_agents_refresh_s=0.2) as stack:
        assert stack.agent.pair().status_code == 200
        stack.directory.write_text("[]")
        time.sleep(0.3)  # the directory is read again once it is older than that
        error(stack.agent.exercise(), 403, fatal=False)
        assert refusals(stack) == [("agent:unknown", "unknown_agent")]
        assert request_count(stack) == 0


def test_trailing_slash_is_still_taken(paired: DrpStack) -> None:
    body = _signed_exercise(paired.agent)
    assert paired.agent.send("POST", "/v1/data-rights-request/", body).status_code == 200


# ---- status and revoke -----------------------------------------------------------------------


def test_status_only_for_the_agent_managing_the_request(paired: DrpStack) -> None:
    made = paired.agent.exercise().json()
    own = paired.agent.status(made["request_id"])
    assert own.status_code == 200
    assert own.json() == made
    other = paired.other
    other.pair()
    error(other.status(made["request_id"]), 403, fatal=True)
    error(paired.agent.status("7d7c5f83-7c3e-4d4e-9d0e-1c1e8c7f0a11"), 404, fatal=False)
    error(paired.agent.status(made["request_id"], token="guess"), 403, fatal=False)
    assert refusals(paired)[0] == ("agent:OTHER_AGENT", "not_your_request")


async def test_revoke_withdraws_the_request(paired: DrpStack) -> None:
    made = paired.agent.exercise("deletion", **{"agent-request-id": "r-1"}).json()
    rid = made["request_id"]
    response = paired.agent.revoke(rid)
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "revoked"
    assert response.json()["agent_request_id"] == "r-1"
    assert requests.detail(paired.platform, rid).request.status is RequestStatus.CANCELED
    assert paired.starter.canceled == [rid]
    assert paired.agent.revoke(rid).json()["status"] == "revoked"  # again: the same answer
    assert paired.agent.status(rid).json()["status"] == "revoked"


async def test_revoke_refusals(paired: DrpStack) -> None:
    agent = paired.agent
    rid = agent.exercise().json()["request_id"]
    bad = agent.send(
        "DELETE",
        f"/v1/data-rights-request/{rid}",
        agent.sign({"reason": "x"}, key=SigningKey.generate()),
    )
    error(bad, 403, fatal=True)
    stale = {"reason": "x", **agent.envelope(datetime.now(UTC) - timedelta(hours=1))}
    error(agent.revoke(rid, claims=stale), 400, fatal=True)
    other = paired.other
    other.pair()
    error(other.revoke(rid), 403, fatal=True)
    await requests.cancel(paired.platform, paired.starter, rid, actor="bootstrap:owner")
    late = error(agent.revoke(rid), 409, fatal=True)
    assert "already denied" in late
    assert [r for _, r in refusals(paired)] == [
        "bad_signature", "expired", "not_your_request", "not_revocable"
    ]  # fmt: skip
