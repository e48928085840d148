"""Status callbacks (DRP 2.03): the tell_agent activity POSTs a status to the agent's real HTTP
endpoint when it changed, only then, and does nothing for requests no agent sent."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rightsflow.domain.errors import ConnectorFailure
from rightsflow.services import drp, requests
from rightsflow.workflows.drp_activities import DrpActivities, HttpStatusPoster
from tests.support.drp_stack import DrpStack, callback_inbox, drp_stack


def local_poster(timeout_s: float = 10.0) -> HttpStatusPoster:
    """The agent's inbox listens on 127.0.0.1: the SSRF guard needs the explicit allow."""
    return HttpStatusPoster(timeout_s, allow_private_network=True)


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[DrpStack]:
    with drp_stack(tmp_path) as built:
        assert built.agent.pair().status_code == 200
        yield built


async def test_a_changed_status_is_posted_once(stack: DrpStack) -> None:
    with callback_inbox() as (inbox, url):
        made = stack.agent.exercise("deletion", status_callback=url).json()
        rid = made["request_id"]
        activities = DrpActivities(stack.platform, local_poster())
        # The agent has this status from the response already: nothing to send.
        assert await activities.tell_agent(rid) is False
        await requests.cancel(stack.platform, stack.starter, rid, actor="bootstrap:owner")
        assert await activities.tell_agent(rid) is True
        assert await activities.tell_agent(rid) is False  # the same news twice: not sent
    assert len(inbox.received) == 1
    sent = inbox.received[0]
    assert (sent["request_id"], sent["status"], sent["reason"]) == (rid, "denied", "other")
    assert sent["expected_by"] == made["expected_by"]
    assert "withdrawn by the business" in sent["processing_details"]


async def test_requests_without_an_agent_or_callback_are_left_alone(stack: DrpStack) -> None:
    plain, _ = requests.submit(
        stack.platform,
        requests.NewRequest(type="access", identities={"email": "a@b.example"}, regime="ccpa"),
    )
    silent = stack.agent.exercise("access").json()["request_id"]  # no status_callback
    poster = local_poster()
    assert drp.notify_agent(stack.platform, poster, plain.id) is False
    assert drp.notify_agent(stack.platform, poster, silent) is False


@pytest.mark.parametrize(("code", "retryable"), [(503, True), (429, True), (404, False)])
async def test_a_failed_callback_is_retried_only_when_it_may_help(
    stack: DrpStack, code: int, retryable: bool
) -> None:
    with callback_inbox() as (inbox, url):
        rid = stack.agent.exercise("access", status_callback=url).json()["request_id"]
        await requests.cancel(stack.platform, stack.starter, rid, actor="bootstrap:owner")
        inbox.status_code = code
        with pytest.raises(ConnectorFailure) as failed:
            drp.notify_agent(stack.platform, local_poster(), rid)
        assert failed.value.retryable is retryable
        assert url not in str(failed.value)
        inbox.status_code = 200
        assert drp.notify_agent(stack.platform, local_poster(), rid) is True
    assert [r["status"] for r in inbox.received] == ["denied", "denied"]


def test_an_unreachable_agent_is_a_retryable_failure(stack: DrpStack) -> None:
    with callback_inbox() as (_, url):
        rid = stack.agent.exercise("access", status_callback=url).json()["request_id"]
    # The inbox is gone: nothing listens there any more.
    with stack.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE drp_requests SET notified = NULL")
    with pytest.raises(ConnectorFailure) as failed:
        drp.notify_agent(stack.platform, local_poster(timeout_s=2), rid)
    assert failed.value.retryable
    assert "unreachable" in str(failed.value)
