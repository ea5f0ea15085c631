"""What the Lambda runtime gives a handler, for in-process invocations: the context object, and the
handler itself found by its dotted name (the function's `Handler` setting)."""

from __future__ import annotations

import importlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.account import function_arn

Handler = Callable[[Any, Any], Any]


def load_handler(dotted: str) -> Handler:
    """`lambdas.api.handler.lambda_handler` -> that function."""
    module_name, _, attr = dotted.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


@dataclass
class LambdaContext:
    """The attributes of the runtime's context object that Powertools and the handlers read."""

    function_name: str
    memory_limit_in_mb: int = 512
    timeout_s: float = 30.0
    function_version: str = "$LATEST"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = ""
    log_stream_name: str = "local"
    _deadline: float = field(default=0.0, repr=False)

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.log_group_name = self.log_group_name or f"/aws/lambda/{self.function_name}"

    @property
    def invoked_function_arn(self) -> str:
        return function_arn(self.function_name)

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))
