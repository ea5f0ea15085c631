"""The deployed roles against what the service does with them (local/iam; moto checks no IAM).

Every suite's calls are checked by the tests/permissions.py plugin; here: the template's own
integrations (the state machine's tasks, the SQS event sources), and proof that a grant taken away
from the synthesized template fails the check, with the incident that motivated it: the webhook
sender without dynamodb:GetItem on the users table.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import boto3
import pytest

from lambdas.common.lifecycle import event_body
from lambdas.common.models import JobStatus
from lambdas.webhook_sender import handler as sender
from local.iam.check import TemplatePermissions
from local.iam.policies import Decision
from local.iam.requests import IamRequest
from local.lambda_context import LambdaContext
from tests import factories
from tests.permissions import RECORDER, SCOPE


@pytest.fixture(scope="module")
def permissions(template_json: dict, cloud_assembly: Path) -> TemplatePermissions:
    return TemplatePermissions(template_json, SCOPE, cloud_assembly)


def _id(template: dict, resource_type: str, fragment: str) -> str:
    (found,) = [k for k, v in template["Resources"].items() if v["Type"] == resource_type and fragment in k]
    return found


def without(template: dict, role_fragment: str, action: str, resource_fragment: str) -> dict:
    """A copy of the template whose role no longer has `action` on the resources naming the
    fragment (a statement that also names other resources keeps them)."""
    changed = copy.deepcopy(template)
    role = {"Ref": _id(template, "AWS::IAM::Role", role_fragment)}
    removed = 0
    for resource in changed["Resources"].values():
        if resource["Type"] != "AWS::IAM::Policy" or role not in resource["Properties"]["Roles"]:
            continue
        statements = resource["Properties"]["PolicyDocument"]["Statement"]
        for statement in list(statements):
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            targets = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            hit = [r for r in targets if resource_fragment in json.dumps(r)]
            if action not in actions or not hit:
                continue
            others = [r for r in targets if r not in hit]
            if others:
                statement["Resource"] = others
                statements.append({**statement, "Resource": hit})
                statement = statements[-1]
            statement["Action"] = [a for a in actions if a != action]
            removed += 1
    assert removed, f"{role_fragment} has no {action} on {resource_fragment}"
    return changed


def test_the_state_machine_tasks_and_the_event_sources_are_allowed(
    permissions: TemplatePermissions, template_json: dict
) -> None:
    machine = _id(template_json, "AWS::StepFunctions::StateMachine", "StateMachine")
    tasks = permissions.state_machine_requests(machine, permissions.resolved().resolver)
    actions = {(state, request.action) for state, request in tasks}
    # The deployed definition (the ASL asset with its substitutions), direct integrations included.
    assert {
        ("CheckReservation", "dynamodb:GetItem"),
        ("MarkProcessing", "dynamodb:ConditionCheckItem"),
        ("MarkProcessing", "dynamodb:UpdateItem"),
        ("Generate", "lambda:InvokeFunction"),
    } <= actions
    assert permissions.check_static() == []


def test_a_state_machine_role_without_a_transactions_item_action_fails(
    template_json: dict, cloud_assembly: Path
) -> None:
    changed = without(template_json, "StateMachineRole", "dynamodb:ConditionCheckItem", "DataUsers")
    (violation,) = TemplatePermissions(changed, SCOPE, cloud_assembly).check_static()
    assert (violation.origin, violation.request.action) == ("MarkProcessing", "dynamodb:ConditionCheckItem")
    assert violation.verdict.decision is Decision.IMPLICIT_DENY


def test_an_event_source_whose_function_cannot_receive_fails(
    template_json: dict, cloud_assembly: Path
) -> None:
    changed = without(template_json, "InferenceCallbackRole", "sqs:ReceiveMessage", "Notifications")
    (violation,) = TemplatePermissions(changed, SCOPE, cloud_assembly).check_static()
    assert violation.request.action == "sqs:ReceiveMessage"
    assert violation.origin == "event source mapping"


def _deliver_one_webhook(names: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real webhook sender, one SQS record of a song whose webhook receiver is down (moto)."""
    from lambdas.common import runtime

    monkeypatch.setenv("WEBHOOK_ALLOW_HTTP_LOOPBACK", "true")
    runtime.reset_all()
    factories.users().get_or_create("alice", signup_credits=5)
    request = {"mode": "description", "description": "a song"}
    job = factories.put_job(
        "alice", JobStatus.PROCESSED, request=request, webhook_url="http://127.0.0.1:9/hook"
    )
    sqs = boto3.client("sqs")
    queue_url = sqs.get_queue_url(QueueName=names.webhook_queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sqs.send_message(
        QueueUrl=queue_url, MessageBody=json.dumps({"detail": event_body(job, "song.processed")})
    )
    (message,) = sqs.receive_message(QueueUrl=queue_url, AttributeNames=["All"])["Messages"]
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message["Attributes"],
        "eventSourceARN": arn,
    }
    sender.lambda_handler({"Records": [record]}, LambdaContext("webhook-sender"))


def test_the_webhook_sender_without_get_item_on_users_fails(
    aws_env: Any, template_json: dict, cloud_assembly: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mark = RECORDER.mark()
    _deliver_one_webhook(aws_env, monkeypatch)
    calls = RECORDER.since(mark)
    operations = {call.operation for call in calls}
    assert {"dynamodb:GetItem", "sqs:ChangeMessageVisibility"} <= operations  # it read, failed, retried
    assert TemplatePermissions(template_json, SCOPE, cloud_assembly).check(calls) == []

    changed = without(template_json, "WebhookSenderRole", "dynamodb:GetItem", "DataUsers")
    (violation,) = TemplatePermissions(changed, SCOPE, cloud_assembly).check(calls)
    users = f"arn:aws:dynamodb:{SCOPE.region}:{SCOPE.account}:table/{aws_env.users_table}"
    assert violation.request == IamRequest("dynamodb:GetItem", users)
    assert violation.subject == "lambdas.webhook_sender.handler.lambda_handler"
    assert "WebhookSenderRole" in violation.role
