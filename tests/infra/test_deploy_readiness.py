"""What a real first `cdk deploy` needs beyond what moto checks (issue #21): the host driver, a
rollback that leaves nothing in the way, the account-level singletons, weights, the e-mail sender."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

import botocore.session
import pytest
from aws_cdk.assertions import Template

from app import build_app, new_app
from stacks.config import PROJECT_ROOT, ConfigError
from stacks.inference import GPU_AMIS, INFERENCE_AMI

from .conftest import synth

Resources = dict[str, dict[str, Any]]


def _of_type(resources: Resources, kind: str) -> Resources:
    return {k: r for k, r in resources.items() if r["Type"] == kind}


def _one(resources: Resources, kind: str) -> tuple[str, dict]:
    (item,) = _of_type(resources, kind).items()
    return item


# --- 1. the host's NVIDIA driver runs the image's CUDA build ---


def test_variant_pins_the_host_ami_whose_driver_runs_cuda_13(template_json: dict) -> None:
    _, config = _one(template_json["Resources"], "AWS::SageMaker::EndpointConfig")
    (variant,) = config["Properties"]["ProductionVariants"]
    assert variant["InferenceAmiVersion"] == INFERENCE_AMI
    # A value SageMaker accepts (botocore's model of the API), with the R580 driver CUDA 13 needs;
    # tests/container/test_image_requirements.py checks the image's CUDA against it.
    accepted = botocore.session.get_session().get_service_model("sagemaker")
    assert INFERENCE_AMI in accepted.shape_for("ProductionVariantInferenceAmiVersion").enum
    driver, cuda = GPU_AMIS[INFERENCE_AMI]
    assert driver >= 580 and cuda >= (13, 0)


# --- 2. a failed first deploy leaves nothing that blocks the next ---

NAME_PROPERTIES = ("BucketName", "TableName", "QueueName", "TopicName", "RoleName", "UserPoolName")


def _names_only_pseudo_parameters(value: Any, resources: Resources) -> bool:
    """True when a name is known before deploy: a literal, or joined from AWS::* pseudo parameters
    only (no reference to a resource of the stack, whose generated names differ per deploy)."""
    if isinstance(value, dict):
        if "Ref" in value:
            return value["Ref"] not in resources
        if "Fn::GetAtt" in value:
            return False
        return all(_names_only_pseudo_parameters(v, resources) for v in value.values())
    if isinstance(value, list):
        return all(_names_only_pseudo_parameters(v, resources) for v in value)
    return True


def test_no_fixed_name_outlives_a_rolled_back_create(template_json: dict) -> None:
    resources = template_json["Resources"]
    fixed = {
        logical_id: resource
        for logical_id, resource in resources.items()
        for name in NAME_PROPERTIES
        if name in resource.get("Properties", {})
        and _names_only_pseudo_parameters(resource["Properties"][name], resources)
    }
    assert fixed, "the uploads bucket has a fixed name"
    for logical_id, resource in fixed.items():
        assert resource.get("DeletionPolicy", "Delete") in ("Delete", "RetainExceptOnCreate"), logical_id


def test_stateful_resources_are_kept_but_not_left_by_a_failed_create(template_json: dict) -> None:
    resources = template_json["Resources"]
    buckets = _of_type(resources, "AWS::S3::Bucket")
    policy = {k: (r.get("DeletionPolicy"), r.get("UpdateReplacePolicy")) for k, r in buckets.items()}
    for fragment in ("UploadsBucket", "StorageMedia", "StorageInference"):
        (key,) = [k for k in policy if fragment in k]
        assert policy[key] == ("RetainExceptOnCreate", "Retain"), key
    # Log deliveries may fill it during the deploy; a bucket with objects cannot be deleted.
    (logs,) = [k for k in policy if "AccessLogs" in k]
    assert policy[logs] == ("Retain", "Retain")
    for kind in ("AWS::KMS::Key",):
        for key, resource in _of_type(resources, kind).items():
            assert resource["DeletionPolicy"] == "RetainExceptOnCreate", key


def test_plain_retain_only_where_a_rollback_could_not_delete(template_json: dict) -> None:
    # Deletion protection makes DynamoDB and Cognito refuse the rollback's delete: plain Retain,
    # with generated names (checked above), is what keeps such a rollback from failing.
    resources = template_json["Resources"]
    for key, table in _of_type(resources, "AWS::DynamoDB::Table").items():
        protected = table["Properties"].get("DeletionProtectionEnabled", False)
        assert (table["DeletionPolicy"] == "Retain") == protected, key
    _, pool = _one(resources, "AWS::Cognito::UserPool")
    assert pool["DeletionPolicy"] == "Retain" and pool["Properties"]["DeletionProtection"] == "ACTIVE"


def test_a_throwaway_stage_keeps_nothing(tmp_path) -> None:
    resources = synth(tmp_path, stage_name="scratch", removal_policy_retain=False)["Resources"]
    for kind in ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Cognito::UserPool"):
        for key, resource in _of_type(resources, kind).items():
            assert resource["DeletionPolicy"] == "Delete", key


# --- 5. the account-level API Gateway logging role ---


def test_stage_logging_has_the_account_cloudwatch_role(template_json: dict) -> None:
    resources = template_json["Resources"]
    account_id, account = _one(resources, "AWS::ApiGateway::Account")
    role_id = account["Properties"]["CloudWatchRoleArn"]["Fn::GetAtt"][0]
    role = resources[role_id]
    (trust,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "apigateway.amazonaws.com"}
    assert "AmazonAPIGatewayPushToCloudWatchLogs" in json.dumps(role["Properties"]["ManagedPolicyArns"])
    # An account-wide singleton other APIs may rely on: never removed with this stack.
    assert account["DeletionPolicy"] == role["DeletionPolicy"] == "Retain"
    _, stage = _one(resources, "AWS::ApiGateway::Stage")
    assert account_id in stage["DependsOn"], "the role is in place before the stage turns logging on"
    assert stage["Properties"]["MethodSettings"][0]["LoggingLevel"] == "ERROR"


def test_an_account_whose_role_is_managed_elsewhere_is_left_alone(tmp_path) -> None:
    template = Template.from_json(synth(tmp_path, stage_name="shared", apigateway_cloudwatch_role=False))
    template.resource_count_is("AWS::ApiGateway::Account", 0)
    assert not template.find_resources(
        "AWS::IAM::Role",
        {
            "Properties": {
                "AssumeRolePolicyDocument": {
                    "Statement": [{"Principal": {"Service": "apigateway.amazonaws.com"}}]
                }
            }
        },
    )


# --- 6. no weights, no deploy ---


def test_a_deploy_without_weights_stops_at_synthesis(tmp_path) -> None:
    # What `cdk deploy` runs with cdk.json as it is (no model data, no internet, no override).
    with pytest.raises(ConfigError, match=r"model_data_s3_uri is unset.*stage_weights.*allow_no_model_data"):
        build_app(new_app(str(tmp_path)))


def test_the_cli_app_names_the_fix_without_a_traceback(tmp_path) -> None:
    # `cdk deploy` runs `python app.py` (cdk.json's "app") with cdk.json's context.
    env = {**os.environ, "CDK_OUTDIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "app.py"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: model_data_s3_uri is unset") and "Traceback" not in result.stderr


def test_staged_weights_keep_the_container_off_the_hub(staged_template: dict, tmp_path) -> None:
    _, model = _one(staged_template["Resources"], "AWS::SageMaker::Model")
    container = model["Properties"]["PrimaryContainer"]
    assert container["ModelDataSource"]["S3DataSource"]["S3Uri"] == "s3://model-bucket/song-model/v1/"
    assert container["Environment"]["HF_HUB_OFFLINE"] == "1"
    hub = synth(tmp_path, stage_name="hub", model_internet_access=True, allow_no_model_data=False)
    _, model = _one(hub["Resources"], "AWS::SageMaker::Model")
    assert "HF_HUB_OFFLINE" not in model["Properties"]["PrimaryContainer"]["Environment"]


# --- 9. the container's AWS clients know the region ---


def test_container_clients_get_the_stack_region(staged_template: dict) -> None:
    _, model = _one(staged_template["Resources"], "AWS::SageMaker::Model")
    assert model["Properties"]["PrimaryContainer"]["Environment"]["AWS_DEFAULT_REGION"] == "us-east-1"


# --- 8. Cognito mails through SES when configured ---


def test_cognito_uses_its_own_sender_by_default(template_json: dict) -> None:
    _, pool = _one(template_json["Resources"], "AWS::Cognito::UserPool")
    email = pool["Properties"].get("EmailConfiguration", {"EmailSendingAccount": "COGNITO_DEFAULT"})
    assert email["EmailSendingAccount"] == "COGNITO_DEFAULT"


def test_cognito_sends_through_the_configured_ses_identity(tmp_path) -> None:
    resources = synth(
        tmp_path,
        stage_name="mailer",
        ses_from_email="no-reply@example.com",
        ses_from_name="Song Service",
        ses_reply_to="support@example.com",
        ses_verified_domain="example.com",
    )["Resources"]
    _, pool = _one(resources, "AWS::Cognito::UserPool")
    email = pool["Properties"]["EmailConfiguration"]
    assert email["EmailSendingAccount"] == "DEVELOPER"
    assert email["From"] == "Song Service <no-reply@example.com>"
    assert email["ReplyToEmailAddress"] == "support@example.com"
    # The verified identity is the domain: SES authorizes the sender through it.
    arn = json.dumps(email["SourceArn"])
    assert ":ses:us-east-1:" in arn and "identity/example.com" in arn


# --- 10. Application Auto Scaling's service-linked role ---


def test_scalable_target_names_the_service_linked_role_autoscaling_creates(template_json: dict) -> None:
    # CloudFormation's ScalableTarget docs: with the service-linked role's full ARN in RoleARN,
    # Application Auto Scaling creates the role if the account has none yet (RegisterScalableTarget
    # does). An AWS::IAM::ServiceLinkedRole would fail in every account that already has it, and
    # CDK's default (a new role) is one Application Auto Scaling does not use for SageMaker.
    resources = template_json["Resources"]
    _, target = _one(resources, "AWS::ApplicationAutoScaling::ScalableTarget")
    assert target["Properties"]["RoleARN"] == {
        "Fn::Join": [
            "",
            [
                "arn:aws:iam::",
                {"Ref": "AWS::AccountId"},
                ":role/aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
                "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint",
            ],
        ]
    }
    assert not _of_type(resources, "AWS::IAM::ServiceLinkedRole")
    assert "application-autoscaling.amazonaws.com" not in json.dumps(_of_type(resources, "AWS::IAM::Role"))
