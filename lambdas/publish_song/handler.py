"""Workflow task Publish: copy the generated media into the media bucket under the job's keys."""

from __future__ import annotations

from typing import Any

from lambdas.common.observability import logger, tracer
from lambdas.workflow.events import PublishTask
from lambdas.workflow.publish import publish


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = PublishTask.model_validate(event)
    logger.append_keys(job_id=task.job_id, user_id=task.user_id)
    return publish(task.job_id, task.user_id, task.manifest)
