"""The local stack's tables mirror the CDK tables (keys and indexes)."""

from __future__ import annotations

from aws_cdk.assertions import Template

from local.resources import ResourceNames, table_definitions
from stacks.config import ServiceConfig


def _keys(definition: dict) -> tuple:
    gsis = tuple(
        (g["IndexName"], tuple((k["AttributeName"], k["KeyType"]) for k in g["KeySchema"]))
        for g in definition.get("GlobalSecondaryIndexes", [])
    )
    return tuple((k["AttributeName"], k["KeyType"]) for k in definition["KeySchema"]), gsis


def test_local_tables_match_cdk(template: Template) -> None:
    cdk_tables = {_keys(t["Properties"]) for t in template.find_resources("AWS::DynamoDB::Table").values()}
    local_tables = {_keys(d) for d in table_definitions(ResourceNames.for_config(ServiceConfig()))}
    assert cdk_tables == local_tables
