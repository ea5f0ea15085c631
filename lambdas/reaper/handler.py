"""EventBridge "Step Functions Execution Status Change" (ABORTED, TIMED_OUT, FAILED) -> clean up.

An execution that was stopped (a cancel, an operator) or timed out never ran its own failure
path: the job would stay `queued`/`processing` (or `canceled`) and hold its slot and its reserved
credits forever. The reaper releases both through the same path as the workflow's failure state.
For executions that did clean up (a normal failure ends in a Fail state) this changes nothing.
"""

from __future__ import annotations

import json
from typing import Any

from lambdas.common.contract import REAPED_STATUSES
from lambdas.common.observability import logger, tracer
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import ReaperSettings
from lambdas.workflow.dependencies import outcomes
from lambdas.workflow.events import ExecutionStatusDetail
from lambdas.workflow.outcome import Outcomes

cold_start = ColdStart(ReaperSettings, outcomes)


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    endings = cold_start.dependencies()
    detail = ExecutionStatusDetail.model_validate(event["detail"])
    if detail.status not in REAPED_STATUSES:
        return {"reaped": False}
    job_id, user_id = _job_of(detail, endings)
    logger.append_keys(job_id=job_id, user_id=user_id, execution_status=detail.status)
    result = endings.reap(job_id, user_id, detail.status)
    return {"reaped": True, **result}


def _job_of(detail: ExecutionStatusDetail, endings: Outcomes) -> tuple[str, str]:
    """The execution's input names the job; the execution name is the job id (API contract)."""
    data = json.loads(detail.input or "{}")
    job_id = str(data.get("job_id") or detail.name)
    user_id = data.get("user_id") or endings.jobs.get(job_id).user_id
    return job_id, str(user_id)
