"""`python -m ops preflight` against moto (STS, SSM, IAM, API Gateway, S3) and botocore's Stubber
(Service Quotas, which moto does not serve for SageMaker): never a real account."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from ops.__main__ import main
from ops.preflight import AUTOSCALING_ROLE, AUTOSCALING_SERVICE, Aws, Preflight, Result, report
from stacks.config import ServiceConfig

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "sagemaker_containers" / "music"))
from song_model import stage_weights  # the container's package (not installed here)

REGION = "us-east-1"
MODEL_BUCKET = "model-bucket"
MODEL_URI = f"s3://{MODEL_BUCKET}/song-model/v1/"
QUOTA = "ml.g6e.2xlarge for endpoint usage"


@pytest.fixture
def aws() -> Iterator[Aws]:
    with mock_aws():
        yield Aws(boto3.Session(region_name=REGION), REGION)


def quotas(aws: Aws, value: float | None) -> Stubber:
    """The Service Quotas answers: the quota's code among SageMaker's quotas, then its value."""
    client = boto3.client("service-quotas", region_name=REGION)
    stubber = Stubber(client)
    service = {"ServiceCode": "sagemaker"}
    stubber.add_response(
        "list_aws_default_service_quotas",
        {
            "Quotas": [{"QuotaName": "ml.g5.xlarge for endpoint usage", "QuotaCode": "L-1111"}],
            "NextToken": "page-2",
        },
        service,
    )
    stubber.add_response(
        "list_aws_default_service_quotas",
        {"Quotas": [{"QuotaName": QUOTA, "QuotaCode": "L-2222"}]},
        {**service, "NextToken": "page-2"},
    )
    if value is not None:
        stubber.add_response(
            "get_service_quota",
            {"Quota": {"QuotaCode": "L-2222", "Value": value}},
            {**service, "QuotaCode": "L-2222"},
        )
    stubber.activate()
    aws.clients["service-quotas"] = client
    return stubber


def ready_account(aws: Aws) -> None:
    aws.client("ssm").put_parameter(Name="/cdk-bootstrap/hnb659fds/version", Value="27", Type="String")
    iam = aws.client("iam")
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole"}]}
    role = iam.create_role(RoleName="apigw-logs", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    aws.client("apigateway").update_account(
        patchOperations=[{"op": "replace", "path": "/cloudwatchRoleArn", "value": role}]
    )
    iam.create_role(
        RoleName=AUTOSCALING_ROLE,
        Path="/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/",
        AssumeRolePolicyDocument=json.dumps(trust),
    )


def stage_model_data(aws: Aws, tmp_path: Path) -> dict[str, Any]:
    """What the staging command writes, with small files standing in for the weights."""

    def download(part: stage_weights.Part, target: Path) -> str:
        (target / "sub").mkdir(parents=True)
        (target / "config.json").write_text(json.dumps({"part": part.name}))
        (target / "sub" / "model.safetensors").write_bytes(b"w" * (100 + len(part.name)))
        return "0123abc"

    s3 = aws.client("s3")
    s3.create_bucket(Bucket=MODEL_BUCKET)
    cover = stage_weights.COVER_MODELS[stage_weights.DEFAULT_COVER]
    parts = stage_weights.plan(
        stage_weights.DEFAULT_LLM,
        cover.pipeline_id,
        ["acestep"],
        stage_weights.DEFAULT_ACESTEP,
        stage_weights.DEFAULT_MUSICGEN,
        stage_weights.ACESTEP_BASE,
        image_unet=(cover.unet_repo, cover.unet_file),
    )
    return stage_weights.stage(parts, MODEL_BUCKET, "song-model/v1/", s3, tmp_path, download)


def preflight(
    aws: Aws, docker: tuple[bool, str] = (True, "Docker engine 27.3.1"), **settings: Any
) -> Preflight:
    return Preflight(ServiceConfig(**settings), aws, docker=lambda: docker)


def by_name(results: list[Result]) -> dict[str, Result]:
    return {r.name: r for r in results}


def test_a_ready_account_passes_every_check(aws: Aws, tmp_path: Path) -> None:
    ready_account(aws)
    stage_model_data(aws, tmp_path)
    quotas(aws, 2)
    results = preflight(aws, model_data_s3_uri=MODEL_URI).run()
    assert [r.name for r in results if not r.ok] == []
    assert len(results) == 7
    assert "acestep_base" in by_name(results)["staged model data"].detail
    assert "image_unet" in by_name(results)["staged model data"].detail

    text = report(results, "SongService-dev", REGION)
    assert text.endswith("Ready to deploy.")
    assert "fix:" not in text


def test_the_logging_role_the_stack_sets_needs_no_account_role(aws: Aws) -> None:
    quotas(aws, 2)
    results = by_name(preflight(aws).run())
    assert results["API Gateway logging role"].ok
    assert "apigateway_cloudwatch_role" in results["API Gateway logging role"].detail
    managed_elsewhere = by_name(preflight(aws, apigateway_cloudwatch_role=False).run())
    assert not managed_elsewhere["API Gateway logging role"].ok


def test_a_turbo_cover_needs_no_lightning_unet(aws: Aws, tmp_path: Path) -> None:
    ready_account(aws)
    stage_model_data(aws, tmp_path)
    quotas(aws, 2)
    result = by_name(preflight(aws, model_data_s3_uri=MODEL_URI, cover_model="sdxl-turbo").run())
    assert "image/ holds stabilityai/stable-diffusion-xl-base-1.0" in result["staged model data"].detail


def test_a_fresh_account_fails_with_the_fix_for_each_gap(aws: Aws) -> None:
    quotas(aws, 0)
    results = by_name(
        preflight(
            aws, docker=(False, "Cannot connect to the Docker daemon"), apigateway_cloudwatch_role=False
        ).run()
    )
    assert results["credentials and region"].ok
    fixes = {name: result.fix for name, result in results.items() if not result.ok}
    assert fixes["CDK bootstrap"] == f"npx cdk bootstrap aws://123456789012/{REGION}"
    assert "update-account" in fixes["API Gateway logging role"]
    assert fixes["autoscaling service-linked role"] == (
        f"aws iam create-service-linked-role --aws-service-name {AUTOSCALING_SERVICE}"
    )
    assert "--quota-code L-2222 --desired-value 2" in fixes["ml.g6e.2xlarge quota"]
    assert "cannot start an instance" in results["ml.g6e.2xlarge quota"].detail
    assert "stage_weights" in fixes["staged model data"]
    assert "start it" in fixes["Docker"]
    assert report(list(results.values()), "SongService-dev", REGION).endswith("6 of 7 checks failed.")


def test_model_data_must_match_what_the_staging_recorded(aws: Aws, tmp_path: Path) -> None:
    ready_account(aws)
    stage_model_data(aws, tmp_path)
    aws.client("s3").delete_object(Bucket=MODEL_BUCKET, Key="song-model/v1/image/sub/model.safetensors")
    quotas(aws, 2)
    result = by_name(preflight(aws, model_data_s3_uri=MODEL_URI).run())["staged model data"]
    assert not result.ok
    assert result.detail == "image/ has 1 files, 17 bytes; the staging wrote 2 files, 122 bytes"


def test_model_data_must_hold_the_configured_checkpoints(aws: Aws, tmp_path: Path) -> None:
    ready_account(aws)
    stage_model_data(aws, tmp_path)
    quotas(aws, 2)
    results = by_name(
        preflight(aws, model_data_s3_uri=MODEL_URI, music_engine="musicgen", llm_model_id="Qwen/Other").run()
    )
    detail = results["staged model data"].detail
    assert "llm/ holds Qwen/Qwen2-7B-Instruct, the settings name Qwen/Other" in detail
    assert "musicgen/ was not staged" in detail
    unstaged = by_name(preflight(aws, model_data_s3_uri="s3://model-bucket/elsewhere/").run())
    assert "staging.json is missing" in unstaged["staged model data"].detail


def test_credentials_of_another_account_stop_the_account_checks(aws: Aws) -> None:
    results = preflight(aws, account="210987654321").run()
    assert "account 123456789012, the deploy targets 210987654321" in results[0].detail
    assert [r.detail for r in results[1:6]] == ["not checked: no working credentials"] * 5


def test_the_command_exits_non_zero_on_a_failed_check(
    aws: Aws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("ops.preflight.docker_info", lambda: (True, "Docker engine 27"))
    monkeypatch.setattr("ops.__main__.Preflight", _with_quotas(2))
    ready_account(aws)
    assert main(["preflight", "-c", "model_internet_access=true"]) == 0
    assert capsys.readouterr().out.strip().endswith("Ready to deploy.")
    assert main(["preflight"]) == 1  # no model data staged, none allowed from the hub
    assert "model_data_s3_uri is unset" in capsys.readouterr().out


def _with_quotas(value: int) -> type[Preflight]:
    """Preflight whose Service Quotas client is stubbed (the command builds its own clients)."""

    class Stubbed(Preflight):
        def run(self) -> list[Result]:
            quotas(self.aws, value)
            return super().run()

    return Stubbed
