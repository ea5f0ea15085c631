"""Workflow task AcquireSlot (lambda:invoke.waitForTaskToken): wait for the user's turn."""

from __future__ import annotations

from typing import Any

from lambdas.common.observability import instrumented
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import AcquireSlotSettings
from lambdas.workflow.dependencies import user_queue
from lambdas.workflow.events import TokenTask

cold_start = ColdStart(AcquireSlotSettings, user_queue)


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    task = TokenTask.received(event)
    return {"acquired": cold_start.dependencies().acquire_or_wait(task.job_id, task.task_token)}
