"""SQS consumer of the uploads bucket's ObjectCreated notifications (S3 -> SQS -> this function).

Why a queue between S3 and the function: a check that fails for a passing reason (S3, DynamoDB,
a timeout on a long file) is retried from the queue and, after a few tries, kept in its
dead-letter queue (alarmed) instead of being lost; and the local stack runs the same path, since
moto delivers S3 notifications to SQS.

Partial batch failures: one bad message does not make the others run again.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from lambdas.common.observability import instrumented, logger, tracer
from lambdas.common.runtime import ColdStart, partial_batch
from lambdas.common.settings import UploadCheckSettings

from .check import UploadCheck

cold_start = ColdStart(UploadCheckSettings, UploadCheck.from_settings)


def s3_objects(body: str) -> list[tuple[str, str | None]]:
    """(key, eTag) of each ObjectCreated record in an S3 notification; [] for S3's test event."""
    message = json.loads(body)
    if message.get("Event") == "s3:TestEvent":  # sent once when the notification is configured
        return []
    objects = []
    for record in message.get("Records", []):
        if not str(record.get("eventName", "")).startswith("ObjectCreated:"):
            continue
        obj = record["s3"]["object"]
        # Keys arrive URL-encoded (spaces as '+') in S3 notifications.
        objects.append((unquote_plus(obj["key"]), obj.get("eTag")))
    return objects


@tracer.capture_method
def record_handler(record: SQSRecord) -> list[str]:
    check = cold_start.dependencies()
    outcomes = []
    for key, etag in s3_objects(record.body):
        outcome = check.check(key, etag)
        logger.info("upload checked", extra={"key": key, "outcome": outcome})
        outcomes.append(outcome)
    return outcomes


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return partial_batch(event, context, cold_start, record_handler)
