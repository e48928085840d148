"""Readiness of the workflow side: the Temporal frontend answers and a worker polls our queue."""

from __future__ import annotations

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client


async def temporal_status(client: Client, task_queue: str) -> dict[str, str]:
    try:
        await client.service_client.check_health()
    except Exception as exc:  # any failure means "not ready"; the type is enough to say why
        return {"temporal": f"unreachable ({type(exc).__name__})", "worker": "unknown"}
    try:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
    except Exception as exc:
        return {"temporal": "ok", "worker": f"cannot describe task queue ({type(exc).__name__})"}
    if not answer.pollers:
        return {"temporal": "ok", "worker": f"no worker polling task queue {task_queue}"}
    return {"temporal": "ok", "worker": "ok"}
