"""IAM statements narrower than CDK's grant helpers: one prefix, the table without its indexes."""

from __future__ import annotations

from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3


def allow_objects(role: iam.IRole, bucket: s3.IBucket, prefix: str, *actions: str) -> None:
    """Object-level actions on one prefix only (CDK's bucket grants add s3:List*/GetBucket* too)."""
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=list(actions), resources=[bucket.arn_for_objects(f"{prefix}*")])
    )


def allow_list(role: iam.IRole, bucket: s3.IBucket, prefix: str) -> None:
    """ListBucket restricted to one prefix (finding a failed job's objects to delete)."""
    role.add_to_principal_policy(
        iam.PolicyStatement(
            actions=["s3:ListBucket"],
            resources=[bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
        )
    )


def allow_items(role: iam.IRole, table: dynamodb.ITable, *actions: str) -> None:
    """Item-level actions on the table itself, not its indexes (CDK's table grants add both)."""
    role.add_to_principal_policy(iam.PolicyStatement(actions=list(actions), resources=[table.table_arn]))


def allow_query(role: iam.IRole, table: dynamodb.ITable, index: str) -> None:
    role.add_to_principal_policy(
        iam.PolicyStatement(actions=["dynamodb:Query"], resources=[f"{table.table_arn}/index/{index}"])
    )
