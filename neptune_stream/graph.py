"""Neptune cluster with streams on, IAM auth on, encrypted, reachable only from the Lambdas."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_neptune_alpha as neptune
from constructs import Construct

from neptune_stream.defaults import Defaults, retention

NEPTUNE_PORT = 8182


class Graph(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        client_security_group: ec2.ISecurityGroup,
        instance_class: str,
        streams_expiry_days: int,
        defaults: Defaults,
    ) -> None:
        super().__init__(scope, construct_id)

        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description="Neptune: accepts 8182 from the neptune-stream Lambdas only",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(client_security_group, ec2.Port.tcp(NEPTUNE_PORT), "neptune-stream Lambdas")
        client_security_group.add_egress_rule(self.security_group, ec2.Port.tcp(NEPTUNE_PORT), "Neptune cluster")

        self.parameter_group = neptune.ClusterParameterGroup(
            self,
            "ClusterParameters",
            family=neptune.ParameterGroupFamily.NEPTUNE_1_4,
            description="neptune-stream: streams enabled",
            parameters={
                "neptune_streams": "1",
                "neptune_streams_expiry_days": str(streams_expiry_days),
                "neptune_enable_audit_log": "1",
            },
        )

        # Naming the cluster lets the stack own its audit log group (retention, removal) before Neptune
        # would create one itself, instead of a log-retention custom resource.
        cluster_name = f"{Stack.of(self).stack_name.lower()}-graph"
        audit_logs = logs.LogGroup(
            self,
            "AuditLogs",
            log_group_name=f"/aws/neptune/{cluster_name}/audit",
            retention=retention(defaults.log_retention_days),
            removal_policy=defaults.removal_policy,
        )
        self.cluster = neptune.DatabaseCluster(
            self,
            "Cluster",
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            instance_type=neptune.InstanceType.of(instance_class),
            engine_version=neptune.EngineVersion.V1_4_6_1,
            cluster_parameter_group=self.parameter_group,
            db_cluster_name=cluster_name,
            iam_authentication=True,
            storage_encrypted=True,
            auto_minor_version_upgrade=True,
            # A second instance in the other AZ in production, so a failover keeps the stream readable.
            instances=2 if defaults.production else 1,
            backup_retention=Duration.days(7),
            cloudwatch_logs_exports=[neptune.LogType.AUDIT],
            deletion_protection=defaults.production,
            removal_policy=RemovalPolicy.SNAPSHOT if defaults.production else RemovalPolicy.DESTROY,
        )
        self.cluster.node.add_dependency(audit_logs)

    @property
    def writer_endpoint(self) -> str:
        return self.cluster.cluster_endpoint.socket_address

    @property
    def reader_endpoint(self) -> str:
        return self.cluster.cluster_read_endpoint.socket_address
