"""Plays the EventBridge rule "Step Functions Execution Status Change" -> reaper Lambda.

moto's Step Functions emits no EventBridge events, so this watcher lists the state machine's
executions every second and, for each one that newly ended ABORTED, TIMED_OUT or FAILED (the
statuses the deployed rule matches), invokes the handler with the event EventBridge would deliver.
A failed invocation is retried as the rule's target retry policy says (lambdas/common/contract.py:
REAPER_RETRY_ATTEMPTS retries, with exponential backoff, while the event is younger than
REAPER_MAX_EVENT_AGE_S); an event that still fails is kept in `dead_letters`, as the rule's DLQ.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lambdas.common.contract import REAPED_STATUSES, REAPER_MAX_EVENT_AGE_S, REAPER_RETRY_ATTEMPTS
from local.account import ACCOUNT, REGION
from local.lambda_context import Handler, LambdaContext
from local.polling import Poller

log = logging.getLogger(__name__)


def _epoch_ms(value: Any) -> int | None:
    return int(value.timestamp() * 1000) if isinstance(value, datetime) else None


def status_change_event(execution: dict[str, Any]) -> dict[str, Any]:
    """The EventBridge event for a DescribeExecution result."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states",
        "account": ACCOUNT,
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [execution["executionArn"]],
        "detail": {
            "executionArn": execution["executionArn"],
            "stateMachineArn": execution["stateMachineArn"],
            "name": execution["name"],
            "status": execution["status"],
            "startDate": _epoch_ms(execution.get("startDate")),
            "stopDate": _epoch_ms(execution.get("stopDate")),
            "input": execution.get("input"),
            "output": execution.get("output"),
            "inputDetails": {"included": True},
            "error": execution.get("error"),
            "cause": execution.get("cause"),
        },
    }


@dataclass(eq=False)
class ExecutionStatusWatcher(Poller):
    sfn: Any
    state_machine_arn: str
    handler: Handler
    function_name: str
    interval_s: float = 1.0
    first_retry_s: float = 1.0
    dead_letters: list[dict[str, Any]] = field(default_factory=list)  # the rule's DLQ
    _seen: set[str] = field(default_factory=set)

    def start(self) -> None:
        self._start_polling("execution-events", interval_s=self.interval_s)

    def poll_once(self) -> int:
        """Deliver one event per newly ended matching execution; returns how many were delivered."""
        delivered = 0
        for status in REAPED_STATUSES:
            pages = self.sfn.get_paginator("list_executions").paginate(
                stateMachineArn=self.state_machine_arn, statusFilter=status
            )
            for page in pages:
                for summary in page["executions"]:
                    if summary["executionArn"] not in self._seen:
                        self._seen.add(summary["executionArn"])
                        self._deliver(summary["executionArn"])
                        delivered += 1
        return delivered

    def _deliver(self, execution_arn: str) -> None:
        event = status_change_event(self.sfn.describe_execution(executionArn=execution_arn))
        if not self._invoke(event):
            # Retried on its own schedule: the other executions' events are not held up.
            threading.Thread(target=self._retry, args=(event, time.monotonic()), daemon=True).start()

    def _invoke(self, event: dict[str, Any]) -> bool:
        try:
            self.handler(event, LambdaContext(function_name=self.function_name))
        except Exception:
            log.exception("reaper failed for %s", event["detail"]["executionArn"])
            return False
        return True

    def _retry(self, event: dict[str, Any], first_at: float) -> None:
        """The target's retry policy: up to REAPER_RETRY_ATTEMPTS more tries, backing off, while the
        event is younger than REAPER_MAX_EVENT_AGE_S; then the dead-letter queue."""
        for attempt in range(REAPER_RETRY_ATTEMPTS):
            delay = self.first_retry_s * 2**attempt
            if time.monotonic() + delay - first_at > REAPER_MAX_EVENT_AGE_S or self._stopping.wait(delay):
                break
            if self._invoke(event):
                return
        log.error("reaper gave up on %s: kept as a dead letter", event["detail"]["executionArn"])
        self.dead_letters.append(event)
