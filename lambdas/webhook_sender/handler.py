"""SQS consumer of the lifecycle events (EventBridge rule -> queue): delivers the song's webhook.

The records of a batch are delivered in parallel, each within its own total deadline
(DELIVERY_DEADLINE_S), so one slow receiver does not hold up the others; and the handler stops
waiting SENDER_RESERVE_S before the function's timeout, so a batch never times out as a whole (a
delivery still running then is retried on its own, like a failed one). A record to retry gets
its own visibility timeout from the retry schedule and is reported as a batch item failure
(ReportBatchItemFailures), so only it returns to the queue, when its next attempt is due. After
the last attempt the queue's redrive policy moves it to the dead-letter queue.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

from lambdas.common import aws
from lambdas.common.contract import WEBHOOK_SENDER
from lambdas.common.observability import instrumented, logger
from lambdas.common.runtime import ColdStart
from lambdas.common.settings import WebhookSenderSettings
from lambdas.webhooks.delivery import Outcome, Result, Webhooks, deliver
from lambdas.webhooks.schedule import SENDER_RESERVE_S, WEBHOOK_SENDER_TIMEOUT_S, retry_delay_s

MAX_PARALLEL = WEBHOOK_SENDER.batch_size  # every record of a batch at once


cold_start = ColdStart(WebhookSenderSettings, Webhooks.from_settings)


def _attempt_of(record: dict[str, Any]) -> int:
    return int(record.get("attributes", {}).get("ApproximateReceiveCount", "1"))


def _handle(webhooks: Webhooks, record: dict[str, Any]) -> Outcome:
    attempt = _attempt_of(record)
    try:
        event = json.loads(record["body"])
        body = event["detail"]  # the EventBridge event; its detail is the webhook body
    except (ValueError, KeyError, TypeError):
        return Outcome(Result.SKIPPED, "not an EventBridge event")
    try:
        return deliver(body, attempt, webhooks)
    except Exception:  # our own fault (e.g. DynamoDB throttling): retry on the same schedule
        logger.exception("webhook delivery errored", extra={"message_id": record.get("messageId")})
        # Every receive counts toward the redrive policy's max receives, so back off as a failed
        # delivery does; after the last attempt the next receive dead-letters it.
        return Outcome(Result.RETRY, "internal error", retry_delay_s(attempt) or 0)


def _budget_s(context: Any) -> float:
    """How long the batch may take: up to SENDER_RESERVE_S before the function times out."""
    remaining_ms = context.get_remaining_time_in_millis() if context is not None else None
    if remaining_ms is None:
        return float(WEBHOOK_SENDER_TIMEOUT_S - SENDER_RESERVE_S)
    return max(1.0, remaining_ms / 1000 - SENDER_RESERVE_S)


def _deliver_all(webhooks: Webhooks, records: list[dict[str, Any]], budget_s: float) -> list[Outcome]:
    """Every record at once, each in its own thread; those still running after `budget_s` are left
    to finish on their own (their deadline has passed by then unless DynamoDB is slow) and are
    retried like a failed attempt."""
    pool = ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, max(1, len(records))))
    futures = [pool.submit(_handle, webhooks, record) for record in records]
    done, _ = wait(futures, timeout=budget_s)
    pool.shutdown(wait=False, cancel_futures=True)
    outcomes = []
    for future, record in zip(futures, records, strict=True):
        if future in done:
            outcomes.append(future.result())
        else:
            logger.warning("webhook delivery overran the batch", extra={"message_id": record["messageId"]})
            delay = retry_delay_s(_attempt_of(record)) or 0
            outcomes.append(Outcome(Result.RETRY, "overran the batch", delay))
    return outcomes


def _queue_url(queue_arn: str) -> str:
    return aws.client("sqs").get_queue_url(QueueName=queue_arn.rsplit(":", 1)[-1])["QueueUrl"]


@instrumented
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records", [])
    # Tables and clients are made here, before the threads: boto3 does not create them thread-safely.
    # The threads then only call DynamoDB actions through them (the underlying client is thread-safe).
    webhooks = cold_start.dependencies()
    sqs = aws.client("sqs")
    outcomes = _deliver_all(webhooks, records, _budget_s(context))
    failures: list[dict[str, str]] = []
    queue_url: str | None = None
    for record, outcome in zip(records, outcomes, strict=True):
        logger.info(
            "webhook attempt",
            extra={"message_id": record["messageId"], "result": outcome.result, "detail": outcome.detail},
        )
        if outcome.result is Result.RETRY:
            queue_url = queue_url or _queue_url(record["eventSourceARN"])
            # Delay this message alone until its next attempt is due.
            sqs.change_message_visibility(
                QueueUrl=queue_url,
                ReceiptHandle=record["receiptHandle"],
                VisibilityTimeout=outcome.retry_in_s,
            )
            failures.append({"itemIdentifier": record["messageId"]})
        elif outcome.result is Result.FAILED:
            # Recorded on the job row; back to the queue at once so the redrive policy (max receives
            # = attempts) moves it to the dead-letter queue on its next receive.
            queue_url = queue_url or _queue_url(record["eventSourceARN"])
            sqs.change_message_visibility(
                QueueUrl=queue_url, ReceiptHandle=record["receiptHandle"], VisibilityTimeout=0
            )
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
