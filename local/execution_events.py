"""Plays the EventBridge rule "Step Functions Execution Status Change" -> reaper Lambda.

moto's Step Functions emits no EventBridge events, so this watcher lists the state machine's
executions every second and, for each one that newly ended ABORTED, TIMED_OUT or FAILED (the
statuses the deployed rule matches), invokes the handler with the event EventBridge would deliver.
"""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

from local.account import ACCOUNT, REGION
from local.lambda_context import Handler, LambdaContext

log = logging.getLogger(__name__)

MATCHED_STATUSES = frozenset({"ABORTED", "TIMED_OUT", "FAILED"})


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


class ExecutionStatusWatcher:
    def __init__(
        self,
        sfn: Any,
        state_machine_arn: str,
        handler: Handler,
        function_name: str,
        interval_s: float = 1.0,
    ) -> None:
        self._sfn = sfn
        self._arn = state_machine_arn
        self._handler = handler
        self._function_name = function_name
        self._interval_s = interval_s
        self._seen: set[str] = set()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="execution-events", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stopping.wait(self._interval_s):
            try:
                self.poll_once()
            except Exception:
                log.exception("execution status watcher: poll failed")

    def poll_once(self) -> int:
        """Deliver one event per newly ended matching execution; returns how many were delivered."""
        delivered = 0
        for status in MATCHED_STATUSES:
            pages = self._sfn.get_paginator("list_executions").paginate(
                stateMachineArn=self._arn, statusFilter=status
            )
            for page in pages:
                for summary in page["executions"]:
                    if summary["executionArn"] not in self._seen:
                        self._seen.add(summary["executionArn"])
                        self._deliver(summary["executionArn"])
                        delivered += 1
        return delivered

    def _deliver(self, execution_arn: str) -> None:
        execution = self._sfn.describe_execution(executionArn=execution_arn)
        context = LambdaContext(function_name=self._function_name)
        try:
            self._handler(status_change_event(execution), context)
        except Exception:
            # EventBridge retries async invokes; one retry here covers a transient error.
            log.exception("reaper failed for %s; retrying once", execution_arn)
            self._handler(status_change_event(execution), context)
