"""A new endpoint instance type deploys in one `cdk deploy`.

SageMaker refuses UpdateEndpoint when it would change the instance type of a variant that is an
Application Auto Scaling target ("deregister first"). The endpoint's name carries the instance
type, so a new type makes CloudFormation *replace* the endpoint: it creates the new endpoint, then
the new scalable target (its ResourceId names the new endpoint, and ResourceId changes require
replacement), and in the cleanup phase deletes the old target before the old endpoint (the target
depends on it). No UpdateEndpoint of an autoscaled variant ever happens. docs/operations.md.
"""

from __future__ import annotations

from typing import Any

import pytest

from stacks.config import load_config

from .conftest import CONFIG, synth

NEW_TYPE = "ml.g6e.4xlarge"


def _one(resources: dict, kind: str) -> tuple[str, dict]:
    (found,) = [(k, r) for k, r in resources.items() if r["Type"] == kind]
    return found


@pytest.fixture(scope="module")
def next_deploy(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The same stage with only the instance type changed: what the next deploy would send."""
    return synth(tmp_path_factory.mktemp("retyped"), endpoint_instance_type=NEW_TYPE)["Resources"]


def test_new_instance_type_replaces_the_endpoint(template_json: dict, next_deploy: dict) -> None:
    old_id, old = _one(template_json["Resources"], "AWS::SageMaker::Endpoint")
    new_id, new = _one(next_deploy, "AWS::SageMaker::Endpoint")
    assert old_id == new_id, "same logical resource, so CloudFormation replaces rather than adds"
    new_name = load_config({**CONFIG.model_dump(), "endpoint_instance_type": NEW_TYPE}).endpoint_name
    assert old["Properties"]["EndpointName"] == CONFIG.endpoint_name != new_name
    assert new["Properties"]["EndpointName"] == new_name  # EndpointName: update requires replacement
    _, config = _one(next_deploy, "AWS::SageMaker::EndpointConfig")
    assert config["Properties"]["ProductionVariants"][0]["InstanceType"] == NEW_TYPE


def test_scalable_target_follows_the_endpoint(template_json: dict, next_deploy: dict) -> None:
    for resources, name in (
        (template_json["Resources"], CONFIG.endpoint_name),
        (
            next_deploy,
            next_deploy[_one(next_deploy, "AWS::SageMaker::Endpoint")[0]]["Properties"]["EndpointName"],
        ),
    ):
        endpoint_id, _ = _one(resources, "AWS::SageMaker::Endpoint")
        _, target = _one(resources, "AWS::ApplicationAutoScaling::ScalableTarget")
        # A new ResourceId is a new target: registered once the new endpoint exists, and the old one
        # deleted (deregistered) before the old endpoint, which it depends on.
        assert target["Properties"]["ResourceId"] == f"endpoint/{name}/variant/AllTraffic"
        assert endpoint_id in target["DependsOn"]


def test_jobs_go_to_the_new_endpoint_only_once_it_exists(next_deploy: dict) -> None:
    endpoint_id, endpoint = _one(next_deploy, "AWS::SageMaker::Endpoint")
    (function,) = [
        r
        for r in next_deploy.values()
        if r["Type"] == "AWS::Lambda::Function"
        and r["Properties"].get("Handler") == "lambdas.start_inference.handler.lambda_handler"
    ]
    assert (
        function["Properties"]["Environment"]["Variables"]["ENDPOINT_NAME"]
        == endpoint["Properties"]["EndpointName"]
    )
    assert endpoint_id in function["DependsOn"]
