"""Audio uploads: the uploads bucket (browser POST), the uploads table, and the upload check
(S3 ObjectCreated -> SQS -> Lambda with a libsndfile layer) that decodes and measures each file.

Permissions that cross services, as AWS checks them:
- S3 -> SQS: the queue policy lets `s3.amazonaws.com` SendMessage only for this bucket
  (aws:SourceArn) and this account (aws:SourceAccount): QueueFromThisBucket below. The
  queue is encrypted with SQS-owned keys (SSE-SQS): S3 cannot use the AWS-managed `aws/sqs` KMS key,
  and SSE-SQS needs no key policy.
- SQS -> Lambda: the event source mapping polls with the function's role (ReceiveMessage,
  DeleteMessage, GetQueueAttributes on this queue, granted by CDK).
- Browser -> S3: a presigned POST is signed by the API's role, so that role needs s3:PutObject and
  s3:PutObjectTagging (the form sets the retention tag) on `uploads/*`; the stack grants them.
- Check -> analyzer: the check's role may lambda:InvokeFunction on exactly the analyzer's ARN (an
  identity policy suffices within one account); the analyzer's role may s3:GetObject under
  `uploads/` only, and s3:ListBucket on that prefix so an upload deleted meanwhile reads as missing
  (404) rather than denied (403). The bucket is SSE-S3: no key policy to grant.
"""

from __future__ import annotations

import jsii
from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from lambdas.common import contract
from lambdas.common.contract import UPLOAD_CHECK, UPLOADS_PREFIX

from .config import ServiceConfig
from .data import service_table
from .functions import FunctionKit, layer_dir, python_layer
from .grants import allow_items, allow_list, allow_objects
from .nag import acknowledge, logical_id
from .queues import consumed_queue, consumer_function, dead_letter_queue
from .removal import kept, kept_always
from .storage import private_bucket
from .transcription import ImageFunction

# Built by `make audio-layer` (part of `make install`) from layers/audio/requirements.txt.
AUDIO_LAYER_DIR = layer_dir("audio")
# The stack-level singleton CDK creates for bucket notifications (aws-s3 BucketNotificationsHandler).
NOTIFICATIONS_HANDLER_ID = "BucketNotificationsHandler050a0587b7544547bf325f094a3db834"


