"""Workflow task Generate (lambda:invoke.waitForTaskToken): hand the job to the async endpoint."""

from __future__ import annotations

from typing import Any

from lambdas.common.lifecycle import LifecycleEvents
from lambdas.common.observability import logger, tracer
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import StartInferenceSettings
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.objects import ScratchBucket
from lambdas.workflow.events import TokenTask
from lambdas.workflow.generation import Generation


def build(settings: StartInferenceSettings) -> Generation:
    return Generation(
        JobStore(settings.jobs_table_name),
        ScratchBucket(settings.inference_bucket_name),
        LifecycleEvents(settings.event_bus_name),
        endpoint_name=settings.endpoint_name,
        inference_timeout_s=settings.inference_timeout_seconds,
    )


cold_start = ColdStart(StartInferenceSettings, build)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    generation = cold_start.dependencies()
    task = TokenTask.model_validate(event)
    logger.append_keys(job_id=task.job_id, user_id=task.user_id)
    return generation.start_inference(task.job_id, task.task_token)
