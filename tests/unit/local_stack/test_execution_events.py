"""The local stand-in for the EventBridge rule that feeds the reaper."""

from __future__ import annotations

import json
from typing import Any

from local.execution_events import ExecutionStatusWatcher

WAIT_FOREVER = {"StartAt": "Wait", "States": {"Wait": {"Type": "Wait", "Seconds": 3600, "End": True}}}
ROLE = "arn:aws:iam::123456789012:role/sfn"


def test_an_aborted_execution_is_delivered_once_with_its_input(emulator, names) -> None:
    sfn = emulator.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"{names.jobs_table}-sm", definition=json.dumps(WAIT_FOREVER), roleArn=ROLE
    )["stateMachineArn"]
    running = sfn.start_execution(stateMachineArn=arn, name="job-1", input=json.dumps({"job_id": "job-1"}))
    sfn.start_execution(stateMachineArn=arn, name="job-2", input="{}")  # still running: no event
    sfn.stop_execution(executionArn=running["executionArn"], error="Test", cause="stopped by the test")
    events: list[dict[str, Any]] = []
    watcher = ExecutionStatusWatcher(sfn, arn, lambda event, ctx: events.append(event), "reaper")

    assert watcher.poll_once() == 1
    assert watcher.poll_once() == 0  # EventBridge delivers a status change once

    event = events[0]
    assert event["source"] == "aws.states"
    assert event["detail-type"] == "Step Functions Execution Status Change"
    assert event["resources"] == [running["executionArn"]]
    detail = event["detail"]
    assert detail["status"] == "ABORTED" and detail["name"] == "job-1"
    assert detail["stateMachineArn"] == arn
    assert json.loads(detail["input"]) == {"job_id": "job-1"}
