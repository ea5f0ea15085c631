"""Lambda functions of the service: one asset, python3.12, the Powertools public layer, X-Ray."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from .nag import acknowledge, logical_id

REPO_ROOT = Path(__file__).resolve().parent.parent
RUNTIME = lambda_.Runtime.PYTHON_3_12
# The asset is the repository filtered down to the `lambdas` package, so handlers are addressed
# as `lambdas.<function>.handler.lambda_handler` both on AWS and in tests.
# "*" does not match dot-files: ".*" keeps .git, .venv, .local (stack.json) and the like out.
# Bytecode that a local run leaves behind never ships, nor changes an asset's hash between two synths.
BYTECODE = ["**/__pycache__", "**/*.pyc"]
ASSET_EXCLUDES = ["*", ".*", "!lambdas", "!lambdas/**", *BYTECODE]


def layer_dir(name: str) -> Path:
    """Where `make install` builds the layer pinned by layers/<name>/requirements.txt."""
    return REPO_ROOT / "build" / "layers" / name


def python_layer(scope: Construct, construct_id: str, name: str, description: str) -> lambda_.LayerVersion:
    """One of the service's own layers (layer_dir), for the functions' runtime and architecture."""
    return lambda_.LayerVersion(
        scope,
        construct_id,
        code=lambda_.Code.from_asset(str(layer_dir(name)), exclude=BYTECODE),
        compatible_runtimes=[RUNTIME],
        compatible_architectures=[lambda_.Architecture.X86_64],
        description=description,
    )


def powertools_layer(scope: Construct, version: str) -> lambda_.ILayerVersion:
    """The Powertools public layer, resolved at deploy time from AWS's public SSM parameter."""
    arch = "x86_64"
    parameter = f"/aws/service/powertools/python/{arch}/{RUNTIME.name}/{version}"
    arn = ssm.StringParameter.value_for_string_parameter(scope, parameter)
    return lambda_.LayerVersion.from_layer_version_arn(scope, "PowertoolsLayer", arn)


def grant_logs_and_traces(role: iam.Role, log_group: logs.LogGroup) -> None:
    """A function's own log group, written by its role; the wildcards cdk-nag flags, with why."""
    log_group.grant_write(role)
    acknowledge(
        role,
        "AwsSolutions-IAM5",
        "X-Ray trace writes support no resource-level permissions, and the function's log streams "
        "are created at runtime inside its own log group.",
        "Resource::*",
        f"Resource::<{logical_id(log_group.node.default_child)}.Arn>:*",
    )


@dataclass(frozen=True)
class FunctionKit:
    """What every function of the stack is made with: the Powertools layer, the log retention."""

    layer: lambda_.ILayerVersion
    log_retention: logs.RetentionDays


class ServiceFunction(Construct):
    """The function whose code is lambdas/<name>/handler.py, with its own role, log group and
    tracing; the stack adds its grants and its environment (lambdas/common/contract.py)."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        kit: FunctionKit,
        name: str,
        description: str,
        timeout_s: int = 30,
        memory_size: int = 512,
    ) -> None:
        super().__init__(scope, construct_id)
        self.name = name
        self.log_group = logs.LogGroup(
            self, "Logs", retention=kit.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        # An explicit role instead of the AWS managed basic-execution policy: logs go to this
        # function's log group only.
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"Runs {description}",
        )
        self.function = lambda_.Function(
            self,
            "Function",
            description=description,
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            code=lambda_.Code.from_asset(str(REPO_ROOT), exclude=ASSET_EXCLUDES),
            handler=f"lambdas.{name}.handler.lambda_handler",
            layers=[kit.layer],
            role=self.role,
            timeout=Duration.seconds(timeout_s),
            memory_size=memory_size,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )
        grant_logs_and_traces(self.role, self.log_group)
        acknowledge(
            self.function,
            "AwsSolutions-L1",
            "The runtime is pinned on purpose (RUNTIME): the Powertools public layer is resolved for "
            "it and the code is tested against it; upgrades are a deliberate change.",
        )
