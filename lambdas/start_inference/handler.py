"""Workflow task Generate (lambda:invoke.waitForTaskToken): hand the job to the async endpoint."""

from __future__ import annotations

from typing import Any

from lambdas.common.observability import instrumented
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import StartInferenceSettings
from lambdas.workflow.dependencies import generation
from lambdas.workflow.events import TokenTask

cold_start = ColdStart(StartInferenceSettings, generation)


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = TokenTask.received(event)
    return cold_start.dependencies().start_inference(task.job_id, task.task_token)
