"""Lifecycle bus, webhook queue and sender, cancel and queue-position grants, as synthesized."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match, Template

from lambdas.common.event_catalog import WEBHOOK_RULE_PATTERN
from lambdas.webhooks.schedule import (
    DELIVERY_DEADLINE_S,
    MAX_ATTEMPTS,
    RETRY_SCHEDULE_S,
    SENDER_RESERVE_S,
    WEBHOOK_SENDER_TIMEOUT_S,
)

from .test_workflow import _actions, _logical_id, _policy_statements


def _bus_id(template_json: dict) -> str:
    return _logical_id(template_json, "AWS::Events::EventBus", "EventsBus")


def _queue_ids(template_json: dict) -> tuple[str, str]:
    return (
        _logical_id(template_json, "AWS::SQS::Queue", "WebhookQueue"),
        _logical_id(template_json, "AWS::SQS::Queue", "WebhookDlq"),
    )


def test_rule_on_the_bus_sends_songs_with_a_webhook_to_the_queue(template_json: dict) -> None:
    rules = {
        k: v["Properties"]
        for k, v in template_json["Resources"].items()
        if v["Type"] == "AWS::Events::Rule" and "WebhookEvents" in k
    }
    (rule,) = rules.values()
    queue_id, _ = _queue_ids(template_json)
    assert rule["EventBusName"] == {"Ref": _bus_id(template_json)}
    assert rule["EventPattern"] == WEBHOOK_RULE_PATTERN
    assert [t["Arn"] for t in rule["Targets"]] == [{"Fn::GetAtt": [queue_id, "Arn"]}]


def test_queue_policy_lets_only_this_rule_send(template_json: dict) -> None:
    queue_id, _ = _queue_ids(template_json)
    rule_id = _logical_id(template_json, "AWS::Events::Rule", "WebhookEvents")
    policies = [
        v["Properties"]
        for v in template_json["Resources"].values()
        if v["Type"] == "AWS::SQS::QueuePolicy" and {"Ref": queue_id} in v["Properties"]["Queues"]
    ]
    statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]
    from_events = [s for s in statements if s.get("Principal") == {"Service": "events.amazonaws.com"}]
    assert len(from_events) == 1
    (grant,) = from_events
    assert grant["Effect"] == "Allow"
    assert "sqs:SendMessage" in _actions([grant])
    assert grant["Condition"] == {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [rule_id, "Arn"]}}}
    # TLS only, as every queue of the stack.
    assert any(s["Effect"] == "Deny" and "aws:SecureTransport" in json.dumps(s) for s in statements)


def test_queues_use_sqs_managed_encryption_so_no_key_policy_is_needed(template_json: dict) -> None:
    for queue_id in _queue_ids(template_json):
        props = template_json["Resources"][queue_id]["Properties"]
        assert props.get("SqsManagedSseEnabled") is True and "KmsMasterKeyId" not in props


def test_retries_outlive_no_message_and_end_in_the_dlq(template_json: dict) -> None:
    queue_id, dlq_id = _queue_ids(template_json)
    props = template_json["Resources"][queue_id]["Properties"]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]},
        "maxReceiveCount": MAX_ATTEMPTS,
    }
    assert props["MessageRetentionPeriod"] > sum(RETRY_SCHEDULE_S)


def test_a_batch_of_deadlines_fits_the_sender_and_its_queue(template_json: dict) -> None:
    """Each delivery ends by its deadline and the handler returns SENDER_RESERVE_S before the
    function's timeout; the queue hides a batch for six function timeouts (Lambda's guidance)."""
    queue_id, _ = _queue_ids(template_json)
    (sender,) = [
        v["Properties"]
        for k, v in template_json["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and "WebhookSender" in k
    ]
    assert sender["Timeout"] == WEBHOOK_SENDER_TIMEOUT_S >= DELIVERY_DEADLINE_S + SENDER_RESERVE_S
    visibility = template_json["Resources"][queue_id]["Properties"]["VisibilityTimeout"]
    assert visibility >= 6 * sender["Timeout"]


def test_only_the_sender_carries_the_signing_layer(template_json: dict) -> None:
    """The Standard Webhooks library reaches the sender as a layer for its runtime; no other
    function needs it (the API makes secrets with the standard library: lambdas/webhooks/secret.py)."""
    layer_id = _logical_id(template_json, "AWS::Lambda::LayerVersion", "SigningLayer")
    layer = template_json["Resources"][layer_id]["Properties"]
    assert layer["CompatibleRuntimes"] == ["python3.12"]
    assert layer["CompatibleArchitectures"] == ["x86_64"]
    carriers = {
        k
        for k, v in template_json["Resources"].items()
        if v["Type"] == "AWS::Lambda::Function" and {"Ref": layer_id} in v["Properties"].get("Layers", [])
    }
    assert carriers == {_logical_id(template_json, "AWS::Lambda::Function", "WebhookSender")}


def test_sender_consumes_with_partial_batch_failures(template: Template, template_json: dict) -> None:
    queue_id, _ = _queue_ids(template_json)
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue_id, "Arn"]},
            "BatchSize": 10,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )


def test_sender_may_read_and_create_the_users_secret(template_json: dict) -> None:
    """webhook_secret reads the user row first (GetItem), then creates a missing secret (UpdateItem):
    both on the users table itself, which moto would not check."""
    users = next(
        k
        for k, r in template_json["Resources"].items()
        if r["Type"] == "AWS::DynamoDB::Table" and "Users" in k
    )
    on_users = {
        a
        for s in _policy_statements(template_json, "WebhookSender")
        if users in json.dumps(s["Resource"])
        for a in _actions([s])
    }
    assert on_users == {"dynamodb:GetItem", "dynamodb:UpdateItem"}


def test_sender_gets_only_what_it_does(template_json: dict) -> None:
    actions = {
        a
        for a in _actions(_policy_statements(template_json, "WebhookSender"))
        if not a.startswith(("logs:", "xray:"))
    }
    assert actions == {
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "sqs:ReceiveMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
    }


@pytest.mark.parametrize(
    ("role", "emits"),
    [
        ("ApiHandler", True),
        ("StartInference", True),
        ("Finalize", True),
        ("Reaper", True),
        ("AcquireSlot", False),
        ("Publish", False),
        ("InferenceCallback", False),
        ("WebhookSender", False),
    ],
)
def test_put_events_only_on_the_bus_and_only_by_emitters(template_json: dict, role: str, emits: bool) -> None:
    statements = [s for s in _policy_statements(template_json, role) if "events:PutEvents" in _actions([s])]
    if not emits:
        assert statements == []
        return
    assert [s["Resource"] for s in statements] == [{"Fn::GetAtt": [_bus_id(template_json), "Arn"]}]
    assert _actions(statements) == {"events:PutEvents"}


def test_the_deployed_stack_never_allows_http_webhooks(template_json: dict) -> None:
    functions = [v for v in template_json["Resources"].values() if v["Type"] == "AWS::Lambda::Function"]
    assert functions
    for function in functions:
        variables = function["Properties"].get("Environment", {}).get("Variables", {})
        assert variables.get("WEBHOOK_ALLOW_HTTP_LOOPBACK", "false") == "false"


def test_api_may_stop_only_this_state_machines_executions(template_json: dict) -> None:
    stops = [
        s for s in _policy_statements(template_json, "ApiHandler") if "states:StopExecution" in _actions([s])
    ]
    assert len(stops) == 1 and _actions(stops) == {"states:StopExecution"}
    machines = [
        v for v in template_json["Resources"].values() if v["Type"] == "AWS::StepFunctions::StateMachine"
    ]
    name = machines[0]["Properties"]["StateMachineName"]
    assert f"execution:{name}:*" in json.dumps(stops[0]["Resource"])


def test_jobs_by_status_index_for_the_queue_position(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "GlobalSecondaryIndexes": Match.array_with(
                [
                    Match.object_like(
                        {
                            "IndexName": "by_status",
                            "KeySchema": [
                                {"AttributeName": "status", "KeyType": "HASH"},
                                {"AttributeName": "created_at", "KeyType": "RANGE"},
                            ],
                            "Projection": {
                                "ProjectionType": "INCLUDE",
                                "NonKeyAttributes": ["started_at", "finished_at"],
                            },
                        }
                    )
                ]
            ),
            "SSESpecification": {"SSEEnabled": True},
        },
    )
