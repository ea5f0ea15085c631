"""The uploads unit as synthesized: bucket guard rails, expiry, CORS, the S3 -> SQS -> check path and
its permissions as AWS checks them (queue policy, event source), and who may read the sources."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Match, Template

from lambdas.common.contract import UPLOADS_BY_USER
from stacks.uploads import AUDIO_LAYER_DIR


def _ids(template_json: dict, resource_type: str, fragment: str) -> list[str]:
    return [k for k, v in template_json["Resources"].items() if v["Type"] == resource_type and fragment in k]


def _one_id(template_json: dict, resource_type: str, fragment: str) -> str:
    ids = _ids(template_json, resource_type, fragment)
    assert len(ids) == 1, (resource_type, fragment, ids)
    return ids[0]


def _statements(template_json: dict, role_fragment: str) -> list[dict]:
    role = _one_id(template_json, "AWS::IAM::Role", role_fragment)
    return [
        statement
        for resource in template_json["Resources"].values()
        if resource["Type"] == "AWS::IAM::Policy" and {"Ref": role} in resource["Properties"]["Roles"]
        for statement in resource["Properties"]["PolicyDocument"]["Statement"]
    ]


def _grants(statements: list[dict]) -> dict[str, list[str]]:
    """action -> the JSON of each resource it is allowed on."""
    found: dict[str, list[str]] = {}
    for statement in statements:
        actions = [statement["Action"]] if isinstance(statement["Action"], str) else statement["Action"]
        resources = (
            statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        )
        for action in actions:
            found.setdefault(action, []).extend(json.dumps(r) for r in resources)
    return found


def test_bucket_is_private_encrypted_logged_and_expires_unused_uploads(template_json: dict) -> None:
    bucket_id = _one_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    props = template_json["Resources"][bucket_id]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ] == {"SSEAlgorithm": "AES256"}
    assert all(props["PublicAccessBlockConfiguration"].values())
    assert props["LoggingConfiguration"]["LogFilePrefix"] == "uploads/"
    expire = next(r for r in props["LifecycleConfiguration"]["Rules"] if r.get("Id") == "ExpireUnusedUploads")
    assert expire["ExpirationInDays"] == 7 and expire["Prefix"] == "uploads/"
    assert expire["TagFilters"] == [{"Key": "retention", "Value": "unused"}]
    (cors,) = props["CorsConfiguration"]["CorsRules"]
    assert cors["AllowedMethods"] == ["POST"]
    policy = next(
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket_id}
    )
    assert any(
        s["Effect"] == "Deny" and s["Condition"].get("Bool", {}).get("aws:SecureTransport") == "false"
        for s in policy
    )


def test_table_expires_unused_rows_and_is_recoverable(template: Template) -> None:
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [{"AttributeName": "upload_id", "KeyType": "HASH"}],
            "TimeToLiveSpecification": {"AttributeName": "expires_at_epoch", "Enabled": True},
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "BillingMode": "PAY_PER_REQUEST",
        },
    )


def test_object_created_goes_to_the_check_queue_for_the_uploads_prefix(template_json: dict) -> None:
    queue = _one_id(template_json, "AWS::SQS::Queue", "UploadsCheckQueue")
    bucket = _one_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    (notification,) = [
        r for r in template_json["Resources"].values() if r["Type"] == "Custom::S3BucketNotifications"
    ]
    assert notification["Properties"]["BucketName"] == {"Ref": bucket}
    (config,) = notification["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
    assert config["QueueArn"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert config["Events"] == ["s3:ObjectCreated:*"]
    assert config["Filter"]["Key"]["FilterRules"] == [{"Name": "prefix", "Value": "uploads/"}]


def test_queue_policy_lets_only_this_bucket_in_this_account_send(template_json: dict) -> None:
    """S3 delivers only if the queue policy allows it; the conditions stop other buckets and accounts."""
    queue = _one_id(template_json, "AWS::SQS::Queue", "UploadsCheckQueue")
    bucket = _one_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    (policy,) = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::SQS::QueuePolicy" and r["Properties"]["Queues"] == [{"Ref": queue}]
    ]
    (allow,) = [s for s in policy if s["Effect"] == "Allow"]
    assert allow["Principal"] == {"Service": "s3.amazonaws.com"}
    assert allow["Action"] == "sqs:SendMessage"
    assert allow["Resource"] == {"Fn::GetAtt": [queue, "Arn"]}
    assert allow["Condition"] == {
        "ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": [bucket, "Arn"]}},
        "StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}},
    }
    # The notification is written after the policy exists (S3 validates the destination).
    (notification_id,) = _ids(template_json, "Custom::S3BucketNotifications", "")
    depends = template_json["Resources"][notification_id].get("DependsOn", [])
    assert any("UploadsCheckQueuePolicy" in d for d in depends)


def test_queue_is_encrypted_with_sqs_owned_keys_and_has_a_dlq(template_json: dict) -> None:
    """S3 cannot send to a queue under the AWS-managed aws/sqs KMS key; SSE-SQS needs no key policy."""
    queue_id = _one_id(template_json, "AWS::SQS::Queue", "UploadsCheckQueue")
    queue = template_json["Resources"][queue_id]["Properties"]
    assert queue["SqsManagedSseEnabled"] is True and "KmsMasterKeyId" not in queue
    assert queue["RedrivePolicy"]["maxReceiveCount"] == 3
    assert queue["VisibilityTimeout"] >= 6 * 120


def test_check_function_is_fed_by_the_queue_with_its_decoder_layer(
    template: Template, template_json: dict
) -> None:
    queue = _one_id(template_json, "AWS::SQS::Queue", "UploadsCheckQueue")
    function = _one_id(template_json, "AWS::Lambda::Function", "UploadsCheck")
    template.has_resource_properties(
        "AWS::Lambda::EventSourceMapping",
        {
            "EventSourceArn": {"Fn::GetAtt": [queue, "Arn"]},
            "FunctionName": {"Ref": function},
            "BatchSize": 1,
            "FunctionResponseTypes": ["ReportBatchItemFailures"],
        },
    )
    props = template_json["Resources"][function]["Properties"]
    assert props["Handler"] == "lambdas.upload_check.handler.lambda_handler"
    layer = _one_id(template_json, "AWS::Lambda::LayerVersion", "AudioLayer")
    assert {"Ref": layer} in props["Layers"]
    assert (AUDIO_LAYER_DIR / "python" / "soundfile.py").exists(), "run `make audio-layer`"


def test_check_reads_and_deletes_uploads_and_updates_rows_only(template_json: dict) -> None:
    grants = _grants(_statements(template_json, "UploadsCheckRole"))
    ours = {a for a in grants if not a.startswith(("logs:", "xray:", "sqs:"))}
    # ListBucket (on uploads/ only): without it S3 answers a missing key with 403, not 404.
    # InvokeFunction: the upload analyzer, exactly (tests/infra/test_transcription.py).
    assert ours == {
        "s3:GetObject",
        "s3:DeleteObject",
        "s3:ListBucket",
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "lambda:InvokeFunction",
    }
    bucket = _one_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    for action in ("s3:GetObject", "s3:DeleteObject"):
        assert all(bucket in r and "/uploads/*" in r for r in grants[action]), grants[action]
    table = _one_id(template_json, "AWS::DynamoDB::Table", "UploadsTable")
    assert all(table in r and "index" not in r for r in grants["dynamodb:UpdateItem"])
    assert set(grants) >= {"sqs:ReceiveMessage", "sqs:DeleteMessage"}


def test_api_signs_forms_for_uploads_only(template_json: dict) -> None:
    grants = _grants(_statements(template_json, "ApiHandlerRole"))
    bucket = _one_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    for action in ("s3:PutObject", "s3:PutObjectTagging"):
        # Other buckets' grants (the personas' clips in media: tests/infra/test_personas.py) aside.
        on_uploads = [r for r in grants[action] if bucket in r]
        assert on_uploads and all("/uploads/*" in r for r in on_uploads), action
    uploads_reads = [r for r in grants.get("s3:GetObject", []) if bucket in r]
    # The API reads an upload only to cut a persona's reference clip from it (POST /personas).
    assert len(uploads_reads) == 1 and "/uploads/*" in uploads_reads[0]


def test_api_deletes_uploads_and_counts_them_on_the_owner_index(template_json: dict) -> None:
    """DELETE /uploads/{id} (row and object) and the per-user quota (a Query of by_user)."""
    grants = _grants(_statements(template_json, "ApiHandlerRole"))
    bucket = _one_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    table = _one_id(template_json, "AWS::DynamoDB::Table", "UploadsTable")
    assert any(bucket in r and "/uploads/*" in r for r in grants["s3:DeleteObject"])
    assert any(table in r and "index" not in r for r in grants["dynamodb:DeleteItem"])
    assert any(table in r and f"/index/{UPLOADS_BY_USER.name}" in r for r in grants["dynamodb:Query"])


def test_the_owner_index_projects_what_the_quota_reads(template_json: dict) -> None:
    table = template_json["Resources"][_one_id(template_json, "AWS::DynamoDB::Table", "UploadsTable")]
    (index,) = table["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == UPLOADS_BY_USER.name
    assert [k["AttributeName"] for k in index["KeySchema"]] == ["user_id", "created_at"]
    # What the quota reads (lambdas/common/store/uploads.py: status and expiry) is projected.
    assert set(index["Projection"]["NonKeyAttributes"]) == {"status", "expires_at_epoch"}


def test_finalize_keeps_the_source_upload_of_a_processed_song(template_json: dict) -> None:
    """outcome.complete reads and updates the upload's row and re-tags its object, nothing else of
    the uploads; it is told the table and bucket names."""
    grants = _grants(_statements(template_json, "FinalizeRole"))
    bucket = _one_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    table = _one_id(template_json, "AWS::DynamoDB::Table", "UploadsTable")
    on_uploads = {a for a, resources in grants.items() if any(bucket in r or table in r for r in resources)}
    assert on_uploads == {"dynamodb:GetItem", "dynamodb:UpdateItem", "s3:PutObjectTagging"}
    assert all(bucket in r and "/uploads/*" in r for r in grants["s3:PutObjectTagging"])
    function = template_json["Resources"][_one_id(template_json, "AWS::Lambda::Function", "Finalize")]
    env = function["Properties"]["Environment"]["Variables"]
    assert env["UPLOADS_TABLE_NAME"] == {"Ref": table} and env["UPLOADS_BUCKET_NAME"] == {"Ref": bucket}


def test_endpoint_reads_sources_and_nothing_else_of_theirs(template_json: dict) -> None:
    """Audio-in: the container reads the source itself, read-only, on the two source prefixes."""
    grants = _grants(_statements(template_json, "InferenceExecutionRole"))
    uploads = _one_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    media = _one_id(template_json, "AWS::S3::Bucket", "StorageMedia")
    reads = grants["s3:GetObject"]
    assert any(uploads in r and "/uploads/*" in r for r in reads)
    assert any(media in r and "/songs/*" in r for r in reads)
    assert not any(media in r and "/personas/*" not in r and "/songs/*" not in r for r in reads)
    for action, resources in grants.items():
        if action != "s3:GetObject":
            assert not any(uploads in r or media in r for r in resources), (action, resources)


def _dlq_alarmed(template_json: dict) -> Any:
    dlq = _one_id(template_json, "AWS::SQS::Queue", "UploadsCheckDlq")
    return [
        r
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and dlq in json.dumps(r["Properties"].get("Dimensions", []))
    ]


def test_check_dead_letters_are_alarmed(template_json: dict) -> None:
    assert _dlq_alarmed(template_json), "the upload check DLQ has no alarm"


def test_stack_outputs_name_the_uploads_resources(template: Template) -> None:
    template.has_output("UploadsBucketName", Match.any_value())
    template.has_output("UploadsTableName", Match.any_value())


def test_the_endpoint_and_the_api_agree_on_stems(template_json: dict) -> None:
    (model,) = [r for r in template_json["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"]
    assert model["Properties"]["PrimaryContainer"]["Environment"]["STEMS_ENABLED"] == "true"
    api = _one_id(template_json, "AWS::Lambda::Function", "ApiHandler")
    assert (
        template_json["Resources"][api]["Properties"]["Environment"]["Variables"]["STEMS_ENABLED"] == "true"
    )


def test_the_model_network_lets_the_source_reads_through(template_json: dict) -> None:
    """The container reaches S3 only through the VPC's gateway endpoint, whose policy must name the
    source buckets too, read-only."""
    (endpoint,) = [
        r
        for r in template_json["Resources"].values()
        if r["Type"] == "AWS::EC2::VPCEndpoint" and r["Properties"]["VpcEndpointType"] == "Gateway"
    ]
    grants = _grants(endpoint["Properties"]["PolicyDocument"]["Statement"])
    uploads = _one_id(template_json, "AWS::S3::Bucket", "UploadsBucket")
    media = _one_id(template_json, "AWS::S3::Bucket", "StorageMedia")
    reads = " ".join(grants["s3:GetObject"])
    assert uploads in reads and media in reads
    for action, resources in grants.items():
        if action != "s3:GetObject":
            assert not any(uploads in r for r in resources), (action, resources)
