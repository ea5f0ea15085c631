"""Every service-to-service delivery is allowed by the policies AWS evaluates for it.

moto checks none of these (topic policies, queue policies, key policies, bucket policies), so each
delivery is asserted on the synthesized template: who sends, where to, and which resource policy
(and, for encrypted targets, which key policy) lets it. The deliveries are found by walking the
template (every alarm action, every subscription, every event target), not from a hand-made list.
"""

from __future__ import annotations

import json
from typing import Any

Resources = dict[str, dict[str, Any]]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _ref(value: Any) -> str | None:
    """The logical id a Ref or GetAtt points at."""
    if isinstance(value, dict) and "Ref" in value:
        return value["Ref"]
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return value["Fn::GetAtt"][0]
    return None


def _statements(document: dict) -> list[dict]:
    return _as_list(document["Statement"])


def _allows(statement: dict, service: str, action: str) -> bool:
    if statement["Effect"] != "Allow":
        return False
    principals = _as_list(statement.get("Principal", {}).get("Service", []))
    actions = _as_list(statement["Action"])
    granted = any(a == action or (a.endswith("*") and action.startswith(a[:-1])) for a in actions)
    return service in principals and granted


def _denies_everything_but_tls(document: dict) -> None:
    for statement in _statements(document):
        if statement["Effect"] == "Deny":
            assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}, statement


def _topic_policy(resources: Resources, topic_id: str) -> dict:
    policies = [
        r["Properties"]["PolicyDocument"]
        for r in resources.values()
        if r["Type"] == "AWS::SNS::TopicPolicy" and {"Ref": topic_id} in r["Properties"]["Topics"]
    ]
    assert len(policies) == 1, f"{topic_id} has {len(policies)} topic policies"
    return policies[0]


def _key_policy_of(resources: Resources, encrypted: dict, key_property: str) -> dict:
    key_id = _ref(encrypted["Properties"][key_property])
    assert key_id and resources[key_id]["Type"] == "AWS::KMS::Key", encrypted
    return resources[key_id]["Properties"]["KeyPolicy"]


def _assert_same_account_conditions(statement: dict) -> None:
    condition = json.dumps(statement.get("Condition", {}))
    assert "aws:SourceAccount" in condition and "AWS::AccountId" in condition, statement
    assert "aws:SourceArn" in condition and ":alarm:" in condition, statement


def _alarm_targets(resources: Resources) -> list[tuple[str, str]]:
    targets = []
    for alarm_id, alarm in resources.items():
        if alarm["Type"] != "AWS::CloudWatch::Alarm":
            continue
        props = alarm["Properties"]
        kinds = ("AlarmActions", "OKActions", "InsufficientDataActions")
        for action in [a for kind in kinds for a in props.get(kind, [])]:
            target = _ref(action)
            assert target, f"{alarm_id}: action {action} is not a resource of this stack"
            targets.append((alarm_id, target))
    return targets


def test_every_topic_an_alarm_notifies_lets_cloudwatch_publish(template_json: dict) -> None:
    resources = template_json["Resources"]
    topics = {t for _, t in _alarm_targets(resources) if resources[t]["Type"] == "AWS::SNS::Topic"}
    assert topics, "no alarm notifies a topic"
    for topic_id in topics:
        policy = _topic_policy(resources, topic_id)
        _denies_everything_but_tls(policy)
        publish = [s for s in _statements(policy) if _allows(s, "cloudwatch.amazonaws.com", "sns:Publish")]
        assert publish, f"{topic_id}: CloudWatch may not publish (the topic policy replaced SNS's default)"
        for statement in publish:
            assert statement["Resource"] == {"Ref": topic_id}
            _assert_same_account_conditions(statement)
        if "KmsMasterKeyId" in resources[topic_id]["Properties"]:
            key_policy = _key_policy_of(resources, resources[topic_id], "KmsMasterKeyId")
            for action in ("kms:Decrypt", "kms:GenerateDataKey"):
                usable = [
                    s for s in _statements(key_policy) if _allows(s, "cloudwatch.amazonaws.com", action)
                ]
                assert usable, f"{topic_id}: CloudWatch may not {action} with the topic's key"
                for statement in usable:
                    _assert_same_account_conditions(statement)


def test_other_alarm_actions_are_scaling_policies(template_json: dict) -> None:
    resources = template_json["Resources"]
    kinds = {resources[t]["Type"] for _, t in _alarm_targets(resources)}
    assert kinds <= {"AWS::SNS::Topic", "AWS::ApplicationAutoScaling::ScalingPolicy"}, kinds


def _role_statements(resources: Resources, role_id: str) -> list[dict]:
    return [
        s
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
        for s in _statements(r["Properties"]["PolicyDocument"])
    ]


def _identity_allows(statements: list[dict], action: str, resource: Any) -> bool:
    return any(
        s["Effect"] == "Allow" and action in _as_list(s["Action"]) and resource in _as_list(s["Resource"])
        for s in statements
    )


def _key_trusts_account_iam(key_policy: dict) -> bool:
    """CDK's default key statement: the account's IAM policies decide (kms:* for the root)."""
    return any(
        s["Effect"] == "Allow"
        and "kms:*" in _as_list(s["Action"])
        and ":root" in json.dumps(s["Principal"].get("AWS", ""))
        for s in _statements(key_policy)
    )


