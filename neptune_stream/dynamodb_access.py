"""How the Lambdas reach DynamoDB from subnets without an internet route, in a VPC the stack creates or
in one it is given: a DynamoDB gateway endpoint whose policy admits exactly the stream handler's table
actions, and the Lambdas' own security group (egress to Neptune and to DynamoDB's HTTPS only)."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from constructs import Construct


def gateway_endpoint(scope: Construct, construct_id: str, vpc: ec2.IVpc, subnets: ec2.SubnetSelection) -> ec2.GatewayVpcEndpoint:
    """A gateway endpoint is free and keeps DynamoDB traffic off the internet; it routes the subnets'
    route tables to DynamoDB's prefix list (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-ddb.html)."""
    return ec2.GatewayVpcEndpoint(
        scope, construct_id, vpc=vpc, service=ec2.GatewayVpcEndpointAwsService.DYNAMODB, subnets=[subnets]
    )


def admit_only(endpoint: ec2.GatewayVpcEndpoint, role: iam.IRole, grants: Sequence[tuple[str, Sequence[str]]]) -> None:
    """Replaces the endpoint's default policy (any principal, any DynamoDB action on any table) with
    exactly `grants` (table ARN, actions) for `role`: the endpoint policy example of the VPC guide, with
    the principal named by the aws:PrincipalArn condition
    (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-ddb.html)."""
    for table_arn, actions in grants:
        endpoint.add_to_policy(
            iam.PolicyStatement(
                principals=[iam.AnyPrincipal()],
                actions=list(actions),
                resources=[table_arn],
                conditions={"ArnEquals": {"aws:PrincipalArn": role.role_arn}},
            )
        )


def lambda_security_group(scope: Construct, construct_id: str, vpc: ec2.IVpc, dynamodb: ec2.IPeer) -> ec2.SecurityGroup:
    """The Lambdas' group: no egress but what is added here (HTTPS to `dynamodb`) and the rule to Neptune's
    port the graph adds."""
    group = ec2.SecurityGroup(
        scope,
        construct_id,
        vpc=vpc,
        description="neptune-stream Lambdas: egress to Neptune and the DynamoDB endpoint only",
        allow_all_outbound=False,
    )
    group.add_egress_rule(dynamodb, ec2.Port.tcp(443), "DynamoDB gateway endpoint")
    return group
