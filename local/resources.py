"""The data and storage resources of the stack, created against moto for tests and the local stack.

Key schemas mirror stacks/data.py; tests/infra/test_local_parity.py fails when they drift apart.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from stacks.config import ServiceConfig

BY_USER_INDEX = "by_user"


@dataclass(frozen=True)
class ResourceNames:
    jobs_table: str
    users_table: str
    idempotency_table: str
    media_bucket: str
    inference_bucket: str

    @classmethod
    def for_config(cls, config: ServiceConfig) -> ResourceNames:
        prefix = config.resource_prefix
        return cls(
            jobs_table=f"{prefix}-jobs",
            users_table=f"{prefix}-users",
            idempotency_table=f"{prefix}-idempotency",
            media_bucket=f"{prefix}-media",
            inference_bucket=f"{prefix}-inference",
        )

    def environment(self) -> dict[str, str]:
        """The function environment variables that carry these names (see SongServiceStack)."""
        return {
            "JOBS_TABLE_NAME": self.jobs_table,
            "USERS_TABLE_NAME": self.users_table,
            "IDEMPOTENCY_TABLE_NAME": self.idempotency_table,
            "MEDIA_BUCKET_NAME": self.media_bucket,
            "INFERENCE_BUCKET_NAME": self.inference_bucket,
        }

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


def table_definitions(names: ResourceNames) -> list[dict[str, Any]]:
    """CreateTable requests equivalent to the CDK tables (on-demand, same keys and indexes)."""

    def string_attrs(*attrs: str) -> list[dict[str, str]]:
        return [{"AttributeName": a, "AttributeType": "S"} for a in attrs]

    return [
        {
            "TableName": names.jobs_table,
            "KeySchema": [{"AttributeName": "job_id", "KeyType": "HASH"}],
            "AttributeDefinitions": string_attrs("job_id", "user_id", "created_at"),
            "GlobalSecondaryIndexes": [
                {
                    "IndexName": BY_USER_INDEX,
                    "KeySchema": [
                        {"AttributeName": "user_id", "KeyType": "HASH"},
                        {"AttributeName": "created_at", "KeyType": "RANGE"},
                    ],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            "BillingMode": "PAY_PER_REQUEST",
        },
        {
            "TableName": names.users_table,
            "KeySchema": [{"AttributeName": "user_id", "KeyType": "HASH"}],
            "AttributeDefinitions": string_attrs("user_id"),
            "BillingMode": "PAY_PER_REQUEST",
        },
        {
            "TableName": names.idempotency_table,
            "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
            "AttributeDefinitions": string_attrs("id"),
            "BillingMode": "PAY_PER_REQUEST",
        },
    ]


def create_data_and_storage(dynamodb: Any, s3: Any, names: ResourceNames) -> None:
    """Create tables (with TTL on the idempotency table) and buckets; boto3 clients in, nothing out."""
    for definition in table_definitions(names):
        dynamodb.create_table(**definition)
    dynamodb.update_time_to_live(
        TableName=names.idempotency_table,
        TimeToLiveSpecification={"Enabled": True, "AttributeName": "expiration"},
    )
    for bucket in (names.media_bucket, names.inference_bucket):
        s3.create_bucket(Bucket=bucket)
