"""Queue shapes every unit of the stack uses the same way."""

from __future__ import annotations

from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambdas.common.contract import QueueConsumer

from .functions import FunctionKit, ServiceFunction
from .nag import acknowledge

DLQ_RETENTION = Duration.days(14)  # SQS's longest: time to look at what failed, then redrive


def dead_letter_queue(scope: Construct, construct_id: str, *, nag_reason: str | None = None) -> sqs.Queue:
    """An encrypted, TLS-only queue that keeps failed messages 14 days.

    `nag_reason`: why this queue has no DLQ of its own, for cdk-nag's AwsSolutions-SQS3, which
    recognises a queue as a DLQ only when another queue of the stack names it as one.
    """
    queue = sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        retention_period=DLQ_RETENTION,
    )
    if nag_reason:
        acknowledge(queue, "AwsSolutions-SQS3", nag_reason)
    return queue


def consumed_queue(
    scope: Construct, construct_id: str, consumer: QueueConsumer, dlq: sqs.IQueue, **props: Any
) -> sqs.Queue:
    """The queue a function consumes, timed as the contract says (lambdas/common/contract.py): a
    visibility timeout of six function timeouts, the DLQ after the consumer's max receives;
    SQS-managed encryption (no key policy for S3, SNS or EventBridge to satisfy), TLS only."""
    return sqs.Queue(
        scope,
        construct_id,
        encryption=sqs.QueueEncryption.SQS_MANAGED,
        enforce_ssl=True,
        visibility_timeout=Duration.seconds(consumer.visibility_timeout_s),
        dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=consumer.max_receives, queue=dlq),
        **props,
    )


def consume(function: lambda_.Function, queue: sqs.IQueue, consumer: QueueConsumer) -> None:
    """The event source mapping: batches as the contract sizes them, sent at once (no batching
    window), and partial batch failures, so only the records that failed come back."""
    function.add_event_source(
        event_sources.SqsEventSource(
            queue,
            batch_size=consumer.batch_size,
            max_batching_window=Duration.seconds(0),
            report_batch_item_failures=True,
        )
    )


def consumer_function(
    scope: Construct,
    construct_id: str,
    kit: FunctionKit,
    consumer: QueueConsumer,
    queue: sqs.IQueue,
    **props: Any,
) -> ServiceFunction:
    """The function that consumes `queue` (lambdas/<consumer.function>/), with the contract's
    timeout and event source mapping; `props`: its description, memory size."""
    function = ServiceFunction(
        scope, construct_id, kit=kit, name=consumer.function, timeout_s=consumer.function_timeout_s, **props
    )
    consume(function.function, queue, consumer)
    return function
