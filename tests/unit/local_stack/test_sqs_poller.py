"""The poller plays Lambda's SQS event source mapping: batches, partial failures, redrive to the DLQ."""

from __future__ import annotations

import json
from typing import Any

import pytest

from local.sqs_poller import SqsPoller, failed_ids


@pytest.fixture
def queue(emulator, request):
    """A queue with a 1 s visibility timeout and a DLQ after 2 receives."""
    sqs = emulator.client("sqs")
    base = request.node.name.replace("[", "-").replace("]", "")[:60]
    dlq_url = sqs.create_queue(QueueName=f"{base}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    url = sqs.create_queue(
        QueueName=base,
        Attributes={
            "VisibilityTimeout": "1",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}),
        },
    )["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return sqs, url, arn, dlq_url


def _bodies(sqs: Any, url: str) -> list[str]:
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
        "Messages", []
    )
    return sorted(m["Body"] for m in messages)


def _drain(poller: SqsPoller, rounds: int) -> None:
    for _ in range(rounds):
        poller.poll_once()


def test_event_shape_and_partial_batch_failure_goes_to_dlq(queue) -> None:
    sqs, url, arn, dlq_url = queue
    for body in ("good-1", "bad", "good-2"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        assert context.function_name == "callback"
        failures = [r["messageId"] for r in event["Records"] if r["body"] == "bad"]
        return {"batchItemFailures": [{"itemIdentifier": i} for i in failures]}

    poller = SqsPoller(sqs, url, arn, handler, "callback", wait_time_s=2)
    _drain(poller, 4)  # first batch, then "bad" again after its visibility timeout, then redriven

    record = seen[0]["Records"][0]
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"] == arn
    assert {"messageId", "receiptHandle", "body", "attributes", "md5OfBody"} <= set(record)
    delivered = [r["body"] for e in seen for r in e["Records"]]
    assert delivered.count("bad") == 2 and delivered.count("good-1") == 1
    assert _bodies(sqs, dlq_url) == ["bad"]
    assert _bodies(sqs, url) == []


def test_a_raising_handler_leaves_the_whole_batch(queue) -> None:
    sqs, url, arn, _ = queue
    sqs.send_message(QueueUrl=url, MessageBody="one")
    calls = []

    def handler(event: dict[str, Any], context: Any) -> None:
        calls.append(len(event["Records"]))
        if len(calls) == 1:
            raise RuntimeError("transient")

    poller = SqsPoller(sqs, url, arn, handler, "callback", wait_time_s=2)
    _drain(poller, 2)
    assert calls == [1, 1]  # redelivered after the visibility timeout, then deleted
    assert _bodies(sqs, url) == []


def test_failed_ids_rules() -> None:
    messages = [{"MessageId": "a"}, {"MessageId": "b"}]
    assert failed_ids(None, messages) == set()
    assert failed_ids({"batchItemFailures": []}, messages) == set()
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "b"}]}, messages) == {"b"}
    # An identifier Lambda does not know fails the whole batch, as does a malformed response.
    assert failed_ids({"batchItemFailures": [{"itemIdentifier": "zzz"}]}, messages) == {"a", "b"}
    assert failed_ids({"batchItemFailures": [{}]}, messages) == {"a", "b"}


def test_concurrent_batches_let_messages_pass_a_slow_one(queue) -> None:
    """As Lambda's mapping runs several batches at once: a batch stuck on a slow receiver does not
    hold up a message sent after it."""
    import threading
    import time

    sqs, url, arn, _ = queue
    release = threading.Event()
    handled: list[str] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        for record in event["Records"]:
            if record["body"] == "slow":
                release.wait(10)
            handled.append(record["body"])
        return {"batchItemFailures": []}

    poller = SqsPoller(sqs, url, arn, handler, "webhooks", batch_size=1, wait_time_s=1, concurrency=3)
    poller.start()
    try:
        sqs.send_message(QueueUrl=url, MessageBody="slow")
        time.sleep(0.5)
        sqs.send_message(QueueUrl=url, MessageBody="fast")
        deadline = time.monotonic() + 5
        while "fast" not in handled and time.monotonic() < deadline:
            time.sleep(0.05)
        assert handled == ["fast"]  # while "slow" still waits
    finally:
        release.set()
        poller.stop()
    assert set(handled) == {"fast", "slow"}
