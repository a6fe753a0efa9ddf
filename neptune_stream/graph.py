"""Neptune cluster with streams on, IAM auth on, encrypted, reachable only from the Lambdas."""

from __future__ import annotations

from datetime import date

from aws_cdk import Acknowledgment, Annotations, Duration, RemovalPolicy, Validations
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_neptune_alpha as neptune
from aws_cdk.aws_neptune import CfnDBInstance
from constructs import Construct

from neptune_stream.defaults import Defaults, retention
from neptune_stream.pins import PINNED, end_of_life_warning

NEPTUNE_PORT = 8182
ENGINE_VERSION = neptune.EngineVersion(PINNED.version)


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
        today: date | None = None,
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
            family=neptune.ParameterGroupFamily(PINNED.family),
            description="neptune-stream: streams enabled",
            parameters={
                "neptune_streams": "1",
                "neptune_streams_expiry_days": str(streams_expiry_days),
                "neptune_enable_audit_log": "1",
            },
        )

        # Pinned, with automatic minor upgrades off: the template and the cluster always agree, so a later
        # deploy never asks CloudFormation to "downgrade" a cluster Neptune upgraded on its own. With
        # AutoMinorVersionUpgrade on, "minor version upgrades are applied automatically to the DB instance
        # during the maintenance window" (https://docs.aws.amazon.com/neptune/latest/apiref/API_ModifyDBInstance.html,
        # https://docs.aws.amazon.com/neptune/latest/userguide/engine-maintenance-management.html); here an
        # upgrade is a deliberate change of the release table (pins.ENGINE_RELEASES) and a deploy
        # (docs/deploying.md, "Engine version").
        self.cluster = neptune.DatabaseCluster(
            self,
            "Cluster",
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            instance_type=neptune.InstanceType.of(instance_class),
            engine_version=ENGINE_VERSION,
            cluster_parameter_group=self.parameter_group,
            # No fixed identifier: CloudFormation generates one, so a replacement, or a deploy after a
            # production destroy that retained the old audit log group, never collides with a name in use.
            iam_authentication=True,
            storage_encrypted=True,
            auto_minor_version_upgrade=False,
            # A second instance in the other AZ in production, so a failover keeps the stream readable.
            instances=2 if defaults.production else 1,
            backup_retention=Duration.days(7),
            cloudwatch_logs_exports=[neptune.LogType.AUDIT],
            deletion_protection=defaults.production,
            removal_policy=RemovalPolicy.SNAPSHOT if defaults.production else RemovalPolicy.DESTROY,
        )
        # The stack owns the audit log group (retention, removal) instead of letting Neptune create one
        # that is kept forever. Its name is Neptune's, /aws/neptune/<cluster identifier>/audit, as CDK's
        # own Neptune construct derives it from the cluster's Ref (aws-cdk, packages/@aws-cdk/aws-neptune-alpha/
        # lib/cluster.ts, cloudwatchLogsRetention). Audit logs come from the instances
        # (https://docs.aws.amazon.com/neptune/latest/userguide/auditing.html), so the group is created after
        # the cluster and before any instance: Neptune never creates it first.
        self.audit_logs = logs.LogGroup(
            self,
            "AuditLogs",
            log_group_name=f"/aws/neptune/{self.cluster.cluster_identifier}/audit",
            retention=retention(defaults.log_retention_days),
            removal_policy=defaults.removal_policy,
        )
        for child in self.cluster.node.children:
            if isinstance(child, CfnDBInstance):
                child.node.add_dependency(self.audit_logs)
                Validations.of(child).acknowledge(
                    Acknowledgment(
                        id="AwsSolutions-N2",
                        reason="the engine version is pinned (ENGINE_VERSION) and upgraded deliberately: an automatic "
                        "minor upgrade would leave the template naming an older version than the cluster runs",
                    )
                )
        warning = end_of_life_warning(PINNED, today or date.today())
        if warning is not None:
            Annotations.of(self.cluster).add_warning_v2("neptune-stream:engineEndOfLife", warning)
        # The retention is a static parameter: a change reaches Neptune only when its instances reboot
        # ("This parameter is static, meaning that changes to it do not take effect on any instance until it
        # has been rebooted": https://docs.aws.amazon.com/neptune/latest/userguide/parameters.html).
        Annotations.of(self.parameter_group).add_info(
            f"neptune_streams_expiry_days={streams_expiry_days}: changing neptune-stream:streamsExpiryDays on a "
            "deployed cluster takes effect only after its instances reboot (docs/deploying.md)"
        )

    @property
    def writer_endpoint(self) -> str:
        return self.cluster.cluster_endpoint.socket_address

    @property
    def cluster_identifier(self) -> str:
        return self.cluster.cluster_identifier

    @property
    def reader_endpoint(self) -> str:
        return self.cluster.cluster_read_endpoint.socket_address
