"""The model container's network: isolated subnets whose only ways out are an S3 gateway endpoint
and an SNS interface endpoint.

No internet gateway, no NAT: the container reaches S3 (its request, the media it writes, the staged
weights) and SNS (the async success/error notifications, should SageMaker publish them from the
model's network) and nothing else. The gateway endpoint's policy names every bucket the container
may touch (`allow_objects`); the SNS endpoint's policy admits only sns:Publish by the model's role
to the two notification topics (`allow_publish`). The model's security group has no inbound rule
and two outbound rules: HTTPS to S3's managed prefix list and HTTPS to the SNS endpoint's group.
docs/architecture.md ("Model network") explains the choice over EnableNetworkIsolation.
"""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns
from aws_cdk import custom_resources as cr
from constructs import Construct

from .nag import acknowledge

# The id CDK gives the AwsCustomResource provider function (aws-cdk-lib custom-resources).
AWS_CUSTOM_RESOURCE_PROVIDER_ID = "AWS679f53fac002430cb0da5b7982bd2287"
# SageMaker wants subnets in at least two Availability Zones, even for one instance.
AVAILABILITY_ZONES = 2


class ModelNetwork(Construct):
    """Attributes: vpc, subnets (the isolated ones), security_group, s3_endpoint, s3_prefix_list_id,
    sns_endpoint, sns_endpoint_group."""

    def __init__(self, scope: Construct, construct_id: str, *, log_retention: logs.RetentionDays) -> None:
        super().__init__(scope, construct_id)
        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=AVAILABILITY_ZONES,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="Model", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24
                )
            ],
            # Stripping the default security group's rules needs another custom-resource Lambda;
            # nothing is ever attached to that group (the model has its own).
            restrict_default_security_group=False,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(
                logs.LogGroup(
                    self,
                    "FlowLogs",
                    retention=log_retention,
                    # Kept when the stack goes (an audit trail), not left over by a failed first deploy.
                    removal_policy=RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
                )
            ),
        )
        isolated = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.subnets = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.s3_endpoint = self.vpc.add_gateway_endpoint(
            "S3", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[isolated]
        )
        self.s3_prefix_list_id = self._s3_prefix_list_id()
        self.security_group = self._group(
            "Model", "SageMaker model container: no inbound, HTTPS to S3 and to the SNS endpoint only"
        )
        self._sns_endpoint(isolated)
        # Inline on the group: an egress list in the group itself replaces EC2's default allow-all
        # rule (a separate SecurityGroupEgress resource, what add_egress_rule makes for a prefix
        # list resolved at deploy time, would leave that default in place).
        group = self.security_group.node.default_child
        assert isinstance(group, ec2.CfnSecurityGroup)
        group.security_group_egress = [
            ec2.CfnSecurityGroup.EgressProperty(
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                destination_prefix_list_id=self.s3_prefix_list_id,
                description="HTTPS to S3 (gateway endpoint)",
            ),
            ec2.CfnSecurityGroup.EgressProperty(
                ip_protocol="tcp",
                from_port=443,
                to_port=443,
                destination_security_group_id=self.sns_endpoint_group.security_group_id,
                description="HTTPS to the SNS interface endpoint",
            ),
        ]
        # The endpoint's side, as its own resource: the two groups name each other, and inline rules
        # on both would be a dependency cycle.
        ec2.CfnSecurityGroupIngress(
            self,
            "SnsFromModel",
            group_id=self.sns_endpoint_group.security_group_id,
            ip_protocol="tcp",
            from_port=443,
            to_port=443,
            source_security_group_id=self.security_group.security_group_id,
            description="HTTPS from the model container",
        )

    def _group(self, construct_id: str, description: str) -> ec2.SecurityGroup:
        """A security group with no rule but the ones added to it (EC2's allow-all egress off)."""
        return ec2.SecurityGroup(
            self, construct_id, vpc=self.vpc, description=description, allow_all_outbound=False
        )

    def _sns_endpoint(self, subnets: ec2.SubnetSelection) -> None:
        """AWS documents that the async agent publishes the notifications with the execution role,
        not from which network; if it is the model's, a VPC without a route to SNS would leave every
        job waiting for its timeout. The interface endpoint (private DNS: the SDK's default regional
        host resolves to it) makes either path work. SNS itself calls KMS for the encrypted topics,
        so no KMS endpoint is needed."""
        self.sns_endpoint_group = self._group(
            "SnsEndpointGroup", "SNS interface endpoint: HTTPS from the model container only"
        )
        self.sns_endpoint = self.vpc.add_interface_endpoint(
            "Sns",
            service=ec2.InterfaceVpcEndpointAwsService.SNS,
            subnets=subnets,
            security_groups=[self.sns_endpoint_group],
            private_dns_enabled=True,
            # No rule for the whole VPC's CIDR: only the model's group (SnsFromModel).
            open=False,
        )

    def allow_publish(self, role: iam.IRole, topics: list[sns.ITopic]) -> None:
        """Through the SNS endpoint: sns:Publish by `role` to `topics`, nothing else (an interface
        endpoint without a policy statement would allow every SNS call)."""
        self.sns_endpoint.add_to_policy(
            iam.PolicyStatement(
                principals=[iam.AnyPrincipal()],
                actions=["sns:Publish"],
                resources=[topic.topic_arn for topic in topics],
                conditions={"ArnEquals": {"aws:PrincipalArn": role.role_arn}},
            )
        )

    def allow_objects(self, bucket: s3.IBucket, prefix: str, *actions: str) -> None:
        """Let traffic through the S3 endpoint for these actions on the objects under `prefix` (and,
        for s3:ListBucket, on the bucket, listing only that prefix): the same scope as the IAM
        grant. IAM still decides who may do what; this is the network boundary."""
        object_actions = [a for a in actions if a != "s3:ListBucket"]
        if object_actions:
            self.s3_endpoint.add_to_policy(
                iam.PolicyStatement(
                    principals=[iam.AnyPrincipal()],
                    actions=object_actions,
                    resources=[bucket.arn_for_objects(f"{prefix}*")],
                )
            )
        if "s3:ListBucket" in actions:
            self.s3_endpoint.add_to_policy(
                iam.PolicyStatement(
                    principals=[iam.AnyPrincipal()],
                    actions=["s3:ListBucket"],
                    resources=[bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                )
            )

    def _s3_prefix_list_id(self) -> str:
        """The region's S3 managed prefix list (com.amazonaws.REGION.s3). CloudFormation exposes no
        attribute for it and a context lookup needs credentials at synth, so one read-only
        DescribeManagedPrefixLists call at deploy time resolves it."""
        name = f"com.amazonaws.{Stack.of(self).region}.s3"
        call = cr.AwsSdkCall(
            service="EC2",
            action="describeManagedPrefixLists",
            parameters={"Filters": [{"Name": "prefix-list-name", "Values": [name]}]},
            physical_resource_id=cr.PhysicalResourceId.of(name),
            output_paths=["PrefixLists.0.PrefixListId"],
        )
        lookup = cr.AwsCustomResource(
            self,
            "S3PrefixList",
            on_create=call,
            on_update=call,
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
                resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE
            ),
            install_latest_aws_sdk=False,
        )
        acknowledge(
            lookup,
            "AwsSolutions-IAM5",
            "ec2:DescribeManagedPrefixLists supports no resource-level permissions; it only reads.",
            "Resource::*",
        )
        # The singleton function CDK runs AwsCustomResource calls with (one per stack).
        provider = Stack.of(self).node.find_child(AWS_CUSTOM_RESOURCE_PROVIDER_ID)
        acknowledge(
            provider,
            "AwsSolutions-IAM4",
            "CDK's AwsCustomResource provider logs with AWSLambdaBasicExecutionRole (CloudWatch Logs "
            "writes only); its one call is the read-only prefix-list lookup above.",
            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole",
        )
        return lookup.get_response_field("PrefixLists.0.PrefixListId")
