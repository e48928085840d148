"""Composition root of a worker: a Temporal worker running the request workflow."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from rightsflow.services.platform import Platform
from rightsflow.services.ports import Vault
from rightsflow.workflows.activities import RequestActivities
from rightsflow.workflows.bulk_workflow import BulkActivities, BulkJobWorkflow
from rightsflow.workflows.codec import data_converter
from rightsflow.workflows.consent_workflow import ConsentActivities, ConsentPropagationWorkflow
from rightsflow.workflows.contracts import Tuning
from rightsflow.workflows.drp_activities import DrpActivities, HttpStatusPoster
from rightsflow.workflows.request_workflow import PrivacyRequestWorkflow
from rightsflow.workflows.retention_workflow import RetentionActivities, RetentionPurgeWorkflow
from rightsflow.workflows.sweep_workflow import RetentionSweepWorkflow, SweepActivities

# Our modules are deterministic and import nothing at workflow run time that could be; passing
# them through saves re-importing them into the sandbox for every workflow instance.
_SANDBOX = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules(
        "rightsflow", "structlog", "pydantic", "pydantic_core", "yaml", "fideslang"
    )
)


def build_worker(
    client: Client,
    platform: Platform,
    task_queue: str,
    *,
    drp_allow_private_network: bool = False,
    tuning: Tuning | None = None,
) -> Worker:
    tuning = tuning or Tuning()
    poster = HttpStatusPoster(allow_private_network=drp_allow_private_network)
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[
            PrivacyRequestWorkflow,
            RetentionPurgeWorkflow,
            BulkJobWorkflow,
            RetentionSweepWorkflow,
            ConsentPropagationWorkflow,
        ],
        workflow_runner=_SANDBOX,
        activities=[
            *RequestActivities(platform, tuning).all(),
            *DrpActivities(platform, poster).all(),
            *RetentionActivities(platform).all(),
            *BulkActivities(platform).all(),
            *SweepActivities(platform).all(),
            *ConsentActivities(platform).all(),
        ],
        max_concurrent_activities=tuning.max_concurrent_activities,
        max_concurrent_workflow_tasks=tuning.max_concurrent_workflow_tasks,
    )


async def connect(address: str, namespace: str, vault: Vault) -> Client:
    """A client whose payloads are sealed by the vault (workers built on it inherit that)."""
    return await Client.connect(address, namespace=namespace, data_converter=data_converter(vault))
