"""The service stack: composes the logical units and wires the grants between them."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import jsii
from aws_cdk import Aws, CfnOutput, IStableStringProducer, Lazy, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from .api import SongApi
from .config import ServiceConfig
from .data import BY_STATUS_INDEX, BY_USER_INDEX, DataStore
from .functions import powertools_layer
from .grants import allow_items, allow_list, allow_objects, allow_query
from .inference import VARIANT_NAME
from .monitoring import MonitoredResources, Monitoring
from .nag import acknowledge, logical_id, nag_env
from .storage import Storage
from .uploads import UPLOADS_BY_USER_INDEX, UPLOADS_PREFIX, Uploads
from .web import WebApp
from .webhooks import LifecycleEvents
from .workflow import SONGS_PREFIX, GenerationWorkflow

# The retention periods offered in `log_retention_days` (config validates against these keys).
LOG_RETENTION = {
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    90: logs.RetentionDays.THREE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    731: logs.RetentionDays.TWO_YEARS,
}


class SongServiceStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: ServiceConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = config
        Tags.of(self).add("service", "song-service")
        Tags.of(self).add("stage", config.stage_name)

        retain = config.removal_policy_retain
        self.data = DataStore(self, "Data", retain=retain)
        # Media CORS stays open: presigned GETs carry their own signature, and the web app's
        # <audio>/<img> (no-cors requests) do not need it.
        self.storage = Storage(self, "Storage", retain=retain)
        self.log_retention = LOG_RETENTION[config.log_retention_days]

        CfnOutput(self, "JobsTableName", value=self.data.jobs_table.table_name)
        CfnOutput(self, "UsersTableName", value=self.data.users_table.table_name)
        CfnOutput(self, "MediaBucketName", value=self.storage.media_bucket.bucket_name)
        CfnOutput(self, "InferenceBucketName", value=self.storage.inference_bucket.bucket_name)

        self.workflow = self._add_generation_workflow()
        # The API and the uploads bucket allow the web app's origin, and the app's CSP names the
        # API: each needs the other's generated name, so they take the origin lazily (resolved at
        # synthesis).
        web_origin = Lazy.string(_WebOrigin(self))
        self.uploads = Uploads(
            self,
            "Uploads",
            config=config,
            access_logs_bucket=self.storage.access_logs_bucket,
            layer=self.powertools_layer,
            log_retention=self.log_retention,
            environment=self.function_environment(),
            web_origin=web_origin,
        )
        self.grant_source_reads()
        self.grant_upload_retention()
        CfnOutput(self, "UploadsBucketName", value=self.uploads.bucket.bucket_name)
        CfnOutput(self, "UploadsTableName", value=self.uploads.table.table_name)

        self.api = SongApi(
            self,
            "Api",
            config=config,
            layer=self.powertools_layer,
            environment=self.api_environment(),
            log_retention=self.log_retention,
            state_machine=self.workflow.state_machine,
            web_origin=web_origin,
        )
        self.grant_api(self.api.function.role)
        self.web = WebApp(
            self,
            "Web",
            api=self.api.api,
            user_pool=self.api.user_pool,
            user_pool_client=self.api.user_pool_client,
            media_bucket=self.storage.media_bucket,
            upload_origins=self.uploads.browser_origins,
            logs_bucket=self.storage.access_logs_bucket,
        )
        CfnOutput(self, "WebUrl", value=f"{self.web.origin}/")
        self.events = self._add_lifecycle_events()
        CfnOutput(self, "ApiUrl", value=self.api.api.url)
        CfnOutput(self, "UserPoolId", value=self.api.user_pool.user_pool_id)
        CfnOutput(self, "UserPoolClientId", value=self.api.user_pool_client.user_pool_client_id)

        self.monitoring = self._add_monitoring()

    @cached_property
    def powertools_layer(self) -> lambda_.ILayerVersion:
        """Created on first use so a stack without functions carries no dangling SSM parameter."""
        return powertools_layer(self, self.config.powertools_layer_version)

    def function_environment(self) -> dict[str, str]:
        """Environment every function shares: names, business settings, Powertools settings."""
        config = self.config
        return {
            "STAGE_NAME": config.stage_name,
            "POWERTOOLS_SERVICE_NAME": "song-service",
            "POWERTOOLS_METRICS_NAMESPACE": config.metrics_namespace,
            "POWERTOOLS_LOG_LEVEL": "INFO",
            "JOBS_TABLE_NAME": self.data.jobs_table.table_name,
            "USERS_TABLE_NAME": self.data.users_table.table_name,
            "SIGNUP_CREDITS": str(config.signup_credits),
            "CREDITS_PER_MINUTE": str(config.credits_per_minute),
            "MAX_CONCURRENT_JOBS_PER_USER": str(config.max_concurrent_jobs_per_user),
            "UPLOAD_MAX_MB": str(config.upload_max_mb),
            "UPLOAD_MAX_DURATION_SECONDS": str(config.upload_max_duration_s),
            "UPLOAD_EXPIRY_DAYS": str(config.upload_expiry_days),
            "UPLOAD_MAX_PENDING": str(config.upload_max_pending),
            "UPLOAD_MAX_STORED": str(config.upload_max_stored),
            "STEMS_ENABLED": str(config.stems_enabled).lower(),
            "GPU_PARALLELISM": str(
                config.endpoint_max_instances * config.max_concurrent_invocations_per_instance
            ),
        }

    def api_environment(self) -> dict[str, str]:
        return {
            **self.function_environment(),
            "IDEMPOTENCY_TABLE_NAME": self.data.idempotency_table.table_name,
            "MEDIA_BUCKET_NAME": self.storage.media_bucket.bucket_name,
            **self.uploads.environment(),
        }

    def grant_api(self, role: iam.IRole) -> None:
        """Exactly what the API's code calls, on exactly the resources it touches."""
        jobs, users = self.data.jobs_table, self.data.users_table
        idempotency, media = self.data.idempotency_table, self.storage.media_bucket
        allow_items(
            role, jobs, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
        )
        allow_query(role, jobs, BY_USER_INDEX)
        allow_query(role, jobs, BY_STATUS_INDEX)  # queue position and ETA of a queued song
        # Users are created by the API; it reserves a song's price (UpdateItem in the transaction
        # that writes the job) and releases it when the workflow cannot start. Credits themselves
        # change only in the workflow (capture).
        # UpdateItem also sets the webhook signing secret.
        allow_items(role, users, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        allow_items(
            role,
            idempotency,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )
        # Presigned downloads are signed with this role: it needs GetObject itself.
        allow_objects(role, media, SONGS_PREFIX, "s3:GetObject", "s3:DeleteObject")
        allow_list(role, media, SONGS_PREFIX)
        self.workflow.state_machine.grant_start_execution(role)
        # Cancel stops the job's execution; executions are named after jobs, known only at runtime.
        # Spelled out (not format_arn) so the cdk-nag finding names the same string whether or not
        # the app enables partition literals (as stacks/inference.py does).
        name = self.workflow.state_machine_name
        _, region, account = nag_env(self)
        executions = f"arn:{Aws.PARTITION}:states:{self.region}:{self.account}:execution:{name}:*"
        role.add_to_principal_policy(
            iam.PolicyStatement(actions=["states:StopExecution"], resources=[executions])
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Cancel stops the execution of one job; executions are named after jobs (runtime ids), so the "
            "grant covers this state machine's executions and no other.",
            f"Resource::arn:<AWS::Partition>:states:{region}:{account}:execution:{name}:*",
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Media objects are per user and per job (songs/{user_id}/{job_id}/...), named at runtime; "
            "the API signs downloads for and deletes only objects under that prefix.",
            f"Resource::<{logical_id(media.node.default_child)}.Arn>/songs/*",
        )
        # Uploads: rows written and read by the API; the presigned POST is signed with this role, so
        # it needs PutObject (and PutObjectTagging: the form sets the retention tag, which using the
        # upload in a song changes).
        # DELETE /uploads removes the row and the object; the per-user quota queries the by_user
        # index.
        uploads = self.uploads
        allow_items(
            role,
            uploads.table,
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:DeleteItem",
        )
        allow_query(role, uploads.table, UPLOADS_BY_USER_INDEX)
        allow_objects(
            role, uploads.bucket, UPLOADS_PREFIX, "s3:PutObject", "s3:PutObjectTagging", "s3:DeleteObject"
        )
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Uploads are per user (uploads/{user_id}/{upload_id}), named at runtime; the API signs "
            "upload forms for, re-tags and deletes only objects under that prefix.",
            f"Resource::<{logical_id(uploads.bucket.node.default_child)}.Arn>/{UPLOADS_PREFIX}*",
        )

    def grant_upload_retention(self) -> None:
        """A processed song keeps the upload it was made from: the finalize task adds the song to
        the upload's row (read, then update) and re-tags its object (lambdas/workflow/outcome.py)."""
        finalize = self.workflow.finalize
        for name, value in self.uploads.environment().items():
            finalize.function.add_environment(name, value)
        allow_items(finalize.role, self.uploads.table, "dynamodb:GetItem", "dynamodb:UpdateItem")
        allow_objects(finalize.role, self.uploads.bucket, UPLOADS_PREFIX, "s3:PutObjectTagging")
        acknowledge(
            finalize.role,
            "AwsSolutions-IAM5",
            "Uploads are per user (uploads/{user_id}/{upload_id}), named at runtime; the finalize task "
            "re-tags only objects under that prefix (the upload a processed song was made from).",
            f"Resource::<{logical_id(self.uploads.bucket.node.default_child)}.Arn>/{UPLOADS_PREFIX}*",
        )

    def grant_source_reads(self) -> None:
        """The endpoint reads audio-in sources itself: uploads and published songs, read-only (IAM,
        and the model VPC's S3 endpoint policy: the container reaches S3 only through it)."""
        inference = self.workflow.inference
        inference.grant_container_objects(self.uploads.bucket, UPLOADS_PREFIX, "s3:GetObject")
        inference.grant_container_objects(self.storage.media_bucket, SONGS_PREFIX, "s3:GetObject")

    # --- generation workflow (issue 4) ---

    def _add_generation_workflow(self) -> GenerationWorkflow:
        """State machine, task functions, async SageMaker endpoint, notifications, reaper.

        The API starts `self.workflow.state_machine` (grant_start_execution + STATE_MACHINE_ARN).
        """
        workflow = GenerationWorkflow(
            self,
            "Workflow",
            config=self.config,
            data=self.data,
            media_bucket=self.storage.media_bucket,
            inference_bucket=self.storage.inference_bucket,
            layer=self.powertools_layer,
            log_retention=self.log_retention,
            environment=self.function_environment(),
        )
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        CfnOutput(self, "EndpointName", value=workflow.inference.endpoint_name)
        return workflow

    # --- lifecycle events and webhooks (issue 13) ---

    def _add_lifecycle_events(self) -> LifecycleEvents:
        """The bus and the webhook sender; every function that changes a job's status emits."""
        lifecycle = LifecycleEvents(
            self,
            "Events",
            config=self.config,
            data=self.data,
            layer=self.powertools_layer,
            log_retention=self.log_retention,
            environment=self.function_environment(),
        )
        emitters = [self.api.function.function]
        emitters += [self.workflow.functions[name] for name in ("start_inference", "finalize", "reaper")]
        for function in emitters:
            lifecycle.allow_emit(function)
        CfnOutput(self, "EventBusName", value=lifecycle.bus.event_bus_name)
        return lifecycle

    # --- operations (issue 7) ---

    def _add_monitoring(self) -> Monitoring:
        inference = self.workflow.inference
        resources = MonitoredResources(
            stage_name=self.config.stage_name,
            namespace=self.config.metrics_namespace,
            api=self.api.api,
            state_machine=self.workflow.state_machine,
            endpoint_name=inference.endpoint_name,
            variant_name=VARIANT_NAME,
            callback_queue=inference.notifications_queue,
            dead_letter_queues={
                "Notifications": inference.notifications_dlq,
                "Reaper": self.workflow.reaper_dlq,
                "UploadCheck": self.uploads.dlq,
                "Webhooks": self.events.dlq,
            },
            functions={
                "api": self.api.function.function,
                **self.workflow.functions,
                "upload_check": self.uploads.check.function,
                "webhook_sender": self.events.sender.function,
            },
            tables={
                "jobs": self.data.jobs_table,
                "users": self.data.users_table,
                "idempotency": self.data.idempotency_table,
                "uploads": self.uploads.table,
            },
            endpoint_hourly_usd=self.config.endpoint_hourly_usd,
        )
        monitoring = Monitoring(self, "Monitoring", resources=resources, alarm_email=self.config.alarm_email)
        CfnOutput(self, "DashboardName", value=monitoring.dashboard.dashboard_name)
        CfnOutput(self, "AlarmTopicArn", value=monitoring.alarm_topic.topic_arn)
        return monitoring


@jsii.implements(IStableStringProducer)
class _WebOrigin:
    def __init__(self, stack: SongServiceStack) -> None:
        self._stack = stack

    def produce(self) -> str:
        return self._stack.web.origin
