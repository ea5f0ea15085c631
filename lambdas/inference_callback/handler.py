"""SQS consumer of SageMaker's async notifications (success and error topics).

Partial batch failures: a message that fails for a retryable reason (S3, throttling) goes back
to the queue alone and lands in the DLQ after maxReceiveCount; a malformed message does too.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.common.inference import parse_notification
from lambdas.common.observability import instrumented, logger, tracer
from lambdas.common.runtime import ColdStart, partial_batch
from lambdas.common.settings import InferenceCallbackSettings
from lambdas.workflow.dependencies import notifications

cold_start = ColdStart(InferenceCallbackSettings, notifications)


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    notification = parse_notification(record.body)
    outcome = cold_start.dependencies().handle(notification)
    status = notification.invocation_status
    logger.info(
        "notification handled",
        extra={"job_id": notification.inference_id, "status": status, "outcome": outcome},
    )
    return outcome


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return partial_batch(event, context, cold_start, record_handler)
