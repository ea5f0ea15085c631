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
from aws_cdk import aws_lambda_event_sources as event_sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambdas.common.event_catalog import WEBHOOK_RULE_PATTERN
from lambdas.webhooks.schedule import (
    MAX_ATTEMPTS,
    WEBHOOK_QUEUE_VISIBILITY_S,
    WEBHOOK_SENDER_TIMEOUT_S,
)

from .config import ServiceConfig
from .data import DataStore
from .functions import ServiceFunction, layer_dir, python_layer
from .grants import allow_items
from .queues import dead_letter_queue

QUEUE_VISIBILITY = Duration.seconds(WEBHOOK_QUEUE_VISIBILITY_S)
# Longer than the whole retry schedule (about 28 h), so no message expires before its last try.
QUEUE_RETENTION = Duration.days(4)
# Built by `make webhooks-layer` (part of `make install`) from layers/webhooks/requirements.txt.
SIGNING_LAYER_DIR = layer_dir("webhooks")


class LifecycleEvents(Construct):
    """Attributes: bus, rule (webhooks), queue, dlq, sender (ServiceFunction), signing_layer."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ServiceConfig,
        data: DataStore,
        layer: lambda_.ILayerVersion,
        log_retention: logs.RetentionDays,
        environment: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self.bus = events.EventBus(self, "Bus", event_bus_name=f"{config.resource_prefix}-song-events")
        self.dlq = dead_letter_queue(self, "WebhookDlq")
        self.queue = sqs.Queue(
            self,
            "WebhookQueue",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            visibility_timeout=QUEUE_VISIBILITY,
            retention_period=QUEUE_RETENTION,
            # One receive per attempt: after the last one the next receive moves it to the DLQ.
            dead_letter_queue=sqs.DeadLetterQueue(queue=self.dlq, max_receive_count=MAX_ATTEMPTS),
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
        self.sender = ServiceFunction(
            self,
            "WebhookSender",
            handler="lambdas.webhook_sender.handler.lambda_handler",
            description="Delivers song lifecycle events to the songs' webhooks (Standard Webhooks)",
            layer=layer,
            environment=environment,
            log_retention=log_retention,
            timeout_s=WEBHOOK_SENDER_TIMEOUT_S,
            memory_size=256,
        )
        # The Standard Webhooks library signs the deliveries (lambdas/webhooks/signing.py); only
        # the sender imports it.
        self.signing_layer = python_layer(
            self, "SigningLayer", "webhooks", "standardwebhooks: signs webhook deliveries (Standard Webhooks)"
        )
        self.sender.function.add_layers(self.signing_layer)
        self.sender.function.add_event_source(
            event_sources.SqsEventSource(
                self.queue,
                batch_size=10,
                max_batching_window=Duration.seconds(0),
                report_batch_item_failures=True,
            )
        )
        # The job row: the webhook URL and the delivery records; the user row: the signing secret.
        allow_items(self.sender.role, data.jobs_table, "dynamodb:GetItem", "dynamodb:UpdateItem")
        # GetItem first (webhook_secret reads before it creates), UpdateItem for a first secret.
        allow_items(self.sender.role, data.users_table, "dynamodb:GetItem", "dynamodb:UpdateItem")

    def allow_emit(self, function: lambda_.Function) -> None:
        """Let `function` put lifecycle events on the bus (and tell it the bus's name)."""
        function.add_environment("EVENT_BUS_NAME", self.bus.event_bus_name)
        self.bus.grant_put_events_to(function)
