"""Workflow task AcquireSlot (lambda:invoke.waitForTaskToken): wait for the user's turn."""

from __future__ import annotations

from typing import Any

from lambdas.common.observability import logger, tracer
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import AcquireSlotSettings
from lambdas.workflow.dependencies import user_queue
from lambdas.workflow.events import TokenTask

cold_start = ColdStart(AcquireSlotSettings, user_queue)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    queue = cold_start.dependencies()
    task = TokenTask.model_validate(event)
    logger.append_keys(job_id=task.job_id, user_id=task.user_id)
    return {"acquired": queue.acquire_or_wait(task.job_id, task.task_token)}
