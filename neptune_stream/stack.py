"""The whole neptune-stream stack: where Neptune is (a new VPC and cluster, or an existing cluster named by
a file), the tables, the functions, the workflow, its start schedule, monitoring."""

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
from neptune_stream.config import StackConfig
from neptune_stream.existing_graph import ExistingGraph
from neptune_stream.functions import Functions, FunctionSettings
from neptune_stream.graph import Graph
from neptune_stream.monitoring import Monitoring
from neptune_stream.network import Network
from neptune_stream.schedule import StartSchedule
from neptune_stream.tables import Tables
from neptune_stream.workflow import Workflow

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
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = cfg = config or StackConfig.from_context(self)
        defaults = cfg.defaults

        target = self._existing_cluster() if cfg.existing_cluster is not None else self._new_cluster()
        self.tables = Tables(self, "Tables", defaults=defaults)
        self.functions = Functions(
            self,
            "Functions",
            cluster=target.cluster,
            records=self.tables.records,
            history=self.tables.history,
            checkpoint=self.tables.checkpoint,
            vpc=target.vpc,
            subnets=target.subnets,
            security_group=target.security_group,
            settings=FunctionSettings(
                stream_id=DEFAULT_STREAM_ID,
                page_limit=cfg.page_limit,
                in_flight=cfg.in_flight,
                idle_base_seconds=cfg.idle_base_seconds,
                max_idle_wait_seconds=cfg.max_idle_wait_seconds,
                start_from=cfg.start_from,
                graph_model=cfg.graph_model,
            ),
            defaults=defaults,
            bundled_powertools=cfg.powertools == "bundled",
            with_reset=cfg.reset_function,
        )
        # DynamoDB through the VPC: only the stream handler and the reset function, only their table actions.
        target.network.admit_through_dynamodb_endpoint(
            self.functions.stream_handler_role, self.functions.stream_handler_table_grants
        )
        if self.functions.reset is not None and self.functions.reset.role is not None:
            target.network.admit_through_dynamodb_endpoint(self.functions.reset.role, self.functions.reset_table_grants)
        self.workflow = Workflow(
            self,
            "Workflow",
            stream_handler=self.functions.stream_handler,
            checkpoint=self.tables.checkpoint,
            stream_id=DEFAULT_STREAM_ID,
            iterations_per_execution=cfg.iterations_per_execution,
            defaults=defaults,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            stream_handler=self.functions.stream_handler,
            state_machine=self.workflow.state_machine,
            lag_alarm_seconds=cfg.lag_alarm_seconds,
            defaults=defaults,
        )
        self.start_schedule = StartSchedule(
            self,
            "StartSchedule",
            state_machine=self.workflow.state_machine,
            period_minutes=cfg.start_schedule_minutes,
            enabled=cfg.auto_start,
        )
        # Its first firing comes at once: not before Neptune answers and the Lambdas can reach it.
        for construct in target.ready:
            self.start_schedule.node.add_dependency(construct)

        # The contract with the CLI (a deployed stack) and the local run (the synthesized template).
        outputs = {
            Output.WRITER_ENDPOINT: target.writer_endpoint,
            Output.READER_ENDPOINT: target.reader_endpoint,
            Output.RECORDS_TABLE: self.tables.records.table_name,
            Output.HISTORY_TABLE: self.tables.history.table_name,
            Output.CHECKPOINT_TABLE: self.tables.checkpoint.table_name,
            Output.STATE_MACHINE: self.workflow.state_machine.state_machine_arn,
            Output.STATUS_FUNCTION: self.functions.status.function_name,
            Output.STREAM_HANDLER_FUNCTION: self.functions.stream_handler.function_name,
            Output.ALARM_TOPIC: self.monitoring.topic.topic_arn,
            Output.STREAM_ID: DEFAULT_STREAM_ID,
            Output.START_SCHEDULE: self.start_schedule.schedule_name,
            Output.CLUSTER_IDENTIFIER: target.cluster_identifier,
            Output.LAMBDA_SECURITY_GROUP: target.security_group.security_group_id,
        }
        # No reset function, no output: the CLI's `reset` then says why it cannot.
        if self.functions.reset is not None:
            outputs[Output.RESET_FUNCTION] = self.functions.reset.function_name
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
