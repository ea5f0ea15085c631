"""The local stand-in for the EventBridge rule that feeds the reaper."""

from __future__ import annotations

import itertools
import json
import time
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


def _stopped_execution(emulator, names, name: str) -> tuple[Any, str]:
    sfn = emulator.client("stepfunctions")
    arn = sfn.create_state_machine(
        name=f"{names.jobs_table}-{name}", definition=json.dumps(WAIT_FOREVER), roleArn=ROLE
    )["stateMachineArn"]
    run = sfn.start_execution(stateMachineArn=arn, name=name, input="{}")
    # moto runs the execution on a thread of its own: on a loaded machine that thread can mark it
    # RUNNING after the stop, so stop until the stop holds.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        sfn.stop_execution(executionArn=run["executionArn"], error="Test", cause="stopped by the test")
        if sfn.describe_execution(executionArn=run["executionArn"])["status"] == "ABORTED":
            break
        time.sleep(0.05)
    return sfn, arn


def test_a_failing_reaper_is_retried_as_the_rule_retries_it(emulator, names) -> None:
    """The rule's target retries a failed invocation with backoff (REAPER_RETRY_ATTEMPTS times),
    not once: a reaper that fails five times in a row still cleans up."""
    from lambdas.common.contract import REAPER_RETRY_ATTEMPTS

    sfn, arn = _stopped_execution(emulator, names, "flaky")
    attempts: list[float] = []

    def flaky(event: dict, ctx: Any) -> None:
        attempts.append(time.monotonic())
        if len(attempts) <= 5:
            raise RuntimeError("DynamoDB throttled")

    watcher = ExecutionStatusWatcher(sfn, arn, flaky, "reaper", first_retry_s=0.02)
    assert watcher.poll_once() == 1
    deadline = time.monotonic() + 10
    while len(attempts) < 6 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(attempts) == 6 and watcher.dead_letters == []
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= 0.02 * 2**k for k, gap in enumerate(gaps))  # backing off: 0.02, 0.04, 0.08 s...
    assert REAPER_RETRY_ATTEMPTS > 5


def test_a_reaper_that_keeps_failing_leaves_a_dead_letter(emulator, names) -> None:
    from lambdas.common.contract import REAPER_RETRY_ATTEMPTS

    sfn, arn = _stopped_execution(emulator, names, "broken")
    attempts: list[dict] = []

    def broken(event: dict, ctx: Any) -> None:
        attempts.append(event)
        raise RuntimeError("a bug")

    watcher = ExecutionStatusWatcher(sfn, arn, broken, "reaper", first_retry_s=0.001)
    watcher.poll_once()
    deadline = time.monotonic() + 10
    while not watcher.dead_letters and time.monotonic() < deadline:
        time.sleep(0.02)
    assert len(attempts) == 1 + REAPER_RETRY_ATTEMPTS
    assert [e["detail"]["name"] for e in watcher.dead_letters] == ["broken"]
