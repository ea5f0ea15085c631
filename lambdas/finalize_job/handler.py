"""Workflow tasks ChargeAndComplete (outcome processed) and HandleFailure (outcome failed)."""

from __future__ import annotations

from typing import Any

from lambdas.common.observability import instrumented, logger
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import FinalizeJobSettings
from lambdas.workflow.dependencies import outcomes
from lambdas.workflow.events import FinalizeTask

cold_start = ColdStart(FinalizeJobSettings, outcomes)


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = FinalizeTask.received(event)
    logger.append_keys(outcome=task.outcome)
    endings = cold_start.dependencies()
    if task.outcome == "processed":
        return endings.complete(task.job_id, task.user_id, task.result or {})
    return endings.fail(task.job_id, task.user_id, task.error)
