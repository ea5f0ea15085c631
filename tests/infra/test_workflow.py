"""The workflow and the async endpoint as synthesized: config, wiring, and least privilege."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from local.workflow import ASL_PATH, placeholders

from .conftest import CONFIG


def _one(template_json: dict, resource_type: str) -> tuple[str, dict]:
    found = [(k, v) for k, v in template_json["Resources"].items() if v["Type"] == resource_type]
    assert len(found) == 1, f"expected one {resource_type}, found {len(found)}"
    return found[0]


def _logical_id(template_json: dict, resource_type: str, fragment: str) -> str:
    ids = [k for k, v in template_json["Resources"].items() if v["Type"] == resource_type and fragment in k]
    assert len(ids) == 1, (resource_type, fragment, ids)
    return ids[0]


def _policy_statements(template_json: dict, role_fragment: str) -> list[dict]:
    role_id = _logical_id(template_json, "AWS::IAM::Role", role_fragment)
    statements = []
    for resource in template_json["Resources"].values():
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in resource["Properties"]["Roles"]:
            statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    return statements


def _actions(statements: list[dict]) -> set[str]:
    actions: set[str] = set()
    for statement in statements:
        value = statement["Action"]
        actions.update([value] if isinstance(value, str) else value)
    return actions


def test_endpoint_config_is_async_with_topics_and_output_paths(template_json: dict) -> None:
    _, config = _one(template_json, "AWS::SageMaker::EndpointConfig")
    async_config = config["Properties"]["AsyncInferenceConfig"]
    assert async_config["ClientConfig"] == {"MaxConcurrentInvocationsPerInstance": 1}
    output = async_config["OutputConfig"]
    success = _logical_id(template_json, "AWS::SNS::Topic", "SuccessTopic")
    error = _logical_id(template_json, "AWS::SNS::Topic", "ErrorTopic")
    assert output["NotificationConfig"] == {"SuccessTopic": {"Ref": success}, "ErrorTopic": {"Ref": error}}
    bucket = _logical_id(template_json, "AWS::S3::Bucket", "StorageInference")
    assert output["S3OutputPath"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket}, "/async-output"]]}
    assert output["S3FailurePath"] == {"Fn::Join": ["", ["s3://", {"Ref": bucket}, "/async-failures"]]}
    variant = config["Properties"]["ProductionVariants"][0]
    assert variant["InstanceType"] == "ml.g6e.2xlarge" and variant["VariantName"] == "AllTraffic"


def test_model_runs_the_container_with_its_settings(template: Template, template_json: dict) -> None:
    _, model = _one(template_json, "AWS::SageMaker::Model")
    container = model["Properties"]["PrimaryContainer"]
    assert "ModelDataSource" not in container  # the gates' template stages no weights
    assert container["Environment"] == {
        "MODEL_PROFILE": "full",
        "DEVICE": "cuda",
        "AWS_DEFAULT_REGION": "us-east-1",
        "MUSIC_ENGINE": "acestep",
        "LLM_MODEL_ID": "Qwen/Qwen2-7B-Instruct",
        "MUSIC_MODEL_ID": "ACE-Step/acestep-v15-xl-turbo-diffusers",
        "MUSICGEN_MODEL_ID": "facebook/musicgen-medium",
        "COVER_MODEL": "sdxl-lightning",
        "STEMS_ENABLED": "true",
    }
    assert "dkr.ecr" in json.dumps(container["Image"])  # the Docker image asset
    template.has_resource_properties("AWS::SageMaker::Endpoint", {"EndpointName": CONFIG.endpoint_name})


def test_autoscaling_from_zero_with_both_policies(template: Template, template_json: dict) -> None:
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalableTarget",
        {
            "MinCapacity": 0,
            "MaxCapacity": 2,
            "ResourceId": f"endpoint/{CONFIG.endpoint_name}/variant/AllTraffic",
            "ScalableDimension": "sagemaker:variant:DesiredInstanceCount",
            "ServiceNamespace": "sagemaker",
            "RoleARN": {"Fn::Join": ["", Match.array_with([Match.string_like_regexp("AWSServiceRoleFor")])]},
        },
    )
    template.has_resource_properties(
        "AWS::ApplicationAutoScaling::ScalingPolicy",
        {
            "PolicyType": "TargetTrackingScaling",
            "TargetTrackingScalingPolicyConfiguration": Match.object_like(
                {
                    "CustomizedMetricSpecification": Match.object_like(
                        {"MetricName": "ApproximateBacklogSizePerInstance", "Namespace": "AWS/SageMaker"}
                    )
                }
            ),
        },
    )
    step = _logical_id(template_json, "AWS::ApplicationAutoScaling::ScalingPolicy", "ScaleOutFromZero")
    assert template_json["Resources"][step]["Properties"]["StepScalingPolicyConfiguration"][
        "StepAdjustments"
    ] == [{"MetricIntervalLowerBound": 0, "ScalingAdjustment": 1}]
    template.has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "MetricName": "HasBacklogWithoutCapacity",
            "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "AlarmActions": [{"Ref": step}],
        },
    )


def test_topics_are_encrypted_and_tls_only(template: Template, template_json: dict) -> None:
    topics = template.find_resources("AWS::SNS::Topic")
    workflow_topics = {k: v for k, v in topics.items() if "Inference" in k}
    assert len(workflow_topics) == 2
    for topic in workflow_topics.values():
        assert "KmsMasterKeyId" in topic["Properties"]
    template.has_resource_properties("AWS::KMS::Key", {"EnableKeyRotation": True})
    for policy in template.find_resources("AWS::SNS::TopicPolicy").values():
        deny = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert deny and deny[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_queue_has_a_dlq_and_raw_subscriptions(template: Template, template_json: dict) -> None:
    dlq = _logical_id(template_json, "AWS::SQS::Queue", "InferenceNotificationsDlq")
    queue = next(
        k
        for k, v in template_json["Resources"].items()
        if v["Type"] == "AWS::SQS::Queue" and "InferenceNotifications" in k and k != dlq
    )
    props = template_json["Resources"][queue]["Properties"]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq, "Arn"]},
        "maxReceiveCount": 5,
    }
    assert props["SqsManagedSseEnabled"] is True and props["VisibilityTimeout"] == 180
    subscriptions = template.find_resources("AWS::SNS::Subscription")
    assert len(subscriptions) == 2
    for subscription in subscriptions.values():
        assert subscription["Properties"]["RawMessageDelivery"] is True
        assert subscription["Properties"]["Endpoint"] == {"Fn::GetAtt": [queue, "Arn"]}
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "BatchSize": 10,
        },
    )


def test_state_machine_logs_traces_and_resolves_every_substitution(
    template_json: dict, cloud_assembly: Path
) -> None:
    _, machine = _one(template_json, "AWS::StepFunctions::StateMachine")
    props = machine["Properties"]
    assert props["StateMachineType"] == "STANDARD"
    assert props["TracingConfiguration"] == {"Enabled": True}
    assert props["LoggingConfiguration"]["Level"] == "ALL"
    assert props["LoggingConfiguration"]["IncludeExecutionData"] is True
    definition = ASL_PATH.read_text()
    assert set(props["DefinitionSubstitutions"]) == placeholders(definition)
    assert all(value not in (None, "") for value in props["DefinitionSubstitutions"].values())
    assert props["DefinitionSubstitutions"]["InferenceTimeoutSeconds"] == "2700"
    # The deployed definition is the file itself (an S3 asset), substituted by CloudFormation.
    asset_key = props["DefinitionS3Location"]["Key"]
    assert (cloud_assembly / f"asset.{asset_key.split('.')[0]}.json").read_text() == definition


def test_reaper_listens_to_executions_that_ended_badly(template: Template, template_json: dict) -> None:
    machine, _ = _one(template_json, "AWS::StepFunctions::StateMachine")
    template.has_resource_properties(
        "AWS::Events::Rule",
        {
            "EventPattern": {
                "source": ["aws.states"],
                "detail-type": ["Step Functions Execution Status Change"],
                "detail": {
                    "status": ["ABORTED", "TIMED_OUT", "FAILED"],
                    "stateMachineArn": [{"Ref": machine}],
                },
            },
            "Targets": [Match.object_like({"DeadLetterConfig": Match.any_value()})],
        },
    )


WORKFLOW_ROLES = ["AcquireSlot", "StartInference", "Publish", "Finalize", "InferenceCallback", "Reaper"]


@pytest.mark.parametrize("role", [*WORKFLOW_ROLES, "InferenceExecutionRole", "StateMachineRole"])
def test_no_service_wide_actions(template_json: dict, role: str) -> None:
    for action in _actions(_policy_statements(template_json, role)):
        assert not action.endswith(":*") and action != "*", (role, action)


def test_each_task_gets_only_what_it_does(template_json: dict) -> None:
    def actions(role: str) -> set[str]:
        return {
            a
            for a in _actions(_policy_statements(template_json, role))
            if not a.startswith(("logs:", "xray:"))
        }

    assert actions("StartInference") == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "s3:PutObject",
        "sagemaker:InvokeEndpointAsync",
        "events:PutEvents",  # song.processing (stacks/webhooks.py)
    }
    assert actions("InferenceCallback") == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "s3:GetObject",
        "s3:ListBucket",  # a late result of a canceled job is removed
        "s3:DeleteObject",
        "states:SendTaskSuccess",
        "states:SendTaskFailure",
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }
    assert actions("Publish") == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "s3:GetObject",
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:ListBucket",  # a retried copy of a removed scratch source must see 404, not 403
    }
    assert "s3:DeleteObject" not in actions("AcquireSlot") and "sagemaker:InvokeEndpointAsync" not in actions(
        "Finalize"
    )
    invoke = [
        s
        for s in _policy_statements(template_json, "StartInference")
        if "sagemaker" in json.dumps(s["Action"])
    ]
    assert json.dumps(invoke[0]["Resource"]).count(f"endpoint/{CONFIG.endpoint_name}") == 1


def test_endpoint_role_reads_requests_and_writes_results_only(template_json: dict) -> None:
    statements = _policy_statements(template_json, "InferenceExecutionRole")
    s3: dict[str, Any] = {}
    for statement in statements:
        for action in [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]:
            if action.startswith("s3:"):
                s3.setdefault(action, []).append(json.dumps(statement["Resource"]))
    assert set(s3) == {"s3:GetObject", "s3:PutObject"}
    # Requests, plus the audio-in sources (uploads and published songs: tests/infra/test_uploads.py)
    # and the personas' reference clips (tests/infra/test_personas.py).
    assert all(
        any(p in r for p in ("/requests/*", "/uploads/*", "/songs/*", "/personas/*"))
        for r in s3["s3:GetObject"]
    )
    written = " ".join(s3["s3:PutObject"])
    assert all(p in written for p in ("/media/*", "/async-output/*", "/async-failures/*"))
    assert "sns:Publish" in _actions(statements)


def test_state_machine_and_charge_have_exactly_the_table_actions_they_use(template_json: dict) -> None:
    """The direct integrations read the job's reservation (jobs GetItem), and MarkProcessing is a
    transaction: the user's slot check (ConditionCheckItem) + the job update. The charge moved to
    finalize-job: its capture/release transactions update both rows (UpdateItem on each)."""
    tables = {
        key: _logical_id(template_json, "AWS::DynamoDB::Table", fragment)
        for key, fragment in (("jobs", "Jobs"), ("users", "Users"))
    }

    def granted(role: str) -> dict[str, set[str]]:
        found: dict[str, set[str]] = {}
        for statement in _policy_statements(template_json, role):
            for action in _actions([statement]):
                if action.startswith("dynamodb:"):
                    resources = json.dumps(statement["Resource"])
                    found.setdefault(action, set()).update(k for k, t in tables.items() if t in resources)
        return found

    assert granted("StateMachineRole") == {
        "dynamodb:GetItem": {"jobs"},
        "dynamodb:UpdateItem": {"jobs"},
        "dynamodb:ConditionCheckItem": {"users"},
    }
    for role in ("Finalize", "Reaper"):
        actions = granted(role)
        assert actions["dynamodb:UpdateItem"] == {"jobs", "users"}, role
