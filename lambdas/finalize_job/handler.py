"""Workflow tasks ChargeAndComplete (outcome processed) and HandleFailure (outcome failed)."""

from __future__ import annotations

from typing import Any

from lambdas.common.observability import logger, tracer
from lambdas.workflow import outcome
from lambdas.workflow.events import FinalizeTask


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = FinalizeTask.model_validate(event)
    logger.append_keys(job_id=task.job_id, user_id=task.user_id, outcome=task.outcome)
    if task.outcome == "processed":
        return outcome.complete(task.job_id, task.user_id, task.result or {})
    return outcome.fail(task.job_id, task.user_id, task.error)
