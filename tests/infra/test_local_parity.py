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


def test_local_api_front_serves_the_deployed_resources(template: Template) -> None:
    import json
    from pathlib import Path

    from local.api_front import PUBLIC, RESOURCES

    openapi = json.loads((Path(__file__).resolve().parents[2] / "docs" / "openapi.json").read_text())
    assert set(RESOURCES) == set(openapi["paths"])
    # The only method without the Cognito authorizer, locally as deployed.
    open_methods = {
        (m["Properties"]["HttpMethod"], json.dumps(m["Properties"]["ResourceId"]))
        for m in template.find_resources("AWS::ApiGateway::Method").values()
        if m["Properties"].get("AuthorizationType") in (None, "NONE")
        and m["Properties"]["HttpMethod"] != "OPTIONS"
    }
    assert len(open_methods) == len(PUBLIC) == 1
    assert {method for method, _ in open_methods} == {method for method, _ in PUBLIC}


def test_local_gateway_errors_use_the_deployed_codes() -> None:
    from local.api_front import GATEWAY_ERROR_CODES
    from stacks.api import GATEWAY_ERRORS

    deployed = {response_type.response_type: code for response_type, (_, code) in GATEWAY_ERRORS.items()}
    assert {
        401: deployed["UNAUTHORIZED"],
        403: deployed["DEFAULT_4XX"],  # API Gateway's "Missing Authentication Token" for unknown routes
        413: deployed["REQUEST_TOO_LARGE"],
        502: deployed["DEFAULT_5XX"],  # the function raised
    } == GATEWAY_ERROR_CODES
