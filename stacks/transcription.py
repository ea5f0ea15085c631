"""The CPU audio functions built from lambda_images/transcribe (one container image, two CMDs):

- the transcriber (audio to MIDI: Spotify's basic-pitch on ONNX Runtime), which the state machine's
  Transcribe task invokes;
- the upload analyzer (length, loudness, true peak, tempo, key of an upload), which the upload check
  invokes once it has accepted a file.

The stack gives each its environment and grants each exactly the objects it reads and writes
(SongServiceStack.grant_source_reads, Uploads._analyzer)."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, IgnoreMode, RemovalPolicy, Size
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
# The image's build context is the repository, narrowed to what its Dockerfile copies: its own
# folder and the model container's measuring module (sagemaker_containers/music/song_model/
# analysis.py, the one implementation a take and an upload are measured by). The patterns are the
# ones `docker build` reads beside the Dockerfile, so a manual build and `cdk deploy` agree.
IMAGE_IGNORE_FILE = IMAGE_DIR / "Dockerfile.dockerignore"


def image_context() -> list[str]:
    lines = (line.strip() for line in IMAGE_IGNORE_FILE.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def image_code(handler: str) -> lambda_.DockerImageCode:
    """The image (one asset, one build for both functions) running `handler`."""
    return lambda_.DockerImageCode.from_image_asset(
        str(REPO_ROOT),
        file=str((IMAGE_DIR / "Dockerfile").relative_to(REPO_ROOT)),
        exclude=image_context(),
        ignore_mode=IgnoreMode.DOCKER,
        # The image's CMD, spelled out so the template names the handler it runs.
        cmd=[handler],
        # The image installs x86_64 wheels (Dockerfile) and compiles numba for x86-64.
        platform=ecr_assets.Platform.LINUX_AMD64,
    )


@dataclass(frozen=True)
class ImageFunctionSpec:
    """What sets one of the image's functions apart besides its CMD (contract.IMAGE_HANDLERS): its
    description and its sizes."""

    description: str
    memory_mb: int
    timeout_s: int
    ephemeral_mb: int


# The image's functions by their contract names (as ServiceFunction's are by their package); the
# contract's IMAGE_HANDLERS names the same ones.
IMAGE_FUNCTIONS = {
    contract.TRANSCRIBER: ImageFunctionSpec(
        description="workflow: transcribe audio to MIDI (basic-pitch, CPU)",
        memory_mb=contract.TRANSCRIBER_MEMORY_MB,
        timeout_s=contract.TRANSCRIBER_TIMEOUT_S,
        ephemeral_mb=contract.TRANSCRIBER_EPHEMERAL_MB,
    ),
    # Reads uploads only (Uploads grants it GetObject and ListBucket on the uploads prefix).
    contract.UPLOAD_ANALYZER: ImageFunctionSpec(
        description="upload check: measure an upload's loudness, tempo and key (CPU)",
        memory_mb=contract.UPLOAD_ANALYZER_MEMORY_MB,
        timeout_s=contract.UPLOAD_ANALYZER_TIMEOUT_S,
        ephemeral_mb=contract.UPLOAD_ANALYZER_EPHEMERAL_MB,
    ),
}


class ImageFunction(Construct):
    """The image's function `name` (IMAGE_FUNCTIONS) with its own role and log group (JSON logs, as
    the zip functions'). Attributes: name, function (DockerImageFunction), role, log_group."""

    def __init__(
        self, scope: Construct, construct_id: str, *, name: str, log_retention: logs.RetentionDays
    ) -> None:
        super().__init__(scope, construct_id)
        spec = IMAGE_FUNCTIONS[name]
        self.name = name
        self.log_group = logs.LogGroup(
            self, "Logs", retention=log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=spec.description,
        )
        self.function = lambda_.DockerImageFunction(
            self,
            "Function",
            description=spec.description,
            code=image_code(contract.IMAGE_HANDLERS[name]),
            architecture=lambda_.Architecture.X86_64,
            role=self.role,
            memory_size=spec.memory_mb,
            timeout=Duration.seconds(spec.timeout_s),
            ephemeral_storage_size=Size.mebibytes(spec.ephemeral_mb),
            tracing=lambda_.Tracing.ACTIVE,
            logging_format=lambda_.LoggingFormat.JSON,
            log_group=self.log_group,
        )
        grant_logs_and_traces(self.role, self.log_group)

    def allow_objects(self, bucket: s3.IBucket, prefix: str, *actions: str) -> None:
        """`actions` on the objects under `prefix` of `bucket`, with cdk-nag's acknowledgement."""
        allow_objects(self.role, bucket, prefix, *actions)
        acknowledge(
            self.role,
            "AwsSolutions-IAM5",
            "Object actions limited to the key prefix the function reads or writes (jobs, songs and "
            "uploads are only known at runtime).",
            f"Resource::<{logical_id(bucket.node.default_child)}.Arn>/{prefix}*",
        )

    def allow_reading(self, bucket: s3.IBucket, prefix: str) -> None:
        """GetObject on the prefix, and ListBucket on it so a deleted source reads as missing (404,
        SourceMissing) rather than denied (403)."""
        self.allow_objects(bucket, prefix, "s3:GetObject")
        allow_list(self.role, bucket, prefix)

    def allow_writing(self, bucket: s3.IBucket, prefix: str) -> None:
        self.allow_objects(bucket, prefix, "s3:PutObject")
