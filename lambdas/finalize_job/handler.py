"""Workflow tasks ChargeAndComplete (outcome processed) and HandleFailure (outcome failed)."""

from __future__ import annotations

from typing import Any

from lambdas.common.observability import logger, tracer
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import FinalizeJobSettings
from lambdas.workflow.dependencies import outcomes
from lambdas.workflow.events import FinalizeTask

cold_start = ColdStart(FinalizeJobSettings, outcomes)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    endings = cold_start.dependencies()
    task = FinalizeTask.model_validate(event)
    logger.append_keys(job_id=task.job_id, user_id=task.user_id, outcome=task.outcome)
    if task.outcome == "processed":
        return endings.complete(task.job_id, task.user_id, task.result or {})
    return endings.fail(task.job_id, task.user_id, task.error)
