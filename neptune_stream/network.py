"""VPC with isolated subnets only: no NAT gateway, no internet route, DynamoDB through a gateway endpoint
whose policy admits only the table actions the stream handler uses."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct

from neptune_stream.defaults import Defaults
from neptune_stream.dynamodb_access import admit_only, gateway_endpoint, lambda_security_group


class Network(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, defaults: Defaults) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="isolated", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=24)
            ],
        )
        self.subnets = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        # The stream handler's only AWS dependency besides Neptune is DynamoDB; logs and metrics leave through
        # the Lambda service itself.
        # (A child of the VPC, as add_gateway_endpoint made it: the logical id of a deployed endpoint stays.)
        self.dynamodb_endpoint = gateway_endpoint(self.vpc, "DynamoDb", self.vpc, self.subnets)

        # The flow-log service assumes this role only for this account's flow logs, as the VPC guide
        # recommends against the confused deputy problem
        # (https://docs.aws.amazon.com/vpc/latest/userguide/flow-logs-iam-role.html,
        # https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html).
        flow_log_role = iam.Role(
            self,
            "FlowLogRole",
            description="VPC flow logs of the neptune-stream VPC",
            assumed_by=iam.ServicePrincipal(
                "vpc-flow-logs.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnLike": {"aws:SourceArn": stack.format_arn(service="ec2", resource="vpc-flow-log", resource_name="*")},
                },
            ),
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(defaults.log_group(self, "FlowLogs"), flow_log_role),
        )

        # Created here, not beside the functions, so the graph can admit it without a dependency cycle. The
        # subnets have no route but the VPC itself and the DynamoDB endpoint's prefix list, so 443 to any
        # address reaches only DynamoDB; naming the prefix list would need a per-region lookup custom resource
        # for no extra protection.
        self.lambda_security_group = lambda_security_group(self, "LambdaSecurityGroup", self.vpc, ec2.Peer.any_ipv4())

    def admit_through_dynamodb_endpoint(self, role: iam.IRole, grants: Sequence[tuple[str, Sequence[str]]]) -> None:
        """DynamoDB through the VPC: only `role`, only its table actions (dynamodb_access.admit_only)."""
        admit_only(self.dynamodb_endpoint, role, grants)
