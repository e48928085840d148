"""/api/v1/tasks: manual tasks for the people who handle systems nobody can automate.

The list takes the admin token and shows no identities. A task itself takes the task's
one-time token (`Authorization: Bearer <task token>`, sent to its assignee only): it shows
whose data it is and takes the attestation, which spends the token. The token is checked
before the body is read, so a caller without it learns nothing; refusals are 401 and audited.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, Security
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt

from rightsflow.api.auth import AuthenticatedRoute, bearer_scheme, requires
from rightsflow.api.deps import PlatformDep, WorkflowsDep, api_deps
from rightsflow.api.problems import problem_responses
from rightsflow.domain.access import Scope
from rightsflow.domain.records import SystemCallRecord
from rightsflow.services import tasks

task_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="taskToken",
    description="The task's one-time token, from the notification its assignee received.",
)


def _task_token(request: Request) -> str:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else ""


TaskToken = Annotated[str, Depends(_task_token)]


class TaskTokenRoute(APIRoute):
    """Checks the task token (read-only unless it refuses) before the body is parsed."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def checked(request: Request) -> Response:
            task_id = str(request.path_params.get("task_id", ""))
            platform = api_deps(request).platform
            await asyncio.to_thread(tasks.check_token, platform, task_id, _task_token(request))
            return await handler(request)

        return checked


by_token = APIRouter(
    prefix="/api/v1/tasks",
    tags=["tasks"],
    route_class=TaskTokenRoute,
    dependencies=[Security(task_scheme)],
    responses=problem_responses(401, 422),
)
admin = APIRouter(
    prefix="/api/v1/tasks",
    tags=["tasks"],
    route_class=AuthenticatedRoute,
    dependencies=[Security(bearer_scheme)],
    responses=problem_responses(401, 422),
)


class TaskOut(BaseModel):
    id: str = Field(description="The task id; also the path of the task")
    request_id: str
    system: str
    operation: str = Field(description="access (find and return) | erase")
    status: str = Field(description="pending | overdue (a late attestation is still accepted)")
    assignee: str
    issued_at: datetime
    due_at: datetime
    reminders: int

    @classmethod
    def of(cls, task: tasks.TaskSummary) -> TaskOut:
        return cls(**vars(task))


class TaskList(BaseModel):
    items: list[TaskOut]


class TaskTargetOut(BaseModel):
    path: str
    categories: list[str]
    erase: str | None = Field(description="Erase tasks that mask: how (null, fixed, hash ...)")


class TaskCollectionOut(BaseModel):
    name: str = Field(description="The key to use in the attestation's rows or counts")
    address: str
    action: str = Field(description="return (access) | mask | delete")
    fields: list[str] = Field(description="The fields an access attestation may return")
    targets: list[TaskTargetOut]


class TaskDetailOut(TaskOut):
    instructions: str
    collections: list[TaskCollectionOut]
    identities: dict[str, str] = Field(description="Identity type -> the subject's value")
    keys: dict[str, list[Any]] = Field(description="Field -> values found in other systems")


class AttestationBody(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"outcome": "done", "attested_by": "Grace (crm team)", "counts": {"contacts": 1}},
                {"outcome": "cannot_comply", "attested_by": "grace@example.com",
                 "reason": "The vendor's export is down until Monday"},
            ]
        },
    )  # fmt: skip

    outcome: Literal["done", "no_data", "cannot_comply"]
    attested_by: str = Field(min_length=1, max_length=200, description="Your name or email")
    reason: str | None = Field(
        default=None, max_length=2_000, description="Required for cannot_comply; on the receipt"
    )
    rows: dict[str, list[dict[str, Any]]] = Field(
        default_factory=dict,
        description="Access tasks, outcome done: collection -> rows (declared fields only)",
    )
    counts: dict[str, NonNegativeInt] = Field(
        default_factory=dict, description="Erase tasks: collection -> rows erased (optional)"
    )

    def attestation(self) -> tasks.Attestation:
        return tasks.Attestation(
            outcome=self.outcome,
            attested_by=self.attested_by,
            reason=self.reason,
            rows=self.rows,
            counts=self.counts,
        )


class AttestedOut(BaseModel):
    id: str
    request_id: str
    system: str
    operation: str
    status: str = Field(description="answered")
    outcome: str
    attested_by: str
    answered_at: datetime
    counts: dict[str, int] = Field(description="Rows returned or erased, per collection")

    @classmethod
    def of(cls, call: SystemCallRecord) -> AttestedOut:
        return cls(
            id=call.id,
            request_id=call.request_id,
            system=call.system,
            operation=call.operation,
            status=call.status,
            outcome=call.outcome or "",
            attested_by=call.actor or "",
            answered_at=call.answered_at or call.issued_at,
            counts=dict(call.counts),
        )


@admin.get("", summary="Tasks waiting for an attestation, soonest due first (no identities)")
@requires(Scope.TASKS_READ)
def list_tasks(
    platform: PlatformDep,
    assignee: Annotated[str | None, Query(max_length=254, description="Only this person's")] = None,
) -> TaskList:
    return TaskList(items=[TaskOut.of(t) for t in tasks.open_tasks(platform, assignee)])


@by_token.get("/{task_id}", summary="A task, with whose data it is (task token)")
def get_task(
    task_id: str, token: TaskToken, platform: PlatformDep, response: Response
) -> TaskDetailOut:
    view = tasks.task_view(platform, task_id, token)
    response.headers["Cache-Control"] = "no-store"  # it shows the subject's identities
    return TaskDetailOut(
        **vars(TaskOut.of(view.task)),
        instructions=view.instructions,
        collections=[
            TaskCollectionOut(
                name=c.name,
                address=c.address,
                action=c.action,
                fields=list(c.fields),
                targets=[
                    TaskTargetOut(path=t.path, categories=list(t.categories), erase=t.erase)
                    for t in c.targets
                ],
            )
            for c in view.collections
        ],
        identities=dict(view.identities),
        keys={name: list(values) for name, values in view.keys.items()},
    )


@by_token.post(
    "/{task_id}/attestation",
    summary="Attest what was done: done, no_data or cannot_comply (task token; once)",
)
async def post_attestation(
    task_id: str,
    body: AttestationBody,
    token: TaskToken,
    platform: PlatformDep,
    workflows: WorkflowsDep,
) -> AttestedOut:
    call = await asyncio.to_thread(tasks.attest, platform, task_id, token, body.attestation())
    await workflows.answered(call.request_id, call.system, call.operation)
    return AttestedOut.of(call)


# One router for the app to include: the admin list and the routes opened by a task token.
router = APIRouter()
router.include_router(admin)
router.include_router(by_token)
