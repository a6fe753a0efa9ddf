"""An existing Neptune cluster, attached to without touching it: its VPC, subnets, security group and
cluster are imported from the ids in the existing-cluster file (no lookup, so no credentials at synth),
and the only things created are the Lambdas' own security group, the ingress rule that lets them reach
port 8182 (or, when the owner manages the cluster's group, an output with the rule to add), and the
DynamoDB gateway endpoint when the VPC has none.

Nothing here can change or delete the cluster: there is no Neptune resource in the stack, and the one
resource that touches something of the owner's is an AWS::EC2::SecurityGroupIngress on their group, which
CloudFormation removes (the rule alone) when the stack goes."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Annotations, CfnOutput, CfnRule, CfnRuleAssertion, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_neptune_alpha as neptune
from constructs import Construct, IConstruct

from neptune_capture.contract import Output
from neptune_stream.dynamodb_access import gateway_endpoint, lambda_security_group
from neptune_stream.existing_spec import ExistingCluster

# The synth warning that the endpoint this stack creates carries the owner's other DynamoDB traffic too.
SHARED_ENDPOINT_WARNING = "neptune-stream:sharedDynamoDbEndpoint"


class ExistingGraph(Construct):
    def __init__(self, scope: Construct, construct_id: str, *, spec: ExistingCluster) -> None:
        super().__init__(scope, construct_id)
        self.spec = spec
        stack = Stack.of(self)

        # The Lambdas sign their Neptune requests for the region they run in, and their IAM grants name that
        # region: deployed anywhere else, every request would be refused. CloudFormation stops the deploy
        # before it creates anything (template rules: https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/rules-section-structure.html).
        CfnRule(
            self,
            "SameRegionAsTheCluster",
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_equals(stack.region, spec.region),
                    assert_description=f"The existing cluster {spec.identifier} is in {spec.region}: deploy this stack there",
                )
            ],
        )

        self.vpc = ec2.Vpc.from_vpc_attributes(self, "Vpc", vpc_id=spec.vpc_id, availability_zones=spec.availability_zones)
        self.subnets = ec2.SubnetSelection(
            subnets=[
                ec2.Subnet.from_subnet_attributes(
                    self,
                    f"Subnet{i}",
                    subnet_id=s.subnet_id,
                    availability_zone=s.availability_zone,
                    route_table_id=s.route_table_id,
                )
                for i, s in enumerate(spec.subnets)
            ]
        )
        if len(spec.availability_zones) < 2:
            Annotations.of(self).add_warning_v2(
                "neptune-stream:oneAvailabilityZone",
                f"network.subnets are all in {spec.availability_zones[0]}: the Lambdas run only there, so an outage "
                "of that zone stops capture",
            )

        # HTTPS egress to DynamoDB's prefix list when the file names it; otherwise to any address, which in a
        # VPC with other routes (a NAT gateway) reaches more than DynamoDB: say so at every synth.
        if spec.dynamodb_prefix_list_id:
            dynamodb: ec2.IPeer = ec2.Peer.prefix_list(spec.dynamodb_prefix_list_id)
        else:
            dynamodb = ec2.Peer.any_ipv4()
            Annotations.of(self).add_warning_v2(
                "neptune-stream:httpsEgressAnywhere",
                "network.dynamoDbPrefixListId is not set, so the Lambdas' security group allows HTTPS to any IPv4 address; "
                "if these subnets route anywhere but DynamoDB, set it (aws ec2 describe-managed-prefix-lists "
                f"--filters Name=prefix-list-name,Values=com.amazonaws.{spec.region}.dynamodb)",
            )
        self.lambda_security_group = lambda_security_group(self, "LambdaSecurityGroup", self.vpc, dynamodb)

        # mutable=False when the group is its owner's alone: CDK then adds no rule to it, whatever asks.
        self.cluster_security_group = ec2.SecurityGroup.from_security_group_id(
            self, "ClusterSecurityGroup", spec.security_group_id, mutable=not spec.user_managed_security_group
        )
        port = ec2.Port.tcp(spec.port)
        self.lambda_security_group.add_egress_rule(self.cluster_security_group, port, "Neptune cluster")
        # What must exist before the first execution starts (the schedule fires at once).
        self.ready: list[IConstruct] = []
        if spec.user_managed_security_group:
            rule = (
                f"aws ec2 authorize-security-group-ingress --region {spec.region} --group-id {spec.security_group_id} "
                f"--protocol tcp --port {spec.port} --source-group "
            )
            CfnOutput(
                self,
                "RuleToAdd",
                key=Output.CLUSTER_INGRESS_RULE,
                description="Add this rule to the cluster's security group: until then no Lambda reaches Neptune",
                value=rule + self.lambda_security_group.security_group_id,
            )
        else:
            self.cluster_security_group.add_ingress_rule(self.lambda_security_group, port, "neptune-stream Lambdas")
            self.ready += [c for c in self.cluster_security_group.node.children if isinstance(c, ec2.CfnSecurityGroupIngress)]

        self.cluster = neptune.DatabaseCluster.from_database_cluster_attributes(
            self,
            "Cluster",
            cluster_identifier=spec.identifier,
            cluster_resource_identifier=spec.resource_id,
            cluster_endpoint_address=spec.endpoint,
            reader_endpoint_address=spec.reader_endpoint,
            port=spec.port,
            security_group=self.cluster_security_group,
        )

        self.dynamodb_endpoint: ec2.GatewayVpcEndpoint | None = None
        if not spec.vpc_has_dynamodb_endpoint:
            self.dynamodb_endpoint = gateway_endpoint(self, "DynamoDbEndpoint", self.vpc, self.subnets)
            self.ready.append(self.dynamodb_endpoint)
            Annotations.of(self.dynamodb_endpoint).add_warning_v2(
                SHARED_ENDPOINT_WARNING,
                "the stack adds a DynamoDB gateway endpoint to the route tables of network.subnets: from then on all "
                "DynamoDB traffic of everything in those subnets goes through it (its policy is the default, full "
                "access); if the VPC has an endpoint already, set settings.vpcHasDynamoDbEndpoint to true",
            )

    def admit_through_dynamodb_endpoint(self, role: iam.IRole, grants: Sequence[tuple[str, Sequence[str]]]) -> None:
        """Nothing is narrowed here. An endpoint this stack creates sits on the owner's route tables, so it
        carries the DynamoDB traffic of everything else in those subnets too: a policy admitting only the
        handler would cut the owner's other workloads off DynamoDB. It keeps the default policy (full
        access, https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-access.html), and the
        handler's role alone bounds what the handler can do. An endpoint the VPC had already keeps its
        owner's policy, which must allow the handler's actions (docs/existing-cluster.md)."""

    @property
    def writer_endpoint(self) -> str:
        return f"{self.spec.endpoint}:{self.spec.port}"

    @property
    def reader_endpoint(self) -> str:
        return f"{self.spec.reader_endpoint}:{self.spec.port}"

    @property
    def cluster_identifier(self) -> str:
        return self.spec.identifier
