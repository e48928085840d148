"""The Privacy Service API v1 bodies (see docs/privacy-service-api.yaml)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

API_VERSION = "v1"


class Callback(BaseModel):
    """Where to send the result of slow work, and the one-time token that proves it is ours."""

    model_config = ConfigDict(extra="forbid")

    url: str = Field(min_length=1)
    token: str = Field(min_length=16, repr=False)


class SubjectRequest(BaseModel):
    """What Rightsflow asks a service: whose data, which categories, and for which request."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=100)
    system: str = Field(min_length=1, max_length=100)
    operation: Literal["access", "erase"]
    identities: dict[str, str] = Field(min_length=1, repr=False)
    keys: dict[str, list[str | int | float | bool | None]] = Field(
        default_factory=dict,
        repr=False,
        description="Values found in other systems for this service's key fields "
        "(e.g. customer_id), by field name",
    )
    categories: list[str] = Field(default_factory=list)
    callback: Callback | None = None


class ConsentRequest(BaseModel):
    """What Rightsflow tells a service about a consent record (an opt-out or a withdrawal).
    `record_id` is the idempotency key: the same record twice must change nothing twice."""

    model_config = ConfigDict(extra="forbid")

    record_id: str = Field(min_length=1, max_length=100)
    system: str = Field(min_length=1, max_length=100)
    identities: dict[str, str] = Field(
        min_length=1, repr=False, description="Subject kind (user_id, device_id, email) -> value"
    )
    purposes: dict[str, bool] = Field(
        description="Purpose -> the effective choice (false: opted out or withdrawn)"
    )
    source: str = Field(min_length=1, max_length=32)
    regime: str = Field(min_length=1, max_length=16)
    recorded_at: str = Field(min_length=1, max_length=40, description="ISO-8601, UTC")


class ConsentResult(BaseModel):
    status: Literal["done", "accepted"] = "done"
    reference: str | None = Field(
        default=None, max_length=200, description="The service's own id for what it did"
    )


class AccessResult(BaseModel):
    status: Literal["done"] = "done"
    rows: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict, description="Collection name -> the subject's rows"
    )


class EraseResult(BaseModel):
    status: Literal["done"] = "done"
    counts: dict[str, int] = Field(
        default_factory=dict, description="Collection name -> rows erased"
    )


class Accepted(BaseModel):
    status: Literal["accepted"] = "accepted"


class CallbackBody(BaseModel):
    """What a service posts to the callback URL when slow work is done."""

    request_id: str
    system: str
    operation: Literal["access", "erase"]
    result: AccessResult | EraseResult
