"""The stack's resources created against moto, for tests and the local stack.

Data and storage key schemas mirror stacks/data.py; tests/infra/test_local_parity.py fails when they
drift apart. Messaging (the SageMaker notification topics, the callback queue and its DLQ) and the
Cognito user pool mirror the workflow and API units.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lambdas.common import contract
from lambdas.common.contract import INFERENCE_CALLBACK, UPLOAD_CHECK, WEBHOOK_SENDER, QueueConsumer
from lambdas.common.event_catalog import WEBHOOK_RULE_PATTERN
from stacks.config import ServiceConfig

QUEUES = ("inference-callback", "upload-check", "webhooks")


def _named(suffix: str) -> property:
    return property(lambda names: f"{names.prefix}-{suffix}")


@dataclass(frozen=True)
class ResourceNames:
    """What the local stack calls the resources the CDK app creates (CloudFormation names most of
    them): `<prefix>-<what>`; the state machine, the bus and the endpoint as the stack names them."""

    prefix: str  # the config's resource_prefix
    endpoint: str  # the async endpoint's name, as deployed

    (
        jobs_table,
        users_table,
        idempotency_table,
        uploads_table,
        personas_table,
        api_keys_table,
        rate_limits_table,
    ) = (_named(t.name) for t in contract.TABLES)
    media_bucket, inference_bucket, uploads_bucket = (_named(b) for b in ("media", "inference", "uploads"))
    success_topic, error_topic = _named("inference-success"), _named("inference-error")
    # Each consumed queue with its dead-letter queue, `<queue>-dlq`.
    callback_queue, upload_check_queue, webhook_queue = (_named(q) for q in QUEUES)
    callback_dlq, upload_check_dlq, webhook_dlq = (_named(f"{q}-dlq") for q in QUEUES)
    user_pool, user_pool_client = _named("users"), _named("web")

    @classmethod
    def for_config(cls, config: ServiceConfig) -> ResourceNames:
        return cls(config.resource_prefix, config.endpoint_name)

    @property
    def state_machine(self) -> str:
        return contract.state_machine_name(self.prefix)

    @property
    def event_bus(self) -> str:
        return contract.event_bus_name(self.prefix)

    def function(self, name: str) -> str:
        """A function's name (`<prefix>-publish-song` for lambdas/publish_song): what Invoke and the
        permission check's records call it."""
        return f"{self.prefix}-{name.replace('_', '-')}"


def table_definitions(names: ResourceNames) -> list[dict[str, Any]]:
    """CreateTable requests for the contract's tables (on-demand, the same keys and indexes as the
    CDK app builds from it)."""
    return [_table_definition(spec, getattr(names, f"{spec.name}_table")) for spec in contract.TABLES]


def _table_definition(spec: contract.Table, name: str) -> dict[str, Any]:
    keys = dict.fromkeys(
        [spec.partition_key, *(key for i in spec.indexes for key in (i.partition_key, i.sort_key))]
    )
    definition: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [{"AttributeName": spec.partition_key, "KeyType": "HASH"}],
        "AttributeDefinitions": [{"AttributeName": key, "AttributeType": "S"} for key in keys],
        "BillingMode": "PAY_PER_REQUEST",
    }
    if spec.indexes:
        definition["GlobalSecondaryIndexes"] = [
            {
                "IndexName": index.name,
                "KeySchema": [
                    {"AttributeName": index.partition_key, "KeyType": "HASH"},
                    {"AttributeName": index.sort_key, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": "ALL"}
                if index.projected is None
                else {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(index.projected)},
            }
            for index in spec.indexes
        ]
    return definition


def create_data_and_storage(dynamodb: Any, s3: Any, names: ResourceNames) -> None:
    """Create tables (with TTL on the idempotency table) and buckets; boto3 clients in, nothing out."""
    for spec, definition in zip(contract.TABLES, table_definitions(names), strict=True):
        dynamodb.create_table(**definition)
        if spec.ttl_attribute:
            dynamodb.update_time_to_live(
                TableName=definition["TableName"],
                TimeToLiveSpecification={"Enabled": True, "AttributeName": spec.ttl_attribute},
            )
    for bucket in (names.media_bucket, names.inference_bucket, names.uploads_bucket):
        s3.create_bucket(Bucket=bucket)
    # Browsers POST upload forms straight to the bucket (stacks/uploads.py).
    s3.put_bucket_cors(
        Bucket=names.uploads_bucket,
        CORSConfiguration={
            "CORSRules": [{"AllowedMethods": ["POST"], "AllowedOrigins": ["*"], "AllowedHeaders": ["*"]}]
        },
    )


@dataclass(frozen=True)
class UploadCheckQueue:
    queue_url: str
    queue_arn: str
    dlq_url: str


def create_upload_check(s3: Any, sqs: Any, names: ResourceNames) -> UploadCheckQueue:
    """ObjectCreated on `uploads/` -> the check queue (with its DLQ), like the uploads unit.

    moto delivers the bucket's notifications to SQS itself (ObjectCreated:Post for a form upload),
    so the check is triggered by the same event as on AWS; configuring it sends S3's test event
    first, which the check skips as AWS's would.
    """
    queue_url, queue_arn, dlq_url, _ = _consumed_queue(sqs, names.upload_check_queue, UPLOAD_CHECK)
    s3.put_bucket_notification_configuration(
        Bucket=names.uploads_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": queue_arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {
                        "Key": {"FilterRules": [{"Name": "prefix", "Value": contract.UPLOADS_PREFIX}]}
                    },
                }
            ]
        },
    )
    return UploadCheckQueue(queue_url=queue_url, queue_arn=queue_arn, dlq_url=dlq_url)


