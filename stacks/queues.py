"""Queue shapes every unit of the stack uses the same way."""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_sqs as sqs
from constructs import Construct

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
