"""Asking the upload analyzer (a function of the transcriber's container image:
lambda_images/transcribe/transcriber/analyzer.py) for an accepted upload's length, loudness, true
peak, tempo and key.

Synchronous (RequestResponse): the upload becomes `ready` with its analysis in one write, so a
cover or extend requested as soon as GET /uploads/{id} says ready already gets the upload's tempo
and key as defaults, and the analyzer needs no access to the uploads table. Best-effort: any
failure (a function error, a timeout, throttling, a malformed answer) is logged as a warning, and the
upload is ready with `analysis: null`; it never fails the check or the upload.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from pydantic import ValidationError

from lambdas.common import aws
from lambdas.common.contract import UPLOAD_ANALYZER_TIMEOUT_S
from lambdas.common.measurements import TakeAnalysis
from lambdas.common.observability import logger

# Wait as long as the analyzer may run (its timeout, a cold start's init before it, a margin), once:
# a retry after a read timeout would run it again past the check's own timeout, and the analysis is
# best-effort (the upload is ready without it).
INVOKE_CONFIG = Config(
    read_timeout=UPLOAD_ANALYZER_TIMEOUT_S + 30, retries={"mode": "standard", "total_max_attempts": 1}
)


@dataclass(frozen=True)
class UploadAnalyzer:
    function_name: str

    def analyze(self, key: str) -> TakeAnalysis | None:
        """The analysis of the upload at `key`, or None when it could not be made."""
        try:
            response = aws.client("lambda", INVOKE_CONFIG).invoke(
                FunctionName=self.function_name,
                InvocationType="RequestResponse",
                Payload=json.dumps({"key": key}).encode(),
            )
            payload: Any = json.loads(response["Payload"].read() or b"null")
        except (ClientError, BotoCoreError, ValueError) as exc:
            logger.warning("upload analysis unavailable", extra={"key": key, "error": str(exc)})
            return None
        if response.get("FunctionError"):
            error = payload if isinstance(payload, dict) else {}
            logger.warning(
                "upload analysis failed",
                extra={"key": key, "error_type": error.get("errorType"), "error": error.get("errorMessage")},
            )
            return None
        try:
            return TakeAnalysis.model_validate(payload["analysis"])
        except (TypeError, KeyError, ValidationError) as exc:
            logger.warning("upload analysis malformed", extra={"key": key, "error": str(exc)})
            return None
