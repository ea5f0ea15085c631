"""The model container has no internet: isolated subnets, S3 (only the stack's buckets) and SNS
(only publishing the two notifications)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from lambdas.common.contract import PERSONAS_PREFIX

from .conftest import synth

Resources = dict[str, dict[str, Any]]


def _of_type(resources: Resources, kind: str) -> dict[str, dict]:
    return {k: r for k, r in resources.items() if r["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def staged(staged_template: dict) -> Resources:
    return staged_template["Resources"]


def test_nothing_routes_to_the_internet(template_json: dict) -> None:
    resources = template_json["Resources"]
    for kind in ("AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::EgressOnlyInternetGateway"):
        assert not _of_type(resources, kind), kind
    routes = _of_type(resources, "AWS::EC2::Route")
    assert not routes, "the isolated route tables have only the local route and the S3 endpoint"
    # The SNS interface endpoint is an address inside the VPC, not a route out.
    subnets = _of_type(resources, "AWS::EC2::Subnet")
    assert len(subnets) == 2 and all(not s["Properties"]["MapPublicIpOnLaunch"] for s in subnets.values())


def test_model_runs_in_the_isolated_subnets_behind_its_security_group(template_json: dict) -> None:
    resources = template_json["Resources"]
    ((_, model),) = _of_type(resources, "AWS::SageMaker::Model").items()
    vpc_config = model["Properties"]["VpcConfig"]
    assert sorted(s["Ref"] for s in vpc_config["Subnets"]) == sorted(_of_type(resources, "AWS::EC2::Subnet"))
    (group,) = vpc_config["SecurityGroupIds"]
    props = resources[group["Fn::GetAtt"][0]]["Properties"]
    assert "SecurityGroupIngress" not in props
    s3_rule, sns_rule = props["SecurityGroupEgress"]
    for egress in (s3_rule, sns_rule):
        assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"]) == ("tcp", 443, 443)
        assert "CidrIp" not in egress and "CidrIpv6" not in egress
    # The S3 managed prefix list, resolved at deploy time by name.
    lookup = resources[s3_rule["DestinationPrefixListId"]["Fn::GetAtt"][0]]
    assert f"com.amazonaws.{'us-east-1'}.s3" in json.dumps(lookup["Properties"])
    assert sns_rule["DestinationSecurityGroupId"]["Fn::GetAtt"][0] == _sns_endpoint(resources)[1]
    (gateway_id,) = [k for k, e in _of_type(resources, "AWS::EC2::VPCEndpoint").items() if _is_gateway(e)]
    assert gateway_id in _as_list(model.get("DependsOn", [])), "the S3 route exists before the download"


def _is_gateway(endpoint: dict) -> bool:
    return endpoint["Properties"].get("VpcEndpointType", "Gateway") == "Gateway"


def _sns_endpoint(resources: Resources) -> tuple[str, str]:
    """The SNS interface endpoint's logical id and its security group's."""
    (endpoint_id,) = [
        k for k, e in _of_type(resources, "AWS::EC2::VPCEndpoint").items() if not _is_gateway(e)
    ]
    (group,) = resources[endpoint_id]["Properties"]["SecurityGroupIds"]
    return endpoint_id, group["Fn::GetAtt"][0]


def test_notifications_have_a_private_route_to_sns(template_json: dict) -> None:
    resources = template_json["Resources"]
    endpoint_id, group_id = _sns_endpoint(resources)
    props = resources[endpoint_id]["Properties"]
    assert props["VpcEndpointType"] == "Interface" and props["ServiceName"] == "com.amazonaws.us-east-1.sns"
    # Private DNS: the SDK's default sns.REGION.amazonaws.com resolves to the endpoint in the VPC.
    assert props["PrivateDnsEnabled"] is True
    ((_, vpc),) = _of_type(resources, "AWS::EC2::VPC").items()
    assert vpc["Properties"]["EnableDnsSupport"] is True and vpc["Properties"]["EnableDnsHostnames"] is True
    assert sorted(s["Ref"] for s in props["SubnetIds"]) == sorted(_of_type(resources, "AWS::EC2::Subnet"))
    # HTTPS from the model's group only: no inline rule, one ingress resource, nothing out.
    group = resources[group_id]["Properties"]
    assert "SecurityGroupIngress" not in group
    assert [e["CidrIp"] for e in group["SecurityGroupEgress"]] == ["255.255.255.255/32"]  # CDK's "none"
    ingress = [
        r["Properties"]
        for r in _of_type(resources, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [group_id, "GroupId"]}
    ]
    ((_, model),) = _of_type(resources, "AWS::SageMaker::Model").items()
    (model_group,) = model["Properties"]["VpcConfig"]["SecurityGroupIds"]
    assert [(i["IpProtocol"], i["FromPort"], i["ToPort"], i["SourceSecurityGroupId"]) for i in ingress] == [
        ("tcp", 443, 443, model_group)
    ]
    # CreateEndpoint publishes a test notification: the route exists before the endpoint.
    ((_, endpoint),) = _of_type(resources, "AWS::SageMaker::Endpoint").items()
    assert endpoint_id in _as_list(endpoint["DependsOn"])


def test_sns_endpoint_admits_only_publishing_the_notifications(template_json: dict) -> None:
    resources = template_json["Resources"]
    endpoint_id, _ = _sns_endpoint(resources)
    (statement,) = resources[endpoint_id]["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Effect"] == "Allow" and statement["Action"] == "sns:Publish"
    topics = {k for k in _of_type(resources, "AWS::SNS::Topic") if "Success" in k or "Error" in k}
    assert len(topics) == 2 and {r["Ref"] for r in statement["Resource"]} == topics
    ((_, model),) = _of_type(resources, "AWS::SageMaker::Model").items()
    role = model["Properties"]["ExecutionRoleArn"]
    assert statement["Condition"] == {"ArnEquals": {"aws:PrincipalArn": role}}


def test_s3_endpoint_admits_only_the_buckets_the_container_uses(staged: Resources) -> None:
    ((_, endpoint),) = [
        (k, e) for k, e in _of_type(staged, "AWS::EC2::VPCEndpoint").items() if _is_gateway(e)
    ]
    props = endpoint["Properties"]
    assert props["VpcEndpointType"] == "Gateway" and "s3" in json.dumps(props["ServiceName"])
    route_tables = {r["Ref"] for r in props["RouteTableIds"]}
    assert route_tables == {
        a["Properties"]["RouteTableId"]["Ref"]
        for a in _of_type(staged, "AWS::EC2::SubnetRouteTableAssociation").values()
    }
    allowed: dict[str, set[str]] = {}
    for statement in props["PolicyDocument"]["Statement"]:
        assert statement["Effect"] == "Allow" and statement["Principal"] == {"AWS": "*"}
        for resource in _as_list(statement["Resource"]):
            assert resource != "*"
            allowed.setdefault(json.dumps(resource), set()).update(_as_list(statement["Action"]))
    inference = next(k for k in _of_type(staged, "AWS::S3::Bucket") if "Inference" in k)
    text = " ".join(allowed)
    assert inference in text and "model-bucket" in text
    # The media bucket only to read an audio-in song source (publish copies the outputs): GetObject.
    media = next(k for k in _of_type(staged, "AWS::S3::Bucket") if "Media" in k)
    assert {a for r, actions in allowed.items() if media in r for a in actions} == {"s3:GetObject"}
    assert set().union(*allowed.values()) <= {"s3:GetObject", "s3:PutObject", "s3:ListBucket"}


def _role_s3_grants(resources: Resources) -> list[tuple[str, Any]]:
    ((_, model),) = _of_type(resources, "AWS::SageMaker::Model").items()
    role = model["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
    grants = []
    for policy in _of_type(resources, "AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            for action in _as_list(statement["Action"]):
                if action.startswith("s3:"):
                    grants += [(action, r) for r in _as_list(statement["Resource"])]
    return grants


def _bucket_of(resource: Any) -> str:
    """A bucket's identity in an S3 ARN as synthesized: the logical id of a bucket of this stack
    (GetAtt Arn, possibly joined with an object path) or the name in a literal ARN."""
    if isinstance(resource, str):
        return resource.split(":::", 1)[1].split("/", 1)[0]
    if "Fn::Join" in resource:
        resource = resource["Fn::Join"][1][0]
    return resource["Fn::GetAtt"][0]


def test_every_prefix_the_role_may_use_is_reachable(staged: Resources) -> None:
    """The endpoint's policy admits each grant at its own resource (the prefix, not only the
    bucket): a prefix granted in IAM but missing from the endpoint (e.g. the persona clips beside
    the songs in the media bucket) is denied on AWS, which moto does not model."""
    ((_, endpoint),) = [
        (k, e) for k, e in _of_type(staged, "AWS::EC2::VPCEndpoint").items() if _is_gateway(e)
    ]
    reachable = {
        (action, json.dumps(resource, sort_keys=True))
        for statement in endpoint["Properties"]["PolicyDocument"]["Statement"]
        for action in _as_list(statement["Action"])
        for resource in _as_list(statement["Resource"])
    }
    grants = {(action, json.dumps(resource, sort_keys=True)) for action, resource in _role_s3_grants(staged)}
    assert {_bucket_of(r) for _, r in _role_s3_grants(staged)} >= {"model-bucket"}
    assert any(PERSONAS_PREFIX in resource for _, resource in grants)
    assert grants - reachable == set()


def test_sagemaker_may_attach_the_network_interfaces(template_json: dict) -> None:
    resources = template_json["Resources"]
    ((_, model),) = _of_type(resources, "AWS::SageMaker::Model").items()
    role = model["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
    actions = {
        a
        for p in _of_type(resources, "AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
        for s in p["Properties"]["PolicyDocument"]["Statement"]
        for a in _as_list(s["Action"])
    }
    assert {
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
        "ec2:DescribeNetworkInterfaces",
        "ec2:DescribeVpcs",
        "ec2:DescribeDhcpOptions",
        "ec2:DescribeSubnets",
        "ec2:DescribeSecurityGroups",
    } <= actions


def test_container_buckets_need_no_kms_endpoint(template_json: dict) -> None:
    # S3-managed keys: reading and writing objects needs no call to KMS, which the VPC cannot reach.
    inference = next(
        b for k, b in _of_type(template_json["Resources"], "AWS::S3::Bucket").items() if "Inference" in k
    )
    (rule,) = inference["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}


def test_internet_access_is_an_explicit_setting(tmp_path) -> None:
    resources = synth(tmp_path, stage_name="hub", model_internet_access=True)["Resources"]
    ((_, model),) = _of_type(resources, "AWS::SageMaker::Model").items()
    assert "VpcConfig" not in model["Properties"]
    assert not _of_type(resources, "AWS::EC2::VPC")
