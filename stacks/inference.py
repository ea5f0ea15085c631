"""The async SageMaker endpoint: model, endpoint config, endpoint, notification topics -> queue,
and autoscaling between 0 and N instances."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, Stack, Token
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from .config import ServiceConfig
from .grants import allow_list, allow_objects
from .nag import acknowledge, logical_id

CONTAINER_DIR = Path(__file__).resolve().parent.parent / "sagemaker_containers" / "music"
VARIANT_NAME = "AllTraffic"
# Prefixes of the inference (scratch) bucket; lambdas/common/inference.py uses the same ones.
REQUEST_PREFIX = "requests/"
MEDIA_PREFIX = "media/"
OUTPUT_PREFIX = "async-output/"
FAILURE_PREFIX = "async-failures/"
# Target backlog per instance for target tracking: one song in flight per GPU and one waiting.
TARGET_BACKLOG_PER_INSTANCE = 2.0


class InferenceEndpoint(Construct):
    """Attributes: endpoint_name, endpoint_arn, success_topic, error_topic, notifications_queue,
    notifications_dlq, topics_key, execution_role, image, scalable_target."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ServiceConfig,
        inference_bucket: s3.IBucket,
        callback_timeout: Duration,
    ) -> None:
        super().__init__(scope, construct_id)
        self.endpoint_name = f"{config.resource_prefix}-music"
        self.endpoint_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=self.endpoint_name
        )
        self._notifications(config, callback_timeout)
        self.execution_role = self._execution_role(config, inference_bucket)
        self.image = ecr_assets.DockerImageAsset(
            self, "Image", directory=str(CONTAINER_DIR), platform=ecr_assets.Platform.LINUX_AMD64
        )
        self.image.repository.grant_pull(self.execution_role)
        self._endpoint(config, inference_bucket)
        self._autoscaling(config)

    # --- SNS success/error topics -> one SQS queue (+ DLQ) consumed by inference_callback ---

    def _notifications(self, config: ServiceConfig, callback_timeout: Duration) -> None:
        self.topics_key = kms.Key(
            self,
            "TopicsKey",
            enable_key_rotation=True,
            description="Encrypts the SageMaker async notification topics",
        )
        self.success_topic = self._topic("SuccessTopic", "SageMaker async inference succeeded")
        self.error_topic = self._topic("ErrorTopic", "SageMaker async inference failed")
        self.notifications_dlq = sqs.Queue(
            self,
            "NotificationsDlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=Duration.days(14),
        )
        self.notifications_queue = sqs.Queue(
            self,
            "Notifications",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            # AWS's guidance for Lambda event sources: at least 6x the function timeout.
            visibility_timeout=Duration.seconds(callback_timeout.to_seconds() * 6),
            dead_letter_queue=sqs.DeadLetterQueue(max_receive_count=5, queue=self.notifications_dlq),
        )
        for topic in (self.success_topic, self.error_topic):
            topic.add_subscription(
                subscriptions.SqsSubscription(self.notifications_queue, raw_message_delivery=True)
            )

    def _topic(self, construct_id: str, display_name: str) -> sns.Topic:
        return sns.Topic(
            self, construct_id, display_name=display_name, master_key=self.topics_key, enforce_ssl=True
        )

    # --- the model's execution role: only what the container and SageMaker need ---

    def _execution_role(self, config: ServiceConfig, bucket: s3.IBucket) -> iam.Role:
        role = iam.Role(
            self,
            "ExecutionRole",
            assumed_by=iam.ServicePrincipal("sagemaker.amazonaws.com"),
            description="SageMaker runs the music model: reads requests and weights, writes media, results",
        )
        for prefix, action in (
            (REQUEST_PREFIX, "s3:GetObject"),
            (MEDIA_PREFIX, "s3:PutObject"),
            (OUTPUT_PREFIX, "s3:PutObject"),
            (FAILURE_PREFIX, "s3:PutObject"),
        ):
            role.add_to_policy(
                iam.PolicyStatement(actions=[action], resources=[bucket.arn_for_objects(f"{prefix}*")])
            )
        if config.model_data_s3_uri:
            self._grant_model_data(role, config.model_data_s3_uri)
        self.success_topic.grant_publish(role)
        self.error_topic.grant_publish(role)
        log_group = f"/aws/sagemaker/Endpoints/{self.endpoint_name}"
        # Spelled out (not format_arn) so the cdk-nag finding below names the same string
        # whether or not the app enables partition literals.
        stack = Stack.of(self)
        region = "<AWS::Region>" if Token.is_unresolved(stack.region) else stack.region
        account = "<AWS::AccountId>" if Token.is_unresolved(stack.account) else stack.account
        log_streams_arn = f"arn:{Aws.PARTITION}:logs:{stack.region}:{stack.account}:log-group:{log_group}:*"
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[log_streams_arn],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            )
        )
        bucket_id = logical_id(bucket.node.default_child)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Object access limited to the scratch bucket's prefixes the endpoint owns; log streams of "
            "the endpoint's own log group (created by SageMaker at runtime); cloudwatch:PutMetricData and "
            "ecr:GetAuthorizationToken support no resource-level permissions (the former is limited by a "
            "namespace condition); kms:GenerateDataKey* is CDK's grant for publishing to the encrypted "
            "topics, on their key only.",
            *(
                f"Resource::<{bucket_id}.Arn>/{prefix}*"
                for prefix in (REQUEST_PREFIX, MEDIA_PREFIX, OUTPUT_PREFIX, FAILURE_PREFIX)
            ),
            f"Resource::arn:<AWS::Partition>:logs:{region}:{account}:log-group:{log_group}:*",
            "Resource::*",
            "Action::kms:GenerateDataKey*",
        )
        return role

    # --- model, endpoint config (async), endpoint ---

    def _grant_model_data(self, role: iam.Role, uri: str) -> None:
        """Read-only access to the staged weights: that prefix of that bucket, nothing else."""
        bucket_name, _, key = uri.removeprefix("s3://").partition("/")
        prefix = key if key.endswith("/") else f"{key}/"
        bucket = s3.Bucket.from_bucket_name(self, "ModelData", bucket_name)
        allow_objects(role, bucket, prefix, "s3:GetObject")
        allow_list(role, bucket, prefix)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "SageMaker copies every file under the staged model-data prefix; the file names are "
            "the models' own.",
            f"Resource::arn:<AWS::Partition>:s3:::{bucket_name}/{prefix}*",
        )

    @staticmethod
    def _model_data_source(uri: str | None) -> sagemaker.CfnModel.ModelDataSourceProperty | None:
        if not uri:
            return None
        return sagemaker.CfnModel.ModelDataSourceProperty(
            s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                s3_uri=uri if uri.endswith("/") else f"{uri}/",
                s3_data_type="S3Prefix",
                compression_type="None",
            )
        )

    def _endpoint(self, config: ServiceConfig, bucket: s3.IBucket) -> None:
        environment = {
            "MODEL_PROFILE": "full",
            "MUSIC_ENGINE": config.music_engine,
            "LLM_MODEL_ID": config.llm_model_id,
            "MUSIC_MODEL_ID": config.acestep_model_id,
            "MUSICGEN_MODEL_ID": config.musicgen_model_id,
            "IMAGE_MODEL_ID": config.image_model_id,
            # Stems load the base checkpoint beside turbo (GPU memory: docs/container.md).
            "STEMS_ENABLED": str(config.stems_enabled).lower(),
        }
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=self.execution_role.role_arn,
            primary_container=sagemaker.CfnModel.ContainerDefinitionProperty(
                image=self.image.image_uri,
                environment=environment,
                # Weights staged by `song_model.stage_weights` as an uncompressed S3 prefix, which
                # SageMaker copies to /opt/ml/model (no multi-GB tarball to unpack on every
                # scale-out); without it the container loads the hub ids.
                model_data_source=self._model_data_source(config.model_data_s3_uri),
            ),
        )
        # The role's policy must exist before SageMaker validates the image and model data.
        policy = self.execution_role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            self.model.node.add_dependency(policy)
        self.endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "EndpointConfig",
            production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name=VARIANT_NAME,
                    model_name=self.model.attr_model_name,
                    instance_type=config.endpoint_instance_type,
                    # An endpoint is created with at least one instance; autoscaling takes it to
                    # the configured minimum (0) once there is no backlog.
                    initial_instance_count=max(1, config.endpoint_min_instances),
                    initial_variant_weight=1.0,
                    # Large images and weights: give the container time to load the models.
                    container_startup_health_check_timeout_in_seconds=1800,
                    model_data_download_timeout_in_seconds=1800,
                )
            ],
            async_inference_config=sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=config.max_concurrent_invocations_per_instance
                ),
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=bucket.s3_url_for_object(OUTPUT_PREFIX.rstrip("/")),
                    s3_failure_path=bucket.s3_url_for_object(FAILURE_PREFIX.rstrip("/")),
                    notification_config=sagemaker.CfnEndpointConfig.AsyncInferenceNotificationConfigProperty(
                        success_topic=self.success_topic.topic_arn,
                        error_topic=self.error_topic.topic_arn,
                    ),
                ),
            ),
        )
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
        )
        acknowledge(
            self.endpoint_config,
            "AwsSolutions-SM2",
            "Endpoint storage volumes hold only the public model weights and the container image; "
            "SageMaker encrypts them with an AWS managed key. A customer managed key adds cost and "
            "key-policy coupling with nothing confidential to protect.",
        )

    # --- autoscaling 0..N: target tracking on backlog, step scaling out of zero ---

    def _autoscaling(self, config: ServiceConfig) -> None:
        self.scalable_target = appscaling.ScalableTarget(
            self,
            "Scaling",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{self.endpoint_name}/variant/{VARIANT_NAME}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=config.endpoint_min_instances,
            max_capacity=config.endpoint_max_instances,
            # The service-linked role Application Auto Scaling creates for SageMaker on first use
            # (AWS maintains its permissions); CDK's default would be a role with no permissions.
            role=iam.Role.from_role_arn(
                self,
                "ScalingServiceLinkedRole",
                Stack.of(self).format_arn(
                    service="iam",
                    region="",
                    resource="role",
                    resource_name="aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
                ),
                mutable=False,
            ),
        )
        self.scalable_target.node.add_dependency(self.endpoint)
        self.scalable_target.scale_to_track_metric(
            "BacklogTracking",
            target_value=TARGET_BACKLOG_PER_INSTANCE,
            custom_metric=self._metric("ApproximateBacklogSizePerInstance"),
            # Scale in slowly: an instance takes minutes to load three models.
            scale_in_cooldown=Duration.minutes(15),
            scale_out_cooldown=Duration.minutes(5),
        )
        # With zero instances the per-instance backlog is undefined, so target tracking cannot
        # start the first one: this alarm does as soon as a request waits without capacity.
        scale_out = appscaling.StepScalingAction(
            self,
            "ScaleOutFromZero",
            scaling_target=self.scalable_target,
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=Duration.minutes(5),
            metric_aggregation_type=appscaling.MetricAggregationType.MAXIMUM,
        )
        scale_out.add_adjustment(adjustment=1, lower_bound=0)
        self.backlog_without_capacity_alarm = cloudwatch.Alarm(
            self,
            "BacklogWithoutCapacity",
            alarm_description="Requests are waiting and the endpoint has no instance: start one",
            metric=self._metric("HasBacklogWithoutCapacity", statistic="Maximum"),
            threshold=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            evaluation_periods=1,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        self.backlog_without_capacity_alarm.add_alarm_action(cw_actions.ApplicationScalingAction(scale_out))

    def _metric(self, name: str, statistic: str = "Average") -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace="AWS/SageMaker",
            metric_name=name,
            dimensions_map={"EndpointName": self.endpoint_name},
            statistic=statistic,
            period=Duration.minutes(1),
        )
