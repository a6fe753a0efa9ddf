"""The whole neptune-stream stack: where Neptune is (a new VPC and cluster, or an existing cluster named by
a file) and the capture of its stream (NeptuneStreamCapture: the tables, the functions, the workflow, its
start schedule, monitoring), with the stack outputs the CLI and the local run read."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_neptune_alpha as neptune
from constructs import Construct, IConstruct

from neptune_capture.contract import DEFAULT_STREAM_ID, STACK_NAME, Output
from neptune_stream.capture import NeptuneStreamCapture, NeptuneStreamCaptureProps
from neptune_stream.config import StackConfig
from neptune_stream.existing_graph import ExistingGraph
from neptune_stream.graph import Graph
from neptune_stream.network import Network

__all__ = ["STACK_NAME", "NeptuneStreamStack"]


class Admission(Protocol):
    """DynamoDB through the VPC for exactly the stream handler's table actions (Network, ExistingGraph)."""

    def admit_through_dynamodb_endpoint(self, role: iam.IRole, grants: Sequence[tuple[str, Sequence[str]]]) -> None: ...


@dataclass(frozen=True)
class Target:
    """Where the Lambdas run and the cluster they read, whichever mode made them."""

    vpc: ec2.IVpc
    subnets: ec2.SubnetSelection
    security_group: ec2.ISecurityGroup
    cluster: neptune.IDatabaseCluster
    writer_endpoint: str
    reader_endpoint: str
    cluster_identifier: str
    network: Admission
    # What must exist before the schedule's first firing, which comes at once.
    ready: tuple[IConstruct, ...]


class NeptuneStreamStack(Stack):
    """Where Neptune is (network + graph, or the existing cluster the context names) and one
    NeptuneStreamCapture of its stream, with the outputs the CLI and the local run read."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = cfg = config or StackConfig.from_context(self)
        defaults = cfg.defaults

        target = self._existing_cluster() if cfg.existing_cluster is not None else self._new_cluster()
        # "Default" is the id CDK leaves out of logical ids: the capture's resources keep the ids they had
        # when they were the stack's own children, so a deployed stack updates in place (no table replaced).
        self.capture = NeptuneStreamCapture(
            self,
            "Default",
            NeptuneStreamCaptureProps(
                vpc=target.vpc,
                cluster=target.cluster,
                lambda_subnets=target.subnets,
                lambda_security_group=target.security_group,
                graph_model=cfg.graph_model,
                stream_id=DEFAULT_STREAM_ID,
                start_from=cfg.start_from,
                tuning=cfg.tuning,
                retain_data=defaults.production,
                log_retention_days=defaults.log_retention_days,
                reset_function=cfg.reset_function,
                bundled_powertools=cfg.powertools == "bundled",
                auto_start=cfg.auto_start,
            ),
        )
        capture = self.capture
        # DynamoDB through the VPC: only the stream handler and the reset function, only their table actions.
        for role, grants in capture.dynamodb_endpoint_grants:
            target.network.admit_through_dynamodb_endpoint(role, grants)
        # Its first firing comes at once: not before Neptune answers and the Lambdas can reach it.
        for construct in target.ready:
            capture.start_schedule.node.add_dependency(construct)

        # The contract with the CLI (a deployed stack) and the local run (the synthesized template).
        outputs = {
            Output.WRITER_ENDPOINT: target.writer_endpoint,
            Output.READER_ENDPOINT: target.reader_endpoint,
            Output.RECORDS_TABLE: capture.records_table.table_name,
            Output.HISTORY_TABLE: capture.history_table.table_name,
            Output.CHECKPOINT_TABLE: capture.checkpoint_table.table_name,
            Output.STATE_MACHINE: capture.state_machine.state_machine_arn,
            Output.STATUS_FUNCTION: capture.status_function.function_name,
            Output.STREAM_HANDLER_FUNCTION: capture.stream_handler.function_name,
            Output.ALARM_TOPIC: capture.alarm_topic.topic_arn,
            Output.STREAM_ID: capture.stream_id,
            Output.START_SCHEDULE: capture.start_schedule.schedule_name,
            Output.CLUSTER_IDENTIFIER: target.cluster_identifier,
            Output.LAMBDA_SECURITY_GROUP: target.security_group.security_group_id,
        }
        # No reset function, no output: the CLI's `reset` then says why it cannot.
        if capture.reset_function is not None:
            outputs[Output.RESET_FUNCTION] = capture.reset_function.function_name
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)

    def _new_cluster(self) -> Target:
        defaults = self.config.defaults
        self.network = Network(self, "Network", defaults=defaults)
        self.graph = Graph(
            self,
            "Graph",
            vpc=self.network.vpc,
            subnets=self.network.subnets,
            client_security_group=self.network.lambda_security_group,
            instance_class=self.config.instance_class,
            streams_expiry_days=self.config.streams_expiry_days,
            defaults=defaults,
        )
        return Target(
            vpc=self.network.vpc,
            subnets=self.network.subnets,
            security_group=self.network.lambda_security_group,
            cluster=self.graph.cluster,
            writer_endpoint=self.graph.writer_endpoint,
            reader_endpoint=self.graph.reader_endpoint,
            cluster_identifier=self.graph.cluster_identifier,
            network=self.network,
            ready=(self.graph.cluster,),
        )

    def _existing_cluster(self) -> Target:
        assert self.config.existing_cluster is not None
        self.existing = ExistingGraph(self, "ExistingGraph", spec=self.config.existing_cluster)
        return Target(
            vpc=self.existing.vpc,
            subnets=self.existing.subnets,
            security_group=self.existing.lambda_security_group,
            cluster=self.existing.cluster,
            writer_endpoint=self.existing.writer_endpoint,
            reader_endpoint=self.existing.reader_endpoint,
            cluster_identifier=self.existing.cluster_identifier,
            network=self.existing,
            ready=tuple(self.existing.ready),
        )
