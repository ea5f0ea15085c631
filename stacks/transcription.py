"""Audio to MIDI beside the workflow: the transcriber, a Lambda container image function built from
lambda_images/transcribe (Spotify's basic-pitch on ONNX Runtime, CPU only). The state machine's
Transcribe task invokes it; the stack gives it its environment and grants it exactly the objects
it reads and writes (SongServiceStack.connect_transcriber)."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Size
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from lambdas.common import contract

from .functions import REPO_ROOT, grant_logs_and_traces
from .grants import allow_list, allow_objects
from .nag import acknowledge, logical_id

IMAGE_DIR = REPO_ROOT / "lambda_images" / "transcribe"


class Transcriber(Construct):
    """Attributes: function (DockerImageFunction), role, log_group."""

    def __init__(self, scope: Construct, construct_id: str, *, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Runs the transcriber (audio to MIDI)",
        )
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            description="workflow: transcribe audio to MIDI (basic-pitch, CPU)",
            code=lambda_.DockerImageCode.from_image_asset(
                str(IMAGE_DIR),
                # The image's CMD, spelled out so the template names the handler it runs.
                cmd=[contract.TRANSCRIBER_HANDLER],
                # The image installs x86_64 wheels (Dockerfile) and compiles numba for x86-64.
                platform=ecr_assets.Platform.LINUX_AMD64,
            ),
            architecture=lambda_.Architecture.X86_64,
            role=self.role,
            memory_size=contract.TRANSCRIBER_MEMORY_MB,
            timeout=Duration.seconds(contract.TRANSCRIBER_TIMEOUT_S),
            ephemeral_storage_size=Size.mebibytes(contract.TRANSCRIBER_EPHEMERAL_MB),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        grant_logs_and_traces(self.role, self.log_group)

    def allow_reading(self, bucket: s3.IBucket, prefix: str) -> None:
        """GetObject on the prefix, and ListBucket on it so a deleted source reads as missing (404,
        SourceMissing) rather than denied (403)."""
        allow_objects(self.role, bucket, prefix, "s3:GetObject")
        allow_list(self.role, bucket, prefix)
        self._acknowledge_prefix(bucket, prefix)

    def allow_writing(self, bucket: s3.IBucket, prefix: str) -> None:
        allow_objects(self.role, bucket, prefix, "s3:PutObject")
        self._acknowledge_prefix(bucket, prefix)

    def _acknowledge_prefix(self, bucket: s3.IBucket, prefix: str) -> None:
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Object actions limited to the key prefix the transcriber reads or writes (jobs, songs and "
            "uploads are only known at runtime).",
            f"Resource::<{logical_id(bucket.node.default_child)}.Arn>/{prefix}*",
        )
