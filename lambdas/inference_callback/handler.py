"""SQS consumer of SageMaker's async notifications (success and error topics).

Partial batch failures: a message that fails for a retryable reason (S3, throttling) goes back
to the queue alone and lands in the DLQ after maxReceiveCount; a malformed message does too.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.common.inference import parse_notification
from lambdas.common.observability import logger, tracer
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import InferenceCallbackSettings
from lambdas.common.store.jobs import JobStore
from lambdas.common.store.objects import ScratchBucket
from lambdas.workflow.generation import Notifications


def build(settings: InferenceCallbackSettings) -> Notifications:
    return Notifications(JobStore(settings.jobs_table_name), ScratchBucket(settings.inference_bucket_name))


cold_start = ColdStart(InferenceCallbackSettings, build)
processor = BatchProcessor(event_type=EventType.SQS)


@tracer.capture_method
def record_handler(record: SQSRecord) -> str:
    notification = parse_notification(record.body)
    outcome = cold_start.dependencies().handle(notification)
    logger.info(
        "notification handled",
        extra={
            "job_id": notification.inference_id,
            "status": notification.invocation_status,
            "outcome": outcome,
        },
    )
    return outcome


@logger.inject_lambda_context(clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    cold_start.dependencies()  # a missing setting fails the invocation, not each record
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
