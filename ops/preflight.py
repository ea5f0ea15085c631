"""`python -m ops preflight`: what the AWS account needs before `cdk deploy`, and the fix for each gap.

Read-only: every check describes (STS, SSM, API Gateway, IAM, Service Quotas, S3, Docker); nothing
is created or changed. The settings are the deploy's: cdk.json's `service` block plus the same
`-c key=value` overrides `cdk deploy` takes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from stacks.config import ServiceConfig

# CDK v2 stacks refuse older bootstrap stacks (their CheckBootstrapVersion rule and the cloud
# assembly's requiresBootstrapStackVersion); the default qualifier unless cdk.json sets another.
MIN_BOOTSTRAP_VERSION = 6
DEFAULT_QUALIFIER = "hnb659fds"
QUALIFIER_CONTEXT = "@aws-cdk/core:bootstrapQualifier"
# The Application Auto Scaling service-linked role for SageMaker endpoint variants: the scalable
# target names it; a fresh account has none until something creates it.
AUTOSCALING_ROLE = "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
AUTOSCALING_SERVICE = "sagemaker.application-autoscaling.amazonaws.com"
STAGING_RECORD = "staging.json"
CONTAINER_DIR = Path(__file__).resolve().parent.parent / "sagemaker_containers" / "music"


def cover_recipe(name: str) -> Any:
    """The container's own cover recipe (song_model.settings, stdlib only): its checkpoints."""
    if str(CONTAINER_DIR) not in sys.path:
        sys.path.append(str(CONTAINER_DIR))
    from song_model.settings import COVER_MODELS

    return COVER_MODELS[name]


@dataclass(frozen=True)
class Result:
    name: str
    ok: bool
    detail: str
    fix: str = ""


class Aws:
    """Clients of one session in the deploy's region (tests put stubbed clients in `clients`)."""

    def __init__(self, session: Any, region: str) -> None:
        self.session = session
        self.region = region
        self.clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self.clients:
            self.clients[service] = self.session.client(service, region_name=self.region)
        return self.clients[service]


DockerProbe = Callable[[], tuple[bool, str]]
Outcome = tuple[bool, str, str]  # passed, what was found, the fix when it did not pass


