"""DynamoDB tables: jobs (with its indexes), users, personas, the Powertools idempotency store, API
keys and the per-user rate limits. Keys and
indexes are the contract's (lambdas/common/contract.py), which the local stack builds from too."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_dynamodb as dynamodb
from constructs import Construct

from lambdas.common import contract

from .removal import kept_always


class DataStore(Construct):
    """Owns the tables; the stack grants functions access to them."""

    def __init__(self, scope: Construct, construct_id: str, *, retain: bool = True) -> None:
        super().__init__(scope, construct_id)
        # Deletion protection on: a rollback could not delete them (stacks/removal.py).
        removal = kept_always(retain)
        self.jobs_table = service_table(self, "Jobs", contract.JOBS, removal)
        self.users_table = service_table(self, "Users", contract.USERS, removal)
        self.personas_table = service_table(self, "Personas", contract.PERSONAS, removal)
        # Idempotency records are short-lived by design: TTL removes them, nothing to recover.
        self.idempotency_table = service_table(
            self, "Idempotency", contract.IDEMPOTENCY, RemovalPolicy.DESTROY
        )
        # Personal API keys (hashes only): a lost table would lock every script out, so kept.
        self.api_keys_table = service_table(self, "ApiKeys", contract.API_KEYS, removal)
        # Rate-limit buckets refill within minutes: nothing to recover.
        self.rate_limits_table = service_table(
            self, "RateLimits", contract.RATE_LIMITS, RemovalPolicy.DESTROY
        )


def service_table(
    scope: Construct, construct_id: str, spec: contract.Table, removal: RemovalPolicy
) -> dynamodb.Table:
    """A table as every table of the service is: on demand, PITR, AWS managed key, deletion
    protection when retained; keys, indexes and TTL as the contract states them."""
    table = dynamodb.Table(
        scope,
        construct_id,
        partition_key=_string(spec.partition_key),
        billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
        point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
            point_in_time_recovery_enabled=True
        ),
        encryption=dynamodb.TableEncryption.AWS_MANAGED,
        deletion_protection=removal != RemovalPolicy.DESTROY,
        time_to_live_attribute=spec.ttl_attribute,
        removal_policy=removal,
    )
    for index in spec.indexes:
        table.add_global_secondary_index(
            index_name=index.name,
            partition_key=_string(index.partition_key),
            sort_key=_string(index.sort_key),
            projection_type=dynamodb.ProjectionType.ALL
            if index.projected is None
            else dynamodb.ProjectionType.INCLUDE,
            non_key_attributes=None if index.projected is None else list(index.projected),
        )
    return table


def _string(name: str) -> dynamodb.Attribute:
    return dynamodb.Attribute(name=name, type=dynamodb.AttributeType.STRING)
