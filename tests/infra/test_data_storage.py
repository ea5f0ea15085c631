"""The data and storage units: tables, index, PITR, TTL, buckets and their guard rails."""

from __future__ import annotations

from aws_cdk.assertions import Match, Template


def _table_with_key(template: Template, key: str) -> dict:
    tables = template.find_resources(
        "AWS::DynamoDB::Table",
        {"Properties": {"KeySchema": [{"AttributeName": key, "KeyType": "HASH"}]}},
    )
    assert len(tables) == 1, f"expected one table keyed by {key}"
    return next(iter(tables.values()))


def test_seven_on_demand_tables_with_pitr_and_encryption(template: Template) -> None:
    # jobs, users, idempotency, personas, uploads (stacks/uploads.py), api_keys, rate_limits
    template.resource_count_is("AWS::DynamoDB::Table", 7)
    template.all_resources_properties(
        "AWS::DynamoDB::Table",
        {
            "BillingMode": "PAY_PER_REQUEST",
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
            "SSESpecification": {"SSEEnabled": True},
        },
    )


def test_jobs_table_has_by_user_index_newest_first_capable(template: Template) -> None:
    jobs = _table_with_key(template, "job_id")
    indexes = {i["IndexName"]: i for i in jobs["Properties"]["GlobalSecondaryIndexes"]}
    assert set(indexes) == {"by_user", "by_status"}  # by_status: tests/infra/test_webhooks.py
    index = indexes["by_user"]
    assert index["KeySchema"] == [
        {"AttributeName": "user_id", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert jobs["DeletionPolicy"] == "Retain"


def test_idempotency_table_expires_records(template: Template) -> None:
    table = _table_with_key(template, "id")
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expiration",
        "Enabled": True,
    }


def test_buckets_are_private_encrypted_and_tls_only(template: Template) -> None:
    template.resource_count_is("AWS::S3::Bucket", 5)  # access logs, media, inference, web site, uploads
    template.all_resources_properties(
        "AWS::S3::Bucket",
        {
            "BucketEncryption": {
                "ServerSideEncryptionConfiguration": [
                    {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
                ]
            },
            "PublicAccessBlockConfiguration": {
                "BlockPublicAcls": True,
                "BlockPublicPolicy": True,
                "IgnorePublicAcls": True,
                "RestrictPublicBuckets": True,
            },
        },
    )
    policies = template.find_resources("AWS::S3::BucketPolicy")
    tls_denies = [
        statement
        for policy in policies.values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement["Effect"] == "Deny"
        and statement.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") == "false"
    ]
    assert len(tls_denies) == 5  # access logs, media, inference, web site, uploads


def test_media_is_versioned_and_logged_scratch_expires(template: Template) -> None:
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "VersioningConfiguration": {"Status": "Enabled"},
            "LoggingConfiguration": {"LogFilePrefix": "media/"},
        },
    )
    template.has_resource_properties(
        "AWS::S3::Bucket",
        {
            "LoggingConfiguration": {"LogFilePrefix": "inference/"},
            "LifecycleConfiguration": {
                "Rules": Match.array_with([Match.object_like({"ExpirationInDays": 7, "Status": "Enabled"})])
            },
            "VersioningConfiguration": Match.absent(),
        },
    )


def test_api_keys_are_listed_by_user_without_their_hashes(template: Template) -> None:
    keys = _table_with_key(template, "key_id")
    (index,) = keys["Properties"]["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "by_user"
    assert index["Projection"]["ProjectionType"] == "INCLUDE"
    assert "secret_hash" not in index["Projection"]["NonKeyAttributes"]
    assert keys["DeletionPolicy"] == "Retain"  # a lost table would lock every script out


def test_rate_limit_rows_expire(template: Template) -> None:
    table = _table_with_key(template, "bucket_id")
    assert table["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at_epoch",
        "Enabled": True,
    }
