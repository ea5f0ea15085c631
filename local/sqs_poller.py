"""Plays a Lambda SQS event source mapping for an in-process handler.

Like the AWS poller: long-polls up to `batch_size` messages, invokes the function with the SQS event,
deletes what succeeded (ReportBatchItemFailures: only the ids the function returns stay), and leaves
the rest invisible until the queue's visibility timeout expires. The queue's redrive policy (moto
implements it on receive) moves a message to the DLQ after maxReceiveCount receives.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from local.account import REGION
from local.lambda_context import Handler, LambdaContext
from local.polling import Poller

log = logging.getLogger(__name__)


def sqs_event(messages: list[dict[str, Any]], queue_arn: str) -> dict[str, Any]:
    """The event Lambda builds from a ReceiveMessage batch."""
    return {
        "Records": [
            {
                "messageId": m["MessageId"],
                "receiptHandle": m["ReceiptHandle"],
                "body": m["Body"],
                "attributes": m.get("Attributes", {}),
                "messageAttributes": _message_attributes(m.get("MessageAttributes", {})),
                "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": REGION,
            }
            for m in messages
        ]
    }


def _message_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    # ReceiveMessage returns StringValue/DataType; the Lambda event uses camelCase names.
    return {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        for name, value in attributes.items()
    }


def failed_ids(result: Any, messages: list[dict[str, Any]]) -> set[str]:
    """Message ids to keep: those in batchItemFailures; all of them if the response is malformed."""
    all_ids = {m["MessageId"] for m in messages}
    if result is None:
        return set()
    try:
        failures = result.get("batchItemFailures", [])
        ids = {f["itemIdentifier"] for f in failures}
    except (AttributeError, KeyError, TypeError):
        return all_ids
    # Lambda treats an unknown or empty identifier as a failure of the whole batch.
    return all_ids if any(not i or i not in all_ids for i in ids) else ids


@dataclass(eq=False)
class SqsPoller(Poller):
    """Threads that feed one queue's messages to one handler until stopped.

    `concurrency` batches run at once, like the concurrent invocations an event source mapping
    makes (Lambda starts with up to five for a standard queue): a slow batch does not hold up the
    messages behind it. The handler must then be safe to call from several threads.
    """

    sqs: Any
    queue_url: str
    queue_arn: str
    handler: Handler
    function_name: str
    batch_size: int = 10
    wait_time_s: int = 1
    timeout_s: float = 60.0
    concurrency: int = 1

    def start(self) -> None:
        join_s = self.wait_time_s + self.timeout_s
        self._start_polling(f"sqs-{self.function_name}", max(1, self.concurrency), join_s=join_s)

    def poll_once(self) -> int:
        """Receive one batch and process it; returns the number of messages received."""
        messages = self._receive()
        if messages:
            try:
                self.handle(messages)
            except Exception:
                # The whole batch returns to the queue after its visibility timeout, as on AWS.
                log.exception("function %s failed on a batch of %d", self.function_name, len(messages))
        return len(messages)

    def handle_next(self) -> Any:
        """Receive one batch and hand it to the function now (the in-process workflow): the
        function's answer, None when the queue is empty. Its exception propagates, and the batch
        returns to the queue after its visibility timeout."""
        messages = self._receive()
        return self.handle(messages) if messages else None

    def _receive(self) -> list[dict[str, Any]]:
        return self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            WaitTimeSeconds=self.wait_time_s,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])

    def handle(self, messages: list[dict[str, Any]]) -> Any:
        """Invoke the function with the batch; delete what it did not report as failed."""
        context = LambdaContext(function_name=self.function_name, timeout_s=self.timeout_s)
        result = self.handler(sqs_event(messages, self.queue_arn), context)
        keep = failed_ids(result, messages)
        done = [m for m in messages if m["MessageId"] not in keep]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        return result
