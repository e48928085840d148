"""Bulk jobs on a real stack: files of shop customers, intake, the workflow's starter."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from temporalio.client import Client

from rightsflow.bootstrap import step_policy
from rightsflow.config import Settings
from rightsflow.domain.bulk_jobs import BulkJob
from rightsflow.sample.shop import email_for
from rightsflow.services.bulk_intake import NewBulkJob, intake
from rightsflow.services.platform import Platform
from rightsflow.workflows.bulk_workflow import TemporalBulkStarter, bulk_workflow_id


def csv_lines(customers: Iterable[int]) -> list[str]:
    return ["email\n", *(f"{email_for(i)}\n" for i in customers)]


def new_job(
    platform: Platform, customers: Iterable[int], kind: str = "erase", chunk_size: int = 100
) -> BulkJob:
    new = NewBulkJob(kind, "csv", actor="test", chunk_size=chunk_size)
    return intake(platform, new, csv_lines(customers))


def bulk_starter(
    client: Client, settings: Settings, chunks_per_run: int = 200
) -> TemporalBulkStarter:
    return TemporalBulkStarter(client, settings.task_queue, step_policy(settings), chunks_per_run)


async def wait_job(client: Client, job_id: str, seconds: float = 120) -> str:
    handle = client.get_workflow_handle(bulk_workflow_id(job_id))
    return str(await asyncio.wait_for(handle.result(), seconds))