class Uploads(Construct):
    """Attributes: bucket, browser_origins, table, queue, dlq, check (ServiceFunction), layer,
    analyzer (ImageFunction)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ServiceConfig,
        access_logs_bucket: s3.IBucket,
        kit: FunctionKit,
        web_origin: str,
    ) -> None:
        super().__init__(scope, construct_id)
        retain = config.removal_policy_retain
        origins = [web_origin, *config.cors_allow_origins]
        stack = Stack.of(self)
        # A name known before the bucket exists: the web app's CSP must name the bucket's origin
        # while the bucket's CORS names the app's CloudFront domain, so the CSP cannot take the
        # bucket's own attributes (a cycle). Account and region keep it unique, as CDK's bootstrap
        # bucket names are; at most 57 characters (stage 16, region 14).
        name = f"song-{config.stage_name}-uploads-{stack.account}-{stack.region}"
        # Where boto3's presigned POST sends the browser: the global and the regional host.
        self.browser_origins = [
            f"https://{name}.s3.{stack.url_suffix}",
            f"https://{name}.s3.{stack.region}.{stack.url_suffix}",
        ]
        # The fixed name is why a failed first deploy must not leave the bucket behind: the next
        # deploy would fail with "already exists" (RetainExceptOnCreate, stacks/removal.py).
        self.bucket = self._bucket(config, access_logs_bucket, kept(retain), origins, name)
        # Rows of unused uploads go when their objects do (TTL); the per-user quota counts a
        # user's uploads on its by_user index.
        self.table = service_table(self, "Table", contract.UPLOADS, kept_always(retain))
        self._queues()
        decoder = "soundfile + numpy (libsndfile: WAV, MP3, FLAC, Ogg) for the upload check"
        self.layer = python_layer(self, "AudioLayer", "audio", decoder)
        description = "upload check: decode and measure uploaded tracks"
        self.check = consumer_function(
            self, "Check", kit, UPLOAD_CHECK, self.queue, description=description, memory_size=1024
        )
        self.check.function.add_layers(self.layer)
        allow_items(self.check.role, self.table, "dynamodb:GetItem", "dynamodb:UpdateItem")
        allow_objects(self.check.role, self.bucket, UPLOADS_PREFIX, "s3:GetObject", "s3:DeleteObject")
        # Without ListBucket S3 answers a missing key with 403, not 404: a file deleted before its
        # check ran would be retried into the DLQ instead of being recognised as gone.
        allow_list(self.check.role, self.bucket, UPLOADS_PREFIX)
        acknowledge(
            self.check.role,
            "AwsSolutions-IAM5",
            "Uploads are per user (uploads/{user_id}/{upload_id}), named at runtime; the check reads "
            "and deletes only objects under that prefix.",
            f"Resource::<{logical_id(self.bucket.node.default_child)}.Arn>/{UPLOADS_PREFIX}*",
        )
        self._analyzer(kit)

    def _analyzer(self, kit: FunctionKit) -> None:
        """Loudness, tempo and key of each accepted upload: a function of the transcriber's image
        (librosa and scipy do not fit a zip function), invoked by the check and nothing else."""
        self.analyzer = ImageFunction(
            self, "Analyzer", name=contract.UPLOAD_ANALYZER, log_retention=kit.log_retention
        )
        self.analyzer.allow_reading(self.bucket, UPLOADS_PREFIX)
        # Exactly the function (not its versions, `:*`, as CDK's grant_invoke would add).
        self.check.role.add_to_principal_policy(
            iam.PolicyStatement(
                actions=["lambda:InvokeFunction"], resources=[self.analyzer.function.function_arn]
            )
        )

    def _bucket(
        self,
        config: ServiceConfig,
        logs_bucket: s3.IBucket,
        removal: RemovalPolicy,
        origins: list[str],
        name: str,
    ) -> s3.Bucket:
        bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=name,
            **private_bucket(removal),
            server_access_logs_bucket=logs_bucket,
            server_access_logs_prefix="uploads/",
            lifecycle_rules=[
                # Uploads no processed song keeps: the form tags them `retention=unused`; a
                # processed song made from one re-tags it `used`, which this rule does not match,
                # and deleting the last such song tags it `unused` again.
                s3.LifecycleRule(
                    id="ExpireUnusedUploads",
                    prefix=UPLOADS_PREFIX,
                    tag_filters={contract.RETENTION_TAG_KEY: contract.UNUSED_TAG},
                    expiration=Duration.days(config.upload_expiry_days),
                ),
                s3.LifecycleRule(
                    id="AbortIncompleteUploads", abort_incomplete_multipart_upload_after=Duration.days(1)
                ),
            ],
            # Browsers POST the form straight to S3 (the response is not read: 204, no body): the
            # web app's origin and any other configured client origin. S3 refuses an empty list.
            cors=[
                s3.CorsRule(
                    allowed_methods=[s3.HttpMethods.POST],
                    allowed_origins=origins,
                    allowed_headers=["*"],
                    max_age=3600,
                )
            ],
        )
        return bucket

    def _queues(self) -> None:
        self.dlq = dead_letter_queue(
            self, "CheckDlq", nag_reason="This queue is the dead-letter queue of the upload check queue."
        )
        self.queue = consumed_queue(self, "CheckQueue", UPLOAD_CHECK, self.dlq)
        self.bucket.add_event_notification(
            s3.EventType.OBJECT_CREATED,
            QueueFromThisBucket(self.queue, self.bucket),
            s3.NotificationKeyFilter(prefix=UPLOADS_PREFIX),
        )
        # CDK writes bucket notifications through its own custom resource (a CloudFormation
        # notification on the bucket itself would need the queue policy before the bucket exists).
        handler = Stack.of(self).node.find_child(NOTIFICATIONS_HANDLER_ID)
        acknowledge(
            handler,
            "AwsSolutions-IAM4",
            "CDK's bucket-notifications custom resource: its role logs with the AWS basic execution "
            "policy; it runs only at deploy time to write this bucket's notification configuration.",
            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        )


@jsii.implements(s3.IBucketNotificationDestination)
class QueueFromThisBucket:
    """Like s3n.SqsDestination, with the account pinned too (bucket names are global: AWS's
    confused-deputy guidance is aws:SourceArn and aws:SourceAccount) and SendMessage only."""

    def __init__(self, queue: sqs.Queue, bucket: s3.Bucket) -> None:
        self.queue = queue
        self.bucket = bucket

    def bind(self, _scope: Construct, _bucket: object) -> s3.BucketNotificationDestinationConfig:
        arn = self.bucket.bucket_arn
        result = self.queue.add_to_resource_policy(
            iam.PolicyStatement(
                principals=[iam.ServicePrincipal("s3.amazonaws.com")],
                actions=["sqs:SendMessage"],
                resources=[self.queue.queue_arn],
                conditions={
                    "ArnEquals": {"aws:SourceArn": arn},
                    "StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID},
                },
            )
        )
        return s3.BucketNotificationDestinationConfig(
            arn=self.queue.queue_arn,
            type=s3.BucketNotificationDestinationType.QUEUE,
            dependencies=[result.policy_dependable] if result.policy_dependable else [],
        )
