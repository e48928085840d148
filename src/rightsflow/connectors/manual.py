"""`manual`: a system nobody can automate, handled by a named person.

Each request that reaches such a system becomes a task for its owner: they are sent a link and
a one-time token (never the subject's identities), see whose data and what to do through the
tasks API, and attest what they did (done / no data found / cannot comply, with a reason). The
platform waits for the attestation durably, reminds the owner, and gives up at the deadline.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from pydantic import BaseModel, ConfigDict, Field, field_validator

from rightsflow.connectors.base import (
    DAY_S,
    ConnectorSpec,
    SystemAnswer,
    SystemCall,
    WaitPolicy,
)
from rightsflow.domain.errors import ConnectorFailure

# One address, no display name: local part, "@", a domain with at least one dot. Deliverability
# is the mail system's business; this catches typos and lists ("a@x.org, b@x.org").
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class ManualConfig(BaseModel):
    """One system handled by a person."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    owner: str = Field(
        max_length=254, description="Email address of the person who handles the tasks"
    )
    instructions: str = Field(
        min_length=1,
        max_length=10_000,
        description="What to do, shown in the task and its notification (no personal data)",
    )
    answer_within_s: float = Field(
        default=3 * DAY_S, gt=0, description="Seconds to attest before the task is overdue"
    )
    remind_every_s: float = Field(
        default=DAY_S, gt=0, description="Seconds between reminders to the owner"
    )

    @field_validator("owner")
    @classmethod
    def _email(cls, value: str) -> str:
        value = value.strip()
        if not _EMAIL.fullmatch(value):
            raise ValueError("not an email address (one address, like owner@example.com)")
        return value


class ManualConnector:
    """Asks a person: every call is pending until its owner attests through the tasks API."""

    rechecks = False  # nobody can re-read a system only a person can reach

    def __init__(self, config: ManualConfig) -> None:
        self.config = config
        self.wait = WaitPolicy(
            answer_within_s=config.answer_within_s,
            remind_every_s=config.remind_every_s,
            assignee=config.owner,
            instructions=config.instructions,
        )

    def call(self, call: SystemCall) -> SystemAnswer:  # noqa: ARG002 (protocol signature)
        # The platform records the task and notifies the owner; nothing to send anywhere.
        return SystemAnswer(pending=True)

    def read_callback(self, body: bytes, headers: Mapping[str, str]) -> SystemAnswer:  # noqa: ARG002
        raise ConnectorFailure("manual tasks are answered through the tasks API", retryable=False)

    def check(self) -> None:
        """Nothing to reach: a person is always 'reachable' (overdue tasks say otherwise)."""

    def close(self) -> None:
        """Nothing to release."""


MANUAL_CONNECTOR: ConnectorSpec[ManualConfig] = ConnectorSpec(
    kind="manual",
    config_model=ManualConfig,
    factory=ManualConnector,
    capabilities=frozenset({"retrieve", "delete"}),
    description="A task for a named person, who attests what they did through the tasks API",
)