def docker_info() -> tuple[bool, str]:
    """(running, detail) of the Docker engine the CDK CLI builds the inference image with."""
    if shutil.which("docker") is None:
        return False, "no `docker` command on the PATH"
    try:
        done = subprocess.run(
            ["docker", "info", "--format", "{{.ServerVersion}}"],  # noqa: S607 - the user's docker
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return False, "`docker info` did not answer in 30 s"
    if done.returncode != 0:
        return False, (done.stderr.strip().splitlines() or ["`docker info` failed"])[-1]
    return True, f"Docker engine {done.stdout.strip()}"


class Preflight:
    def __init__(
        self,
        config: ServiceConfig,
        aws: Aws,
        *,
        qualifier: str = DEFAULT_QUALIFIER,
        docker: DockerProbe | None = None,
    ) -> None:
        self.config = config
        self.aws = aws
        self.qualifier = qualifier
        self.docker = docker or docker_info
        self.account: str | None = None

    def run(self) -> list[Result]:
        """Every check, in order; the account's checks need working credentials."""
        results = [Result("credentials and region", *self.credentials())]
        account_checks: list[tuple[str, Callable[[], Outcome]]] = [
            ("CDK bootstrap", self.bootstrap),
            ("API Gateway logging role", self.api_gateway_logging_role),
            ("autoscaling service-linked role", self.autoscaling_role),
            (f"{self.config.endpoint_instance_type} quota", self.gpu_quota),
            ("staged model data", self.model_data),
        ]
        for name, check in account_checks:
            if self.account is None:
                results.append(Result(name, False, "not checked: no working credentials"))
                continue
            try:
                results.append(Result(name, *check()))
            except (BotoCoreError, ClientError) as exc:
                results.append(Result(name, False, f"the check itself failed: {exc}", _access_fix(exc)))
        results.append(Result("Docker", *self.docker_engine()))
        return results

    # --- the checks ---------------------------------------------------------------------------

    def credentials(self) -> Outcome:
        try:
            identity = self.aws.client("sts").get_caller_identity()
        except (BotoCoreError, ClientError) as exc:
            return _outcome(
                False,
                f"no usable AWS credentials: {exc}",
                "configure credentials for the account (`aws configure`, `aws sso login`, AWS_PROFILE)",
            )
        account = identity["Account"]
        if self.config.account and self.config.account != account:
            return _outcome(
                False,
                f"the credentials are for account {account}, the deploy targets {self.config.account}",
                f"use credentials of account {self.config.account}, or deploy with -c account={account}",
            )
        self.account = account
        return _outcome(True, f"{identity['Arn']}; deploying to {account} in {self.aws.region}")

    def bootstrap(self) -> Outcome:
        parameter = f"/cdk-bootstrap/{self.qualifier}/version"
        fix = f"npx cdk bootstrap aws://{self.account}/{self.aws.region}"
        try:
            version = int(self.aws.client("ssm").get_parameter(Name=parameter)["Parameter"]["Value"])
        except ClientError as exc:
            if _code(exc) != "ParameterNotFound":
                raise
            return _outcome(False, f"{self.aws.region} is not bootstrapped ({parameter} is missing)", fix)
        if version < MIN_BOOTSTRAP_VERSION:
            return _outcome(False, f"bootstrap version {version} < {MIN_BOOTSTRAP_VERSION}", fix)
        return _outcome(True, f"bootstrap version {version} ({parameter})")

    def api_gateway_logging_role(self) -> Outcome:
        fix = (
            "create a role that apigateway.amazonaws.com may assume, with the managed policy "
            "AmazonAPIGatewayPushToCloudWatchLogs, then: aws apigateway update-account --patch-operations "
            "op=replace,path=/cloudwatchRoleArn,value=<role ARN> (once per account and region)"
        )
        if self.config.apigateway_cloudwatch_role:
            return _outcome(True, "the stack sets the account's role (apigateway_cloudwatch_role)")
        role_arn = self.aws.client("apigateway").get_account().get("cloudwatchRoleArn")
        if not role_arn:
            return _outcome(
                False, "the account has no API Gateway CloudWatch Logs role: the stage cannot log", fix
            )
        try:
            self.aws.client("iam").get_role(RoleName=role_arn.rsplit("/", 1)[-1])
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            return _outcome(False, f"the account's role {role_arn} no longer exists", fix)
        return _outcome(True, role_arn)

    def autoscaling_role(self) -> Outcome:
        try:
            self.aws.client("iam").get_role(RoleName=AUTOSCALING_ROLE)
        except ClientError as exc:
            if _code(exc) != "NoSuchEntity":
                raise
            return _outcome(
                False,
                f"{AUTOSCALING_ROLE} does not exist: the endpoint's scalable target cannot be created",
                f"aws iam create-service-linked-role --aws-service-name {AUTOSCALING_SERVICE}",
            )
        return _outcome(True, AUTOSCALING_ROLE)

    def gpu_quota(self) -> Outcome:
        instance = self.config.endpoint_instance_type
        wanted = self.config.endpoint_max_instances
        quota_name = f"{instance} for endpoint usage"
        quotas = self.aws.client("service-quotas")
        code = None
        for page in quotas.get_paginator("list_aws_default_service_quotas").paginate(ServiceCode="sagemaker"):
            code = next((q["QuotaCode"] for q in page["Quotas"] if q["QuotaName"] == quota_name), None)
            if code:
                break
        if code is None:
            return _outcome(
                False,
                f'no quota "{quota_name}" in {self.aws.region}: SageMaker does not offer {instance} here',
                "choose a type offered in the region (-c endpoint_instance_type=...) or another region",
            )
        value = int(quotas.get_service_quota(ServiceCode="sagemaker", QuotaCode=code)["Quota"]["Value"])
        if value < wanted:
            return _outcome(
                False,
                f'"{quota_name}" is {value}; endpoint_max_instances is {wanted}'
                + (": the endpoint cannot start an instance" if value == 0 else ": scale-out stops early"),
                f"aws service-quotas request-service-quota-increase --service-code sagemaker "
                f"--quota-code {code} --desired-value {wanted} --region {self.aws.region}",
            )
        return _outcome(True, f'"{quota_name}" is {value} (endpoint_max_instances {wanted})')

    def model_data(self) -> Outcome:
        config = self.config
        uri = config.model_data_s3_uri
        stage_fix = (
            "PYTHONPATH=sagemaker_containers/music python -m song_model.stage_weights "
            "--bucket BUCKET --prefix song-model/v1/, then deploy with -c model_data_s3_uri=s3://BUCKET/song-model/v1/"
        )
        if not uri:
            if config.model_internet_access:
                return _outcome(
                    True, "none: the model downloads the hub ids at start (model_internet_access)"
                )
            return _outcome(False, "model_data_s3_uri is unset: the model has no weights to load", stage_fix)
        bucket, prefix = uri.removeprefix("s3://").split("/", 1)
        s3 = self.aws.client("s3")
        region = s3.get_bucket_location(Bucket=bucket).get("LocationConstraint") or "us-east-1"
        if region != self.aws.region:
            return _outcome(
                False, f"{bucket} is in {region}; SageMaker reads model data from its own region", stage_fix
            )
        try:
            record = json.loads(s3.get_object(Bucket=bucket, Key=f"{prefix}{STAGING_RECORD}")["Body"].read())
        except ClientError as exc:
            if _code(exc) not in ("NoSuchKey", "404"):
                raise
            return _outcome(False, f"{uri}{STAGING_RECORD} is missing: the staging never finished", stage_fix)
        problems = [*self._missing_parts(record), *self._size_mismatches(s3, bucket, prefix, record["parts"])]
        if problems:
            return _outcome(False, "; ".join(problems), stage_fix + " (re-running resumes and completes it)")
        total = sum(part["bytes"] for part in record["parts"].values())
        return _outcome(True, f"{uri}: {', '.join(record['parts'])} ({total / 1e9:.1f} GB) as staged")

    def _missing_parts(self, record: dict[str, Any]) -> Iterable[str]:
        """The parts the configured models need, each staged from the configured checkpoint."""
        config = self.config
        cover = cover_recipe(config.cover_model)
        wanted = {"llm": config.llm_model_id, "image": config.image_model_id or cover.pipeline_id}
        if cover.unet_repo:
            wanted["image_unet"] = cover.unet_repo  # SDXL-Lightning's UNet file on SDXL base
        if config.music_engine == "acestep":
            wanted["acestep"] = config.acestep_model_id
            if config.stems_enabled:
                wanted["acestep_base"] = ""  # the container's own base checkpoint, for stems
        else:
            wanted["musicgen"] = config.musicgen_model_id
        for part, repo in wanted.items():
            staged = record["parts"].get(part)
            if staged is None:
                yield f"{part}/ was not staged (needed for {repo or 'stems'})"
            elif repo and staged["repo_id"] != repo:
                yield f"{part}/ holds {staged['repo_id']}, the settings name {repo}"

    def _size_mismatches(self, s3: Any, bucket: str, prefix: str, parts: dict[str, Any]) -> Iterable[str]:
        for part, staged in parts.items():
            files = size = 0
            for page in s3.get_paginator("list_objects_v2").paginate(
                Bucket=bucket, Prefix=f"{prefix}{part}/"
            ):
                for obj in page.get("Contents", []):
                    files += 1
                    size += obj["Size"]
            if (files, size) != (staged["files"], staged["bytes"]):
                found, recorded = (
                    f"{files} files, {size} bytes",
                    f"{staged['files']} files, {staged['bytes']} bytes",
                )
                yield f"{part}/ has {found}; the staging wrote {recorded}"

    def docker_engine(self) -> Outcome:
        running, detail = self.docker()
        fix = "install Docker and start it (the CDK CLI builds and pushes the inference image with it)"
        return running, detail, "" if running else fix


def _outcome(ok: bool, detail: str, fix: str = "") -> Outcome:
    return ok, detail, fix


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def _access_fix(exc: BotoCoreError | ClientError) -> str:
    if isinstance(exc, ClientError) and _code(exc) in (
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
    ):
        return "run preflight with the deploying credentials (they need read access to this service)"
    return ""


def report(results: list[Result], stack: str, region: str) -> str:
    lines = [f"Preflight for {stack} in {region}:"]
    width = max(len(r.name) for r in results)
    for result in results:
        lines.append(f"  {'PASS' if result.ok else 'FAIL'}  {result.name:<{width}}  {result.detail}")
        if result.fix:
            lines.append(f"        {'':<{width}}  fix: {result.fix}")
    failed = sum(not r.ok for r in results)
    lines.append("Ready to deploy." if not failed else f"{failed} of {len(results)} checks failed.")
    return "\n".join(lines)