@dataclass(frozen=True)
class Messaging:
    """ARNs and URLs of the SageMaker notification path: topics -> queue (-> DLQ)."""

    success_topic_arn: str
    error_topic_arn: str
    callback_queue_url: str
    callback_queue_arn: str
    callback_dlq_url: str
    callback_dlq_arn: str


def create_messaging(sns: Any, sqs: Any, names: ResourceNames) -> Messaging:
    """Success/error topics feeding one callback queue with a DLQ, like the endpoint unit: raw
    message delivery, so the queue holds SageMaker's notification JSON itself."""
    queue_url, queue_arn, dlq_url, dlq_arn = _consumed_queue(sqs, names.callback_queue, INFERENCE_CALLBACK)
    topics = [sns.create_topic(Name=name)["TopicArn"] for name in (names.success_topic, names.error_topic)]
    for topic_arn in topics:
        sns.subscribe(
            TopicArn=topic_arn, Protocol="sqs", Endpoint=queue_arn, Attributes={"RawMessageDelivery": "true"}
        )
    return Messaging(
        success_topic_arn=topics[0],
        error_topic_arn=topics[1],
        callback_queue_url=queue_url,
        callback_queue_arn=queue_arn,
        callback_dlq_url=dlq_url,
        callback_dlq_arn=dlq_arn,
    )


def _consumed_queue(sqs: Any, name: str, consumer: QueueConsumer) -> tuple[str, str, str, str]:
    """A queue with its DLQ (`<name>-dlq`), timed as the contract says: (url, arn, dlq url, dlq arn)."""
    dlq_url = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = _queue_arn(sqs, dlq_url)
    queue_url = sqs.create_queue(
        QueueName=name,
        Attributes={
            "VisibilityTimeout": str(consumer.visibility_timeout_s),
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": consumer.max_receives}
            ),
        },
    )["QueueUrl"]
    return queue_url, _queue_arn(sqs, queue_url), dlq_url, dlq_arn


def _queue_arn(sqs: Any, queue_url: str) -> str:
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return attrs["Attributes"]["QueueArn"]


@dataclass(frozen=True)
class LifecycleEvents:
    """The lifecycle bus and the webhook sender's queue (see stacks/webhooks.py)."""

    event_bus_name: str
    webhook_queue_url: str
    webhook_queue_arn: str
    webhook_dlq_url: str


def create_lifecycle_events(events: Any, sqs: Any, names: ResourceNames) -> LifecycleEvents:
    """Bus -> rule (songs with a webhook) -> queue with a DLQ after the last delivery attempt."""
    queue_url, queue_arn, dlq_url, _ = _consumed_queue(sqs, names.webhook_queue, WEBHOOK_SENDER)
    events.create_event_bus(Name=names.event_bus)
    rule = f"{names.event_bus}-webhooks"
    events.put_rule(Name=rule, EventBusName=names.event_bus, EventPattern=json.dumps(WEBHOOK_RULE_PATTERN))
    events.put_targets(
        Rule=rule, EventBusName=names.event_bus, Targets=[{"Id": "webhooks", "Arn": queue_arn}]
    )
    return LifecycleEvents(names.event_bus, queue_url, queue_arn, dlq_url)


@dataclass(frozen=True)
class UserPool:
    user_pool_id: str
    client_id: str


def create_user_pool(cognito: Any, names: ResourceNames) -> UserPool:
    """A pool with e-mail-free usernames and a public app client that allows USER_PASSWORD_AUTH."""
    pool_id = cognito.create_user_pool(
        PoolName=names.user_pool,
        Policies={"PasswordPolicy": {"MinimumLength": 12}},
    )["UserPool"]["Id"]
    client_id = cognito.create_user_pool_client(
        UserPoolId=pool_id,
        ClientName=names.user_pool_client,
        GenerateSecret=False,
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return UserPool(user_pool_id=pool_id, client_id=client_id)