def test_sagemaker_may_publish_its_async_notifications(template_json: dict) -> None:
    """SageMaker publishes the success/error notifications with the model's execution role."""
    resources = template_json["Resources"]
    (model,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Model"]
    role_id = _ref(model["Properties"]["ExecutionRoleArn"])
    statements = _role_statements(resources, role_id)
    (config,) = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::EndpointConfig"]
    notification = config["Properties"]["AsyncInferenceConfig"]["OutputConfig"]["NotificationConfig"]
    for topic in notification.values():
        topic_id = _ref(topic)
        assert _identity_allows(statements, "sns:Publish", {"Ref": topic_id}), topic_id
        _denies_everything_but_tls(_topic_policy(resources, topic_id))
        key_id = _ref(resources[topic_id]["Properties"]["KmsMasterKeyId"])
        key_arn = {"Fn::GetAtt": [key_id, "Arn"]}
        for action in ("kms:Decrypt", "kms:GenerateDataKey*"):
            assert _identity_allows(statements, action, key_arn), (topic_id, action)
        assert _key_trusts_account_iam(resources[key_id]["Properties"]["KeyPolicy"])


def _queue_policies(resources: Resources, queue_id: str) -> list[dict]:
    return [
        s
        for r in resources.values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and {"Ref": queue_id} in r["Properties"]["Queues"]
        for s in _statements(r["Properties"]["PolicyDocument"])
    ]


def _assert_queue_accepts(resources: Resources, queue_id: str, service: str, source: Any) -> None:
    statements = _queue_policies(resources, queue_id)
    sends = [s for s in statements if _allows(s, service, "sqs:SendMessage")]
    assert sends, f"{queue_id}: {service} may not send"
    assert any(json.dumps(source) in json.dumps(s.get("Condition", {})) for s in sends), (
        f"{queue_id}: {service} is not limited to its source {source}"
    )
    _denies_everything_but_tls({"Statement": statements})
    queue = resources[queue_id]["Properties"]
    if "KmsMasterKeyId" in queue:
        key_policy = _key_policy_of(resources, resources[queue_id], "KmsMasterKeyId")
        for action in ("kms:Decrypt", "kms:GenerateDataKey"):
            assert any(_allows(s, service, action) for s in _statements(key_policy)), (queue_id, action)
    else:
        assert queue.get("SqsManagedSseEnabled") is True, queue_id


def test_sns_may_deliver_to_every_subscribed_queue(template_json: dict) -> None:
    resources = template_json["Resources"]
    subscriptions = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::SNS::Subscription"]
    sqs = [s for s in subscriptions if s["Protocol"] == "sqs"]
    assert sqs
    for subscription in sqs:
        _assert_queue_accepts(
            resources, _ref(subscription["Endpoint"]), "sns.amazonaws.com", subscription["TopicArn"]
        )


def test_eventbridge_may_invoke_every_target_and_its_dead_letter_queue(template_json: dict) -> None:
    resources = template_json["Resources"]
    rules = {k: r for k, r in resources.items() if r["Type"] == "AWS::Events::Rule"}
    assert rules
    for rule_id, rule in rules.items():
        rule_arn = {"Fn::GetAtt": [rule_id, "Arn"]}
        for target in rule["Properties"]["Targets"]:
            function_id = _ref(target["Arn"])
            if resources[function_id]["Type"] == "AWS::SQS::Queue":  # the webhook rule's queue
                _assert_queue_accepts(resources, function_id, "events.amazonaws.com", rule_arn)
                continue
            assert resources[function_id]["Type"] == "AWS::Lambda::Function"
            permissions = [
                r["Properties"]
                for r in resources.values()
                if r["Type"] == "AWS::Lambda::Permission"
                and _ref(r["Properties"]["FunctionName"]) == function_id
                and r["Properties"]["Principal"] == "events.amazonaws.com"
            ]
            assert any(p["SourceArn"] == rule_arn for p in permissions), rule_id
            dlq = target.get("DeadLetterConfig", {}).get("Arn")
            if dlq:
                _assert_queue_accepts(resources, _ref(dlq), "events.amazonaws.com", rule_arn)


def test_s3_may_write_server_access_logs(template_json: dict) -> None:
    resources = template_json["Resources"]
    logged = {
        k: r["Properties"]["LoggingConfiguration"]
        for k, r in resources.items()
        if r["Type"] == "AWS::S3::Bucket" and "LoggingConfiguration" in r["Properties"]
    }
    assert logged
    for bucket_id, logging in logged.items():
        target = _ref(logging["DestinationBucketName"])
        policies = [
            s
            for r in resources.values()
            if r["Type"] == "AWS::S3::BucketPolicy" and _ref(r["Properties"]["Bucket"]) == target
            for s in _statements(r["Properties"]["PolicyDocument"])
        ]
        writes = [s for s in policies if _allows(s, "logging.s3.amazonaws.com", "s3:PutObject")]
        assert any(json.dumps({"Fn::GetAtt": [bucket_id, "Arn"]}) in json.dumps(s) for s in writes), bucket_id


def test_flow_logs_role_may_write_its_log_group(template_json: dict) -> None:
    resources = template_json["Resources"]
    flow_logs = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::EC2::FlowLog"]
    assert flow_logs
    for flow_log in flow_logs:
        role_id = _ref(flow_log["DeliverLogsPermissionArn"])
        trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]
        assert any(_allows(s, "vpc-flow-logs.amazonaws.com", "sts:AssumeRole") for s in _statements(trust))
        group = {"Fn::GetAtt": [_ref(flow_log["LogGroupName"]), "Arn"]}
        assert _identity_allows(_role_statements(resources, role_id), "logs:PutLogEvents", group)
