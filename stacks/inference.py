"""The async SageMaker endpoint: model, endpoint config, endpoint, notification topics -> queue,
and autoscaling between 0 and N instances."""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Aws, Duration, RemovalPolicy, Stack
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from lambdas.common.contract import (
    ASYNC_FAILURE_PREFIX,
    ASYNC_OUTPUT_PREFIX,
    INFERENCE_CALLBACK,
    REQUESTS_PREFIX,
    SCRATCH_MEDIA_PREFIX,
    VARIANT_NAME,
)

from .config import ServiceConfig
from .grants import allow_list, allow_objects
from .nag import acknowledge, logical_id, nag_env
from .network import ModelNetwork
from .queues import consumed_queue, dead_letter_queue

CONTAINER_DIR = Path(__file__).resolve().parent.parent / "sagemaker_containers" / "music"
# Target backlog per instance for target tracking: one song in flight per GPU and one waiting.
TARGET_BACKLOG_PER_INSTANCE = 2.0
# The host AMIs SageMaker offers for GPU endpoints (ProductionVariant.InferenceAmiVersion) and their
# NVIDIA driver and CUDA version, as botocore's SageMaker model documents them. Without one,
# SageMaker picks a host per instance family with a 470-550 driver (CUDA <= 12.4, AWS's
# "inference-gpu-drivers" page) and changes it over time.
GPU_AMIS: dict[str, tuple[int, tuple[int, int]]] = {
    "al2-ami-sagemaker-inference-gpu-2": (535, (12, 2)),
    "al2-ami-sagemaker-inference-gpu-2-1": (535, (12, 2)),
    "al2-ami-sagemaker-inference-gpu-3-1": (550, (12, 4)),
    "al2023-ami-sagemaker-inference-gpu-4-1": (580, (13, 0)),
}
# The image's torch is PyPI's Linux build for CUDA 13.0 (needs driver R580+): the one AMI whose
# driver runs it (docs/container.md, "Driver"; tests/container/test_image_requirements.py checks the
# image's CUDA against this AMI's).
INFERENCE_AMI = "al2023-ami-sagemaker-inference-gpu-4-1"


