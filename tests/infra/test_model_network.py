"""The model container has no internet: isolated subnets, S3 only, and only the stack's buckets."""

from __future__ import annotations

import json
from typing import Any

import pytest

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
    (egress,) = props["SecurityGroupEgress"]
    assert (egress["IpProtocol"], egress["FromPort"], egress["ToPort"]) == ("tcp", 443, 443)
    assert "CidrIp" not in egress and "CidrIpv6" not in egress
    # The S3 managed prefix list, resolved at deploy time by name.
    lookup = resources[egress["DestinationPrefixListId"]["Fn::GetAtt"][0]]
    assert f"com.amazonaws.{'us-east-1'}.s3" in json.dumps(lookup["Properties"])
    (endpoint_id,) = _of_type(resources, "AWS::EC2::VPCEndpoint")
    assert endpoint_id in _as_list(model.get("DependsOn", [])), "the S3 route exists before the download"


def test_s3_endpoint_admits_only_the_buckets_the_container_uses(staged: Resources) -> None:
    ((_, endpoint),) = _of_type(staged, "AWS::EC2::VPCEndpoint").items()
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
    media = next(k for k in _of_type(staged, "AWS::S3::Bucket") if "Media" in k)
    assert media not in text, "the container never touches the media bucket (publish copies)"
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


def test_every_bucket_the_role_may_use_is_reachable(staged: Resources) -> None:
    ((_, endpoint),) = _of_type(staged, "AWS::EC2::VPCEndpoint").items()
    reachable: dict[str, set[str]] = {}
    for statement in endpoint["Properties"]["PolicyDocument"]["Statement"]:
        for resource in _as_list(statement["Resource"]):
            reachable.setdefault(_bucket_of(resource), set()).update(_as_list(statement["Action"]))
    grants = _role_s3_grants(staged)
    assert {_bucket_of(r) for _, r in grants} >= {"model-bucket"}
    for action, resource in grants:
        assert action in reachable.get(_bucket_of(resource), set()), (
            f"the S3 endpoint blocks {action} on {resource}"
        )


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


def _warnings(cloud_assembly) -> list[str]:
    # Newer CDK versions keep the stack's metadata (annotations) beside the manifest.
    files = [cloud_assembly / "manifest.json", *cloud_assembly.glob("*.metadata.json")]
    return [
        str(entry["data"])
        for path in files
        for entries in _metadata_entries(json.loads(path.read_text()))
        for entry in entries
        if entry["type"] == "aws:cdk:warning"
    ]


def _metadata_entries(document: dict) -> list[list[dict]]:
    if "artifacts" in document:
        return [e for a in document["artifacts"].values() for e in a.get("metadata", {}).values()]
    return list(document.values())


def test_synth_warns_when_the_model_would_have_no_weights(cloud_assembly) -> None:
    # cdk.json stages nothing and allows no internet: fine for CI, unusable as a deployment.
    assert any("model_data_s3_uri is unset" in w for w in _warnings(cloud_assembly))
