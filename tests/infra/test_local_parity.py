"""The local stack's tables mirror the CDK tables (keys and indexes)."""

from __future__ import annotations

from aws_cdk.assertions import Template

from local.resources import ResourceNames, table_definitions
from stacks.config import ServiceConfig

from .test_api import _methods


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


def test_local_api_front_serves_exactly_the_deployed_methods(template: Template) -> None:
    # The front's table comes from the OpenAPI document (+ the docs page): a route missing from the
    # stack, or from the document, fails here. Public methods are the ones without the authorizer.
    from local.api_front import service_routes

    routes = service_routes()
    local = {
        (method, resource, routes.is_public(method, resource))
        for resource, methods in routes.methods.items()
        for method in methods
    }
    deployed = {
        (method, path, props.get("AuthorizationType") in (None, "NONE"))
        for (method, path), props in _methods(template).items()
        if method != "OPTIONS"
    }
    assert local == deployed


def test_local_gateway_errors_use_the_deployed_codes() -> None:
    from local.api_front import DEFAULT_4XX_CODE, DEFAULT_5XX_CODE, GATEWAY_ERROR_CODES
    from stacks.api import GATEWAY_ERRORS

    deployed = {response_type.response_type: code for response_type, (_, code) in GATEWAY_ERRORS.items()}
    assert {
        401: deployed["UNAUTHORIZED"],
        413: deployed["REQUEST_TOO_LARGE"],
        429: deployed["THROTTLED"],
    } == GATEWAY_ERROR_CODES
    # 403 "Missing Authentication Token" (unknown route) and 502 (the function raised) use these.
    assert (deployed["DEFAULT_4XX"], deployed["DEFAULT_5XX"]) == (DEFAULT_4XX_CODE, DEFAULT_5XX_CODE)


def test_each_function_gets_exactly_the_variables_its_settings_read(template_json: dict) -> None:
    """One builder (lambdas/common/contract.function_environment) for the stack and the local stack:
    every deployed function has the variables of its settings model and nothing else, and the
    local stack gives each function the same ones (plus its local-only webhook allowance)."""
    from lambdas.common.contract import FUNCTION_SETTINGS, runtime_environment
    from local.functions import environments, local_values

    config = ServiceConfig()
    local = environments(
        local_values(config, ResourceNames.for_config(config), state_machine_arn="arn", api_origins="*")
    )
    functions = [r for r in template_json["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]
    deployed = {}
    for function in functions:
        handler = function["Properties"].get(
            "Handler", ""
        )  # the transcriber: tests/infra/test_transcription.py
        if handler.startswith("lambdas."):
            deployed[handler.split(".")[1]] = set(function["Properties"]["Environment"]["Variables"])
    assert set(deployed) == set(FUNCTION_SETTINGS)
    for name, variables in deployed.items():
        model = FUNCTION_SETTINGS[name]
        required = {v for f, v in model.variables().items() if model.model_fields[f].is_required()}
        assert variables == required | set(runtime_environment()), name
        # Local only: loopback webhooks, and where moto serves the pool's keys.
        assert set(local[name]) - variables <= {"WEBHOOK_ALLOW_HTTP_LOOPBACK", "USER_POOL_JWKS_URL"}, name
