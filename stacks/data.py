"""DynamoDB tables: jobs (with the by_user index), users, and the Powertools idempotency store."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from .removal import kept_always

BY_USER_INDEX = "by_user"
# Jobs by status, oldest first: the queue position and recent render times (GET /songs/{id}).
# The few status values make few partitions; the service's write rate is bounded by the GPUs,
# far below one partition's limit.
BY_STATUS_INDEX = "by_status"
BY_STATUS_ATTRIBUTES = ["started_at", "finished_at"]


class DataStore(Construct):
    """Owns the tables; the stack grants functions access to them."""

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool = True) -> None:
        super().__init__(scope, construct_id)
        # Deletion protection on: a rollback could not delete them (stacks/removal.py).
        removal = kept_always(retain)

        self.jobs_table = service_table(self, "Jobs", "job_id", removal)
        self.jobs_table.add_global_secondary_index(
            index_name=BY_USER_INDEX,
            partition_key=dynamodb.Attribute(name="user_id", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.ALL,
        )
        self.jobs_table.add_global_secondary_index(
            index_name=BY_STATUS_INDEX,
            partition_key=dynamodb.Attribute(name="status", type=dynamodb.AttributeType.STRING),
            sort_key=dynamodb.Attribute(name="created_at", type=dynamodb.AttributeType.STRING),
            projection_type=dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=BY_STATUS_ATTRIBUTES,
        )
        self.users_table = service_table(self, "Users", "user_id", removal)
        # Idempotency records are short-lived by design: TTL removes them, nothing to recover.
        self.idempotency_table = service_table(
            self, "Idempotency", "id", RemovalPolicy.DESTROY, time_to_live_attribute="expiration"
        )


def service_table(
    scope: Construct,
    construct_id: str,
    partition_key: str,
    removal: RemovalPolicy,
    time_to_live_attribute: str | None = None,
) -> dynamodb.Table:
    """A table as every table of the service is: on demand, PITR, AWS managed key, deletion
    protection when retained."""
    return dynamodb.Table(
        scope,
        construct_id,
        partition_key=dynamodb.Attribute(name=partition_key, type=dynamodb.AttributeType.STRING),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        deletion_protection=removal != RemovalPolicy.DESTROY,
        time_to_live_attribute=time_to_live_attribute,
        removal_policy=removal,
    )
