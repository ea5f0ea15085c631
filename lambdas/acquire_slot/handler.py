"""Workflow task AcquireSlot (lambda:invoke.waitForTaskToken): wait for the user's turn."""

from __future__ import annotations

from typing import Any

from lambdas.common.observability import logger, tracer
from lambdas.workflow.events import TokenTask
from lambdas.workflow.slots import acquire_or_wait


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = TokenTask.model_validate(event)
    logger.append_keys(job_id=task.job_id, user_id=task.user_id)
    return {"acquired": acquire_or_wait(task.job_id, task.task_token)}
