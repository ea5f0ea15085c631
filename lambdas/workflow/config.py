"""Workflow-only runtime settings (the shared ones live in lambdas/common/settings.py)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache


@dataclass(frozen=True)
class WorkflowSettings:
    # SageMaker's RequestTTLSeconds: a request the workflow stopped waiting for is not computed.
    inference_timeout_s: int
    # The state machine's own timeout: a queued job older than this has no live execution,
    # so it no longer holds its place in the user's queue.
    max_execution_s: int

    def queue_horizon(self) -> str:
        since = datetime.now(UTC) - timedelta(seconds=self.max_execution_s)
        return since.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@cache
def get_workflow_settings() -> WorkflowSettings:
    return WorkflowSettings(
        inference_timeout_s=int(os.environ.get("INFERENCE_TIMEOUT_SECONDS", "2700")),
        max_execution_s=int(os.environ.get("WORKFLOW_TIMEOUT_SECONDS", "86400")),
    )
