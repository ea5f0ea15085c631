"""Completing Step Functions task tokens, tolerating tokens that are no longer waiting."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from lambdas.common import aws
from lambdas.common.observability import logger

# The task already completed (a duplicate notification), timed out, or its execution ended.
STALE_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})


def send_success(token: str, output: Any) -> bool:
    """SendTaskSuccess; False when the token is no longer waiting (nothing to do then)."""
    return _send(lambda sfn: sfn.send_task_success(taskToken=token, output=json.dumps(output)))


def send_failure(token: str, error: str, cause: str) -> bool:
    """SendTaskFailure; False when the token is no longer waiting."""
    return _send(lambda sfn: sfn.send_task_failure(taskToken=token, error=error[:256], cause=cause[:32768]))


def _send(call: Any) -> bool:
    try:
        call(aws.client("stepfunctions"))
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code in STALE_TOKEN_ERRORS:
            logger.info("task token no longer waiting", extra={"error_code": code})
            return False
        raise
    return True
