"""Operations: the dashboard names only real metrics, and every alarm notifies the on-call."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from lambdas.common import business_metrics as bm

from .conftest import STAGE, synth

# CloudWatch namespaces of AWS services -> the dimension sets the stack's resources publish under.
AWS_DIMENSIONS = {
    "AWS/ApiGateway": {("ApiName",)},
    "AWS/States": {("StateMachineArn",)},
    "AWS/SageMaker": {("EndpointName",), ("EndpointName", "VariantName")},
    "/aws/sagemaker/Endpoints": {("EndpointName", "VariantName")},
    "AWS/Lambda": {("FunctionName",)},
    "AWS/SQS": {("QueueName",)},
    "AWS/DynamoDB": {("TableName",)},
}
# Which resource type a token in a dimension value must point at.
DIMENSION_RESOURCE = {
    "StateMachineArn": "AWS::StepFunctions::StateMachine",
    "FunctionName": "AWS::Lambda::Function",
    "QueueName": "AWS::SQS::Queue",
    "TableName": "AWS::DynamoDB::Table",
    "ApiName": "AWS::ApiGateway::RestApi",
}


def _flatten(value: Any) -> str:
    """Fn::Join of strings and tokens -> one string with tokens written as <<LogicalId>>."""
    if isinstance(value, str):
        return value
    if "Fn::Join" in value:
        sep, parts = value["Fn::Join"]
        return sep.join(_flatten(p) for p in parts)
    if "Ref" in value:
        return f"<<{value['Ref']}>>"
    if "Fn::GetAtt" in value:
        return f"<<{value['Fn::GetAtt'][0]}>>"
    if "Fn::Select" in value:
        return f"<<{json.dumps(value, sort_keys=True)}>>"
    raise AssertionError(f"unexpected token in dashboard body: {value}")


@pytest.fixture(scope="session")
def dashboard_metrics(template_json: dict) -> list[list[Any]]:
    (dashboard,) = [
        r for r in template_json["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = json.loads(_flatten(dashboard["Properties"]["DashboardBody"]))
    metrics = []
    for widget in body["widgets"]:
        for metric in widget.get("properties", {}).get("metrics", []):
            search = _search_metric(metric)
            if search:
                metrics.append(search)
            elif not any(isinstance(part, dict) and "expression" in part for part in metric):
                metrics.append([part for part in metric if not isinstance(part, dict)])
    assert metrics, "the dashboard graphs no metric"
    return metrics


def _search_metric(metric: list[Any]) -> list[Any] | None:
    """A SEARCH('{Namespace,dim,...} MetricName="X" dim="v"', ...) expression as a metric entry."""
    (options,) = [p for p in metric if isinstance(p, dict)] or [{}]
    match = re.match(r"SEARCH\('\{([^}]*)\} MetricName=\"(\w+)\"(.*?)'", options.get("expression", ""))
    if not match:
        return None
    namespace, *dim_names = match.group(1).split(",")
    values = dict(re.findall(r'(\w+)="([^"]*)"', match.group(3)))
    dims = [x for d in dim_names for x in (d, values.get(d, "*"))]
    return [namespace, match.group(2), *dims]


def _split(metric: list[Any]) -> tuple[str, str, dict[str, str]]:
    if metric[0] == ".":
        raise AssertionError(f"relative metric reference not supported: {metric}")
    namespace, name, *dims = metric
    return namespace, name, dict(zip(dims[::2], dims[1::2], strict=True))


def test_business_metrics_on_the_dashboard_are_the_ones_the_code_emits(dashboard_metrics) -> None:
    catalog = dict(bm.dimension_sets())
    seen = set()
    for metric in dashboard_metrics:
        namespace, name, dims = _split(metric)
        if namespace != "SongService":
            continue
        assert name in catalog, f"{name} is not emitted by the code"
        assert set(dims) == set(catalog[name]), f"{name} is emitted with {catalog[name]}, graphed with {dims}"
        assert dims["stage"] == STAGE
        assert dims["service"] in ("song-service", "*")
        seen.add(name)
    assert seen == set(catalog), "every business metric is on the dashboard"


def test_aws_metrics_point_at_resources_of_this_stack(dashboard_metrics, template_json: dict) -> None:
    resources = template_json["Resources"]
    for metric in dashboard_metrics:
        namespace, name, dims = _split(metric)
        if namespace == "SongService":
            continue
        assert namespace in AWS_DIMENSIONS, f"unknown namespace {namespace}"
        assert tuple(dims) in AWS_DIMENSIONS[namespace], f"{namespace}/{name} with {tuple(dims)}"
        for dim, value in dims.items():
            assert "${Token" not in value and "${" not in value, f"unresolved token in {metric}"
            if dim in DIMENSION_RESOURCE and not value.startswith("<<"):
                # Some dimensions carry a resource's own name property rather than a reference.
                named = [r for r in resources.values() if r["Type"] == DIMENSION_RESOURCE[dim]]
                assert value in [r["Properties"].get("Name") for r in named], f"{dim}={value}"
            elif dim in DIMENSION_RESOURCE:
                logical_id = value.strip("<>")
                assert resources[logical_id]["Type"] == DIMENSION_RESOURCE[dim]
            elif dim == "EndpointName":
                endpoints = [r for r in resources.values() if r["Type"] == "AWS::SageMaker::Endpoint"]
                assert [e["Properties"]["EndpointName"] for e in endpoints] == [value]


def test_every_alarm_notifies_the_alarm_topic(template: Template) -> None:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    topics = template.find_resources(
        "AWS::SNS::Topic", {"Properties": {"DisplayName": "Song service alarms"}}
    )
    (topic_id,) = topics
    ops_alarms = {k: a for k, a in alarms.items() if k.startswith("Monitoring")}
    assert len(ops_alarms) >= 8
    for alarm in ops_alarms.values():
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic_id}]
        assert "docs/operations.md#" in alarm["Properties"]["AlarmDescription"]


@pytest.mark.parametrize(
    "metric_name",
    [
        "5XXError",
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "HasBacklogWithoutCapacity",
        "Errors",
        "ApproximateNumberOfMessagesVisible",
        "ApproximateAgeOfOldestMessage",
    ],
)
def test_required_alarms_exist(template: Template, template_json: dict, metric_name: str) -> None:
    alarms = [
        a
        for k, a in template_json["Resources"].items()
        if a["Type"] == "AWS::CloudWatch::Alarm" and k.startswith("Monitoring")
    ]
    names = {a["Properties"].get("MetricName") for a in alarms} | {
        m.get("MetricStat", {}).get("Metric", {}).get("MetricName")
        for a in alarms
        for m in a["Properties"].get("Metrics", [])
    }
    assert metric_name in names


def test_alarm_topic_is_encrypted_and_tls_only(template: Template) -> None:
    template.has_resource_properties(
        "AWS::SNS::Topic", {"DisplayName": "Song service alarms", "KmsMasterKeyId": Match.any_value()}
    )


def test_alarm_email_subscribes_to_the_topic(tmp_path) -> None:
    template = Template.from_json(synth(tmp_path, stage_name="mail", alarm_email="oncall@example.com"))
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def test_every_service_function_logs_json_to_its_own_log_group(template_json: dict) -> None:
    """JSON records, so Logs Insights filters on fields (docs/operations.md): the transcriber's image
    function as the zip functions. CDK's own helpers (bucket deployment, custom resources) log to
    their default groups and are not the service's."""
    functions = {
        k: r["Properties"]
        for k, r in template_json["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and "LogGroup" in r["Properties"].get("LoggingConfig", {})
    }
    assert any(p.get("PackageType") == "Image" for p in functions.values())  # the transcriber
    assert {k: p["LoggingConfig"].get("LogFormat") for k, p in functions.items()} == dict.fromkeys(
        functions, "JSON"
    )
