"""Song lifecycle events and their webhook consumer.

An EventBridge bus of the stack carries `song.processing|processed|failed|canceled` (emitted by
lambdas/common/lifecycle.py); internal consumers add rules to it. The webhook sender is one of
them: a rule for events of songs that have a `webhook_url` -> an SQS queue (+ DLQ) -> the sender
Lambda (partial batch failures; each message is retried on its own schedule by changing its
visibility timeout, about a day in all, then it lands in the DLQ).

Permissions: the emitters get events:PutEvents on this bus only; the queue's policy lets
events.amazonaws.com send only for this rule (aws:SourceArn). The queues use SQS-managed
encryption (SSE-SQS), so no KMS key policy is involved in the EventBridge delivery.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from lambdas.common.contract import WEBHOOK_SENDER
from lambdas.common.event_catalog import WEBHOOK_RULE_PATTERN

from .functions import FunctionKit, layer_dir, python_layer
from .queues import consumed_queue, consumer_function, dead_letter_queue

# Longer than the whole retry schedule (about 28 h), so no message expires before its last try.
QUEUE_RETENTION = Duration.days(4)
# Built by `make webhooks-layer` (part of `make install`) from layers/webhooks/requirements.txt.
SIGNING_LAYER_DIR = layer_dir("webhooks")


class LifecycleEvents(Construct):
    """Attributes: bus, rule (webhooks), queue, dlq, sender (ServiceFunction), signing_layer."""

    def __init__(self, scope: Construct, construct_id: str, *, bus_name: str, kit: FunctionKit) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=bus_name)
        self.dlq = dead_letter_queue(self, "WebhookDlq")
        # One receive per attempt: after the last one the next receive moves it to the DLQ.
        self.queue = consumed_queue(
            self, "WebhookQueue", WEBHOOK_SENDER, self.dlq, retention_period=QUEUE_RETENTION
        )
        self.rule = events.Rule(
            self,
            "WebhookEvents",
            description="Lifecycle events of songs that asked for a webhook -> the webhook sender",
            event_bus=self.bus,
            event_pattern=events.EventPattern(
                source=WEBHOOK_RULE_PATTERN["source"],
                detail_type=WEBHOOK_RULE_PATTERN["detail-type"],
                detail=WEBHOOK_RULE_PATTERN["detail"],
            ),
            # Adds the queue policy: events.amazonaws.com may SendMessage for this rule only; an
            # event EventBridge cannot deliver goes to the DLQ (alarmed) instead of being dropped.
            targets=[targets.SqsQueue(self.queue, dead_letter_queue=self.dlq)],
        )
        description = "Delivers song lifecycle events to the songs' webhooks (Standard Webhooks)"
        self.sender = consumer_function(
            self, "WebhookSender", kit, WEBHOOK_SENDER, self.queue, description=description, memory_size=256
        )
        # The Standard Webhooks library signs the deliveries (lambdas/webhooks/signing.py); only
        # the sender imports it.
        self.signing_layer = python_layer(
            self, "SigningLayer", "webhooks", "standardwebhooks: signs webhook deliveries (Standard Webhooks)"
        )
        self.sender.function.add_layers(self.signing_layer)

    def allow_emit(self, function: lambda_.Function) -> None:
        """Let `function` put lifecycle events on the bus."""
        self.bus.grant_put_events_to(function)