class InferenceEndpoint(Construct):
    """Attributes: endpoint_name, endpoint_arn, success_topic, error_topic, notifications_queue,
    notifications_dlq, topics_key, execution_role, image, scalable_target, network (None when the
    model runs with internet access).

    A bucket the container needs is one line: `grant_container_objects(bucket, prefix, actions...)`
    (the IAM grant plus the S3 endpoint's policy)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: ServiceConfig,
        inference_bucket: s3.IBucket,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        # An endpoint with neither staged weights nor internet never becomes healthy: stop here.
        config.require_model_source()
        self.endpoint_name = config.endpoint_name
        self.endpoint_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=self.endpoint_name
        )
        self._notifications()
        self.network = (
            None
            if config.model_internet_access
            else ModelNetwork(self, "Network", log_retention=log_retention)
        )
        self.execution_role = self._execution_role(config, inference_bucket)
        self.image = ecr_assets.DockerImageAsset(
            self, "Image", directory=str(CONTAINER_DIR), platform=ecr_assets.Platform.LINUX_AMD64
        )
        self.image.repository.grant_pull(self.execution_role)
        self._endpoint(config, inference_bucket)
        self._autoscaling(config)

    # --- SNS success/error topics -> one SQS queue (+ DLQ) consumed by inference_callback ---

    def _notifications(self) -> None:
        self.topics_key = kms.Key(
            self,
            "TopicsKey",
            enable_key_rotation=True,
            description="Encrypts the SageMaker async notification topics",
            # Kept with the stack's other state, but not left over by a failed first deploy.
            removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
        )
        self.success_topic = self._topic("SuccessTopic", "SageMaker async inference succeeded")
        self.error_topic = self._topic("ErrorTopic", "SageMaker async inference failed")
        self.notifications_dlq = dead_letter_queue(self, "NotificationsDlq")
        self.notifications_queue = consumed_queue(
            self, "Notifications", INFERENCE_CALLBACK, self.notifications_dlq
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
        self.execution_role = role
        # The container reads its request and writes media; SageMaker writes the async output or
        # failure with the same role (through the VPC too, so the endpoint policy lists them).
        self.grant_container_objects(bucket, REQUESTS_PREFIX, "s3:GetObject")
        for prefix in (SCRATCH_MEDIA_PREFIX, ASYNC_OUTPUT_PREFIX, ASYNC_FAILURE_PREFIX):
            self.grant_container_objects(bucket, prefix, "s3:PutObject")
        if config.model_data_s3_uri:
            self._grant_model_data(role, config.model_data_s3_uri)
        if self.network:
            self._grant_network_interfaces(role)
        self.success_topic.grant_publish(role)
        self.error_topic.grant_publish(role)
        if self.network:
            self.network.allow_publish(role, [self.success_topic, self.error_topic])
        log_group = f"/aws/sagemaker/Endpoints/{self.endpoint_name}"
        # Spelled out (not format_arn) so the cdk-nag finding below names the same string
        # whether or not the app enables partition literals.
        stack = Stack.of(self)
        _, region, account = nag_env(self)
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
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "Log streams of the endpoint's own log group (created by SageMaker at runtime); "
            "cloudwatch:PutMetricData, ecr:GetAuthorizationToken and the EC2 Describe* calls SageMaker "
            "makes for a model in a VPC support no resource-level permissions (the first is limited by "
            "a namespace condition); kms:GenerateDataKey* is CDK's grant for publishing to the "
            "encrypted topics, on their key only.",
            f"Resource::arn:<AWS::Partition>:logs:{region}:{account}:log-group:{log_group}:*",
            "Resource::*",
            "Action::kms:GenerateDataKey*",
        )
        return role

    def grant_container_objects(self, bucket: s3.IBucket, prefix: str, *actions: str) -> None:
        """The container may do `actions` on the objects under `prefix` of `bucket`: the IAM grant,
        its cdk-nag acknowledgement and, when the model runs in the VPC, the S3 endpoint's policy."""
        allow_objects(self.execution_role, bucket, prefix, *actions)
        if self.network:
            self.network.allow_objects(bucket, prefix, *actions)
        acknowledge(
            self.execution_role,
            "AwsSolutions-IAM5",
            "Object access limited to one prefix the endpoint owns; object names are per job.",
            f"Resource::<{logical_id(bucket.node.default_child)}.Arn>/{prefix}*",
        )

    def _grant_network_interfaces(self, role: iam.Role) -> None:
        """What SageMaker needs in the execution role to attach the model's network interfaces to
        the VPC (AWS: "Give SageMaker AI Hosted Endpoints Access to Resources in Your Amazon VPC"),
        scoped to this VPC's subnets and security group and this account's network interfaces."""
        assert self.network
        stack = Stack.of(self)

        def ec2_arn(resource: str) -> str:
            # Spelled out (not format_arn): the cdk-nag finding below names the same string.
            return f"arn:{Aws.PARTITION}:ec2:{stack.region}:{stack.account}:{resource}"

        interfaces = ec2_arn("network-interface/*")
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:CreateNetworkInterface",
                    "ec2:CreateNetworkInterfacePermission",
                    "ec2:DeleteNetworkInterface",
                    "ec2:DeleteNetworkInterfacePermission",
                ],
                resources=[interfaces],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=["ec2:CreateNetworkInterface"],
                resources=[
                    *(ec2_arn(f"subnet/{subnet}") for subnet in self.network.subnets.subnet_ids),
                    ec2_arn(f"security-group/{self.network.security_group.security_group_id}"),
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "ec2:DescribeDhcpOptions",
                    "ec2:DescribeNetworkInterfaces",
                    "ec2:DescribeSecurityGroups",
                    "ec2:DescribeSubnets",
                    "ec2:DescribeVpcs",
                ],
                resources=["*"],
            )
        )
        _, region, account = nag_env(self)
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "SageMaker creates the model's network interfaces at runtime (ids unknown before); only "
            "in this VPC's subnets with its security group.",
            f"Resource::arn:<AWS::Partition>:ec2:{region}:{account}:network-interface/*",
        )

    # --- model, endpoint config (async), endpoint ---

    def _grant_model_data(self, role: iam.Role, uri: str) -> None:
        """Read-only access to the staged weights: that prefix of that bucket, nothing else."""
        bucket_name, _, prefix = uri.removeprefix("s3://").partition("/")
        bucket = s3.Bucket.from_bucket_name(self, "ModelData", bucket_name)
        allow_objects(role, bucket, prefix, "s3:GetObject")
        allow_list(role, bucket, prefix)
        if self.network:
            self.network.allow_objects(bucket, prefix, "s3:GetObject", "s3:ListBucket")
        acknowledge(
            role,
            "AwsSolutions-IAM5",
            "SageMaker copies every file under the staged model-data prefix; the file names are "
            "the models' own.",
            # The partition is a literal when cdk.json enables partition literals.
            f"Resource::arn:{nag_env(self)[0]}:s3:::{bucket_name}/{prefix}*",
        )

    def _vpc_config(self) -> sagemaker.CfnModel.VpcConfigProperty | None:
        if not self.network:
            return None
        return sagemaker.CfnModel.VpcConfigProperty(
            security_group_ids=[self.network.security_group.security_group_id],
            subnets=self.network.subnets.subnet_ids,
        )

    @staticmethod
    def _model_data_source(uri: str | None) -> sagemaker.CfnModel.ModelDataSourceProperty | None:
        if not uri:
            return None
        return sagemaker.CfnModel.ModelDataSourceProperty(
            s3_data_source=sagemaker.CfnModel.S3DataSourceProperty(
                s3_uri=uri,
                s3_data_type="S3Prefix",
                compression_type="None",
            )
        )

    def _endpoint(self, config: ServiceConfig, bucket: s3.IBucket) -> None:
        environment = {
            "MODEL_PROFILE": "full",
            # No silent CPU fallback: a missing GPU or a driver too old for the image's CUDA fails
            # the container at start (health check) instead of rendering songs for hours.
            "DEVICE": "cuda",
            # boto3 in the container (requests, media, sources) needs the region: the global S3
            # endpoint would redirect other regions' buckets, and the VPC's gateway endpoint serves
            # this region's S3 only.
            "AWS_DEFAULT_REGION": Stack.of(self).region,
            "MUSIC_ENGINE": config.music_engine,
            "LLM_MODEL_ID": config.llm_model_id,
            "MUSIC_MODEL_ID": config.acestep_model_id,
            "MUSICGEN_MODEL_ID": config.musicgen_model_id,
            "COVER_MODEL": config.cover_model,
            # Stems load the base checkpoint beside turbo (GPU memory: docs/container.md).
            "STEMS_ENABLED": str(config.stems_enabled).lower(),
        }
        if config.image_model_id:
            environment["IMAGE_MODEL_ID"] = config.image_model_id
        if config.model_data_s3_uri:
            # Every model is under /opt/ml/model: the hub is never asked (and a missing part fails
            # at once with a clear error instead of a download attempt that hangs without a route).
            environment["HF_HUB_OFFLINE"] = "1"
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
            vpc_config=self._vpc_config(),
        )
        # The role's policy must exist before SageMaker validates the image and model data, and
        # the S3 route (gateway endpoint) before the instance downloads the weights.
        policy = self.execution_role.node.try_find_child("DefaultPolicy")
        if policy is not None:
            self.model.node.add_dependency(policy)
        if self.network:
            self.model.node.add_dependency(self.network.s3_endpoint)
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
                    # The host's NVIDIA driver must run the image's CUDA build (see INFERENCE_AMI).
                    inference_ami_version=INFERENCE_AMI,
                )
            ],
            async_inference_config=sagemaker.CfnEndpointConfig.AsyncInferenceConfigProperty(
                client_config=sagemaker.CfnEndpointConfig.AsyncInferenceClientConfigProperty(
                    max_concurrent_invocations_per_instance=config.max_concurrent_invocations_per_instance
                ),
                output_config=sagemaker.CfnEndpointConfig.AsyncInferenceOutputConfigProperty(
                    s3_output_path=bucket.s3_url_for_object(ASYNC_OUTPUT_PREFIX.rstrip("/")),
                    s3_failure_path=bucket.s3_url_for_object(ASYNC_FAILURE_PREFIX.rstrip("/")),
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
        if self.network:
            # CreateEndpoint publishes a test notification to the topics: their route exists first.
            self.endpoint.node.add_dependency(self.network.sns_endpoint)
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
