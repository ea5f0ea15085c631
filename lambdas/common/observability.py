"""Logger, Tracer and Metrics, configured once for every function (service name from env)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger()
# Only botocore is traced: the functions make no other outbound calls, and auto-patching every
# supported library would import `requests` and friends at cold start for nothing.
tracer = Tracer(patch_modules=["botocore"])
metrics = Metrics()

Handler = TypeVar("Handler", bound=Callable[..., Any])


def instrumented(handler: Handler) -> Handler:
    """A function's handler with the Lambda context on every log line (keys cleared between
    invocations) and an X-Ray subsegment around it."""
    return logger.inject_lambda_context(clear_state=True)(tracer.capture_lambda_handler(handler))
