"""local.lambda_routing: moto Lambda invokes reach in-process handlers, like the Lambda runtime."""

from __future__ import annotations

import json

import boto3
import pytest
from moto import mock_aws

from local.lambda_routing import function_name_of, route_lambda_invokes


def _handler(event, context):
    if event.get("boom"):
        raise KeyError("missing")
    return {"echo": event, "function": context.function_name}


@pytest.mark.parametrize(
    "name",
    [
        "fn",
        "fn:live",
        "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "arn:aws:lambda:us-east-1:1:function:fn:$LATEST",
    ],
)
def test_function_name_of(name: str) -> None:
    assert function_name_of(name) == "fn"


def test_invoke_is_routed_and_errors_look_like_the_runtime() -> None:
    with mock_aws(), route_lambda_invokes({"fn": _handler}):
        client = boto3.client("lambda", region_name="us-east-1")
        ok = client.invoke(
            FunctionName="arn:aws:lambda:us-east-1:123456789012:function:fn", Payload=b'{"a": 1}'
        )
        assert json.loads(ok["Payload"].read()) == {"echo": {"a": 1}, "function": "fn"}
        assert "FunctionError" not in ok
        failed = client.invoke(FunctionName="fn", Payload=b'{"boom": true}')
        assert failed["FunctionError"] == "Unhandled"
        error = json.loads(failed["Payload"].read())
        assert error["errorType"] == "KeyError" and "missing" in error["errorMessage"]


def test_contexts_nest_and_restore_moto() -> None:
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.invoke
    with (
        route_lambda_invokes({"fn": lambda e, c: "outer"}),
        route_lambda_invokes({"fn": lambda e, c: "inner"}),
        mock_aws(),
    ):
        client = boto3.client("lambda", region_name="us-east-1")
        assert json.loads(client.invoke(FunctionName="fn")["Payload"].read()) == "inner"
    assert LambdaBackend.invoke is original
