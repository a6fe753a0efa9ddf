#!/usr/bin/env python3
"""A CDK app of a team adopting neptune-stream (docs/construct.md): `pip install neptune-stream`, then
`cdk synth` here. Two stacks:

- GraphWithCapture: the team's own VPC and Neptune cluster, defined in code, with NeptuneStreamCapture
  added beside them.
- CaptureOfExistingGraph: a cluster this app does not define (made elsewhere, by hand or another app),
  imported by its attributes; nothing of it is changed but one ingress rule on its security group.

The ids below are placeholders: put your own (aws neptune describe-db-clusters; aws ec2 describe-subnets)."""

from __future__ import annotations

from aws_cdk import App, Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_neptune_alpha as neptune
from constructs import Construct

from neptune_stream import CaptureTuning, ClusterAttributes, NeptuneStreamCapture, NeptuneStreamCaptureProps


class GraphWithCapture(Stack):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # No NAT gateway: the Lambdas reach Neptune inside the VPC and DynamoDB through a gateway endpoint
        # (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-ddb.html).
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=0,
            subnet_configuration=[ec2.SubnetConfiguration(name="data", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
        )
        vpc.add_gateway_endpoint("DynamoDb", service=ec2.GatewayVpcEndpointAwsService.DYNAMODB)
        # Neptune Streams is off unless the cluster's parameter group turns it on
        # (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-enabling.html); IAM auth on, as the
        # capture signs its requests.
        cluster = neptune.DatabaseCluster(
            self,
            "Graph",
            vpc=vpc,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
            instance_type=neptune.InstanceType.of("db.r6g.large"),
            engine_version=neptune.EngineVersion.V1_4_6_1,
            cluster_parameter_group=neptune.ClusterParameterGroup(
                self,
                "StreamsOn",
                family=neptune.ParameterGroupFamily.NEPTUNE_1_4,
                description="streams enabled",
                parameters={"neptune_streams": "1"},
            ),
            iam_authentication=True,
            storage_encrypted=True,
            backup_retention=Duration.days(7),
            removal_policy=RemovalPolicy.SNAPSHOT,
        )
        self.capture = NeptuneStreamCapture(
            self,
            "Capture",
            NeptuneStreamCaptureProps(
                vpc=vpc,
                cluster=cluster,
                stream_id="orders-graph",
                tuning=CaptureTuning(in_flight=8, lag_alarm_seconds=120),
            ),
        )


class CaptureOfExistingGraph(Stack):
    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        # Imported by ids, no lookup: synth needs no AWS credentials.
        vpc = ec2.Vpc.from_vpc_attributes(
            self,
            "Vpc",
            vpc_id="vpc-0123456789abcdef0",
            availability_zones=["us-east-1a", "us-east-1b"],
            isolated_subnet_ids=["subnet-0123456789abcdef0", "subnet-0123456789abcdef1"],
            isolated_subnet_route_table_ids=["rtb-0123456789abcdef0", "rtb-0123456789abcdef1"],
        )
        NeptuneStreamCapture(
            self,
            "Capture",
            NeptuneStreamCaptureProps(
                vpc=vpc,
                cluster_attributes=ClusterAttributes(
                    cluster_resource_id="cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                    endpoint="people-graph.cluster-abcdefghijkl.us-east-1.neptune.amazonaws.com",
                    port=8182,
                    security_group=ec2.SecurityGroup.from_security_group_id(self, "GraphSg", "sg-0123456789abcdef0"),
                ),
                lambda_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED),
                stream_id="people-graph",
                graph_model="rdf",
                start_from="LATEST",
            ),
        )


app = App()
GraphWithCapture(app, "GraphWithCapture")
CaptureOfExistingGraph(app, "CaptureOfExistingGraph")
app.synth()
