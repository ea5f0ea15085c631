"""The service stack: composes the logical units, wires the grants between them and gives every
function its environment (lambdas/common/contract.function_environment), all in one place."""

from __future__ import annotations

from functools import cached_property
from typing import Any

import jsii
from aws_cdk import Aws, CfnOutput, CfnResource, IStableStringProducer, Lazy, Stack, Tags
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from constructs import Construct

from lambdas.common import contract
from lambdas.common.contract import (
    API_KEYS_BY_USER,
    JOBS_BY_STATUS,
    JOBS_BY_USER,
    PERSONAS_BY_USER,
    PERSONAS_PREFIX,
    SCRATCH_MEDIA_PREFIX,
    SONGS_PREFIX,
    UPLOADS_BY_USER,
    UPLOADS_PREFIX,
)

from .api import SongApi
from .config import ServiceConfig
from .data import DataStore
from .functions import FunctionKit, ServiceFunction, powertools_layer
from .grants import allow_items, allow_list, allow_objects, allow_query
from .inference import InferenceEndpoint
from .monitoring import MonitoredResources, Monitoring
from .nag import acknowledge, logical_id, nag_env
from .queues import consume
from .storage import Storage
from .transcription import ImageFunction
from .uploads import Uploads
from .web import WebApp
from .webhooks import LifecycleEvents
from .workflow import GenerationWorkflow

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
        Tags.of(self).add("service", contract.SERVICE)
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

        self.inference = self._add_inference_endpoint()
        self.transcriber = ImageFunction(
            self, "Transcriber", name=contract.TRANSCRIBER, log_retention=self.log_retention
        )
        self.workflow = self._add_generation_workflow()
        self.connect_workflow_to_endpoint()
        # The API and the uploads bucket allow the web app's origin, and the app's CSP names the
        # API: each needs the other's generated name, so they take the origin lazily (resolved at
        # synthesis).
        web_origin = Lazy.string(_WebOrigin(self))
        self.uploads = Uploads(
            self,
            "Uploads",
            config=config,
            access_logs_bucket=self.storage.access_logs_bucket,
            kit=self.function_kit,
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
            kit=self.function_kit,
            web_origin=web_origin,
        )
        self.grant_api(self.api.function.role)
        self.grant_personas(self.api.function)
        self.grant_authorizer(self.api.authorizer_function.role)
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

        self.set_environments()
        self.monitoring = self._add_monitoring()

    @cached_property
    def function_kit(self) -> FunctionKit:
        """Created on first use so a stack without functions carries no dangling SSM parameter."""
        return FunctionKit(powertools_layer(self, self.config.powertools_layer_version), self.log_retention)

    @property
    def functions(self) -> dict[str, ServiceFunction]:
        """Every function of the stack, by its package under lambdas/ (the contract's function names)."""
        units = [
            self.api.function,
            self.api.authorizer_function,
            *self.workflow.functions,
            self.uploads.check,
            self.events.sender,
        ]
        return {function.name: function for function in units}

    def set_environments(self) -> None:
        """Each function gets exactly the variables its settings read (lambdas/common/settings.py),
        from the one builder the local stack uses too."""
        resources = contract.Resources(
            jobs_table=self.data.jobs_table.table_name,
            users_table=self.data.users_table.table_name,
            idempotency_table=self.data.idempotency_table.table_name,
            uploads_table=self.uploads.table.table_name,
            personas_table=self.data.personas_table.table_name,
            media_bucket=self.storage.media_bucket.bucket_name,
            inference_bucket=self.storage.inference_bucket.bucket_name,
            uploads_bucket=self.uploads.bucket.bucket_name,
            state_machine_arn=self.workflow.state_machine.state_machine_arn,
            endpoint_name=self.inference.endpoint_name,
            event_bus=self.events.bus.event_bus_name,
            api_origins=",".join(self.api.cors_origins),
            api_keys_table=self.data.api_keys_table.table_name,
            rate_limits_table=self.data.rate_limits_table.table_name,
            user_pool_issuer=self.api.user_pool.user_pool_provider_url,
            user_pool_client_id=self.api.user_pool_client.user_pool_client_id,
            upload_analyzer_function=self.uploads.analyzer.function.function_name,
        )
        values = contract.deployment_values(self.config, resources)
        for variable, value in contract.transcriber_environment(values).items():
            self.transcriber.function.add_environment(variable, value)
        for variable, value in contract.upload_analyzer_environment(values).items():
            self.uploads.analyzer.function.add_environment(variable, value)
        for name, function in self.functions.items():
            for variable, value in contract.function_environment(name, values).items():
                function.function.add_environment(variable, value)
            # The functions that announce a song's status (their settings name the bus) may put
            # events on it.
            if "event_bus_name" in contract.FUNCTION_SETTINGS[name].model_fields:
                self.events.allow_emit(function.function)

    def grant_api(self, role: iam.IRole) -> None:
        """Exactly what the API's code calls, on exactly the resources it touches."""
        jobs, users = self.data.jobs_table, self.data.users_table
        idempotency, media = self.data.idempotency_table, self.storage.media_bucket
        allow_items(
            role, jobs, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"
        )
        allow_query(role, jobs, JOBS_BY_USER.name)
        allow_query(role, jobs, JOBS_BY_STATUS.name)  # queue position and ETA of a queued song
        # Users are created by the API; it reserves a song's price (UpdateItem in the transaction
        # that writes the job) and releases it when the workflow cannot start. Credits themselves
        # change only in the workflow (capture).
        # UpdateItem also sets the webhook signing secret.
        allow_items(role, users, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem")
        # API keys: created and revoked in transactions with the user row's key count (the
        # transaction's items need the item actions themselves), listed from the by_user index.
        api_keys = self.data.api_keys_table
        allow_items(role, api_keys, "dynamodb:PutItem", "dynamodb:DeleteItem")
        allow_query(role, api_keys, API_KEYS_BY_USER.name)
        # The per-user rate limits: one bucket row per user and limit, updated conditionally and
        # read back when a request is refused (to say when to retry).
        allow_items(role, self.data.rate_limits_table, "dynamodb:UpdateItem", "dynamodb:GetItem")
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
        allow_query(role, uploads.table, UPLOADS_BY_USER.name)
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

    def grant_personas(self, api: ServiceFunction) -> None:
        """POST /personas cuts the reference clip in the API function (lambdas/api/services/
        reference_clip.py): it decodes the source with the upload check's audio layer, reads the
        source (an upload, or a song: songs/ is granted above), writes the clip under personas/ and
        signs its preview URL; GET lists the user's personas by the by_user index, DELETE removes
        the row and the clip. The endpoint reads the clip for every song sung with the persona."""
        role, media, table = api.role, self.storage.media_bucket, self.data.personas_table
        api.function.add_layers(self.uploads.layer)
        allow_items(role, table, "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem")
        allow_query(role, table, PERSONAS_BY_USER.name)
        allow_objects(role, media, PERSONAS_PREFIX, "s3:PutObject", "s3:GetObject", "s3:DeleteObject")
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Reference clips are per user and per persona (personas/{user_id}/{persona_id}/reference.wav), "
            "named at runtime; the API writes, signs and deletes only objects under that prefix.",
            f"Resource::<{logical_id(media.node.default_child)}.Arn>/{PERSONAS_PREFIX}*",
        )
        allow_objects(role, self.uploads.bucket, UPLOADS_PREFIX, "s3:GetObject")
        self.inference.grant_container_objects(media, PERSONAS_PREFIX, "s3:GetObject")

    def grant_authorizer(self, role: iam.IRole) -> None:
        """The authorizer reads a presented key's row and records its use (`last_used_at`, an
        UpdateItem conditioned on the row's existence); the JWKS is public (no grant)."""
        allow_items(role, self.data.api_keys_table, "dynamodb:GetItem", "dynamodb:UpdateItem")

    def grant_upload_retention(self) -> None:
        """A processed song keeps the upload it was made from: the finalize task adds the song to
        the upload's row (read, then update) and re-tags its object (lambdas/workflow/outcome.py)."""
        finalize = self.workflow.finalize
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
        inference = self.inference
        inference.grant_container_objects(self.uploads.bucket, UPLOADS_PREFIX, "s3:GetObject")
        inference.grant_container_objects(self.storage.media_bucket, SONGS_PREFIX, "s3:GetObject")
        # The transcriber reads the same sources (a transcribe song's upload or song, a stems song's
        # published tracks) and writes MIDI only under the jobs' scratch prefix.
        self.transcriber.allow_reading(self.uploads.bucket, UPLOADS_PREFIX)
        self.transcriber.allow_reading(self.storage.media_bucket, SONGS_PREFIX)
        self.transcriber.allow_writing(self.storage.inference_bucket, SCRATCH_MEDIA_PREFIX)

    # --- the endpoint and the generation workflow ---

    def _add_inference_endpoint(self) -> InferenceEndpoint:
        """The async SageMaker endpoint: model, endpoint, notification topics and queue, autoscaling."""
        inference = InferenceEndpoint(
            self,
            "Inference",
            config=self.config,
            inference_bucket=self.storage.inference_bucket,
            log_retention=self.log_retention,
        )
        # The endpoint was part of the workflow unit before it became one of its own: a named
        # endpoint (and its scaling target, whose ResourceId names it) cannot be replaced under the
        # same name, and a new logical id would make CloudFormation try. They keep their ids.
        inference.endpoint.override_logical_id("WorkflowInferenceEndpointD797FE20")
        scaling = inference.scalable_target.node.default_child
        assert isinstance(scaling, CfnResource)
        scaling.override_logical_id("WorkflowInferenceScaling4EED0693")
        CfnOutput(self, "EndpointName", value=inference.endpoint_name)
        return inference

    def _add_generation_workflow(self) -> GenerationWorkflow:
        """State machine, task functions, the callback and the reaper.

        The API starts `self.workflow.state_machine` (grant_start_execution + STATE_MACHINE_ARN).
        """
        workflow = GenerationWorkflow(
            self,
            "Workflow",
            config=self.config,
            data=self.data,
            media_bucket=self.storage.media_bucket,
            inference_bucket=self.storage.inference_bucket,
            transcriber=self.transcriber.function,
            kit=self.function_kit,
        )
        CfnOutput(self, "StateMachineArn", value=workflow.state_machine.state_machine_arn)
        return workflow

    def connect_workflow_to_endpoint(self) -> None:
        """Generate invokes the endpoint; SageMaker's notifications feed the callback."""
        start, endpoint = self.workflow.start_inference, self.inference
        start.role.add_to_principal_policy(
            iam.PolicyStatement(actions=["sagemaker:InvokeEndpointAsync"], resources=[endpoint.endpoint_arn])
        )
        # A new instance type is a new endpoint (its name changes): point the function at it only
        # once it exists, so no job is sent to a name that is not there yet.
        start.function.node.add_dependency(endpoint.endpoint)
        consume(self.workflow.callback.function, endpoint.notifications_queue, contract.INFERENCE_CALLBACK)

    # --- lifecycle events and webhooks (issue 13) ---

    def _add_lifecycle_events(self) -> LifecycleEvents:
        """The bus and the webhook sender; every function that changes a job's status emits."""
        bus_name = contract.event_bus_name(self.config.resource_prefix)
        lifecycle = LifecycleEvents(self, "Events", bus_name=bus_name, kit=self.function_kit)
        sender = lifecycle.sender.role
        # The job row: the webhook URL and the delivery records; the user row: the signing secret
        # (GetItem first: webhook_secret reads before it creates; UpdateItem for a first secret).
        allow_items(sender, self.data.jobs_table, "dynamodb:GetItem", "dynamodb:UpdateItem")
        allow_items(sender, self.data.users_table, "dynamodb:GetItem", "dynamodb:UpdateItem")
        CfnOutput(self, "EventBusName", value=lifecycle.bus.event_bus_name)
        return lifecycle

    # --- operations (issue 7) ---

    def _add_monitoring(self) -> Monitoring:
        inference = self.inference
        resources = MonitoredResources(
            stage_name=self.config.stage_name,
            namespace=self.config.metrics_namespace,
            api=self.api.api,
            state_machine=self.workflow.state_machine,
            endpoint_name=inference.endpoint_name,
            variant_name=contract.VARIANT_NAME,
            callback_queue=inference.notifications_queue,
            dead_letter_queues={
                "Notifications": inference.notifications_dlq,
                "Reaper": self.workflow.reaper_dlq,
                "UploadCheck": self.uploads.dlq,
                "Webhooks": self.events.dlq,
            },
            # The zip functions and the image's: an analyzer that keeps failing leaves every upload
            # without its analysis, which no request would report.
            functions={name: function.function for name, function in self.functions.items()}
            | {image.name: image.function for image in (self.transcriber, self.uploads.analyzer)},
            tables={
                "jobs": self.data.jobs_table,
                "users": self.data.users_table,
                "idempotency": self.data.idempotency_table,
                "uploads": self.uploads.table,
                "personas": self.data.personas_table,
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
