"""The whole neptune-stream stack: network, graph, tables, functions, workflow, monitoring."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from constructs import Construct

from neptune_capture.contract import DEFAULT_STREAM_ID, STACK_NAME, Output
from neptune_stream.config import StackConfig
from neptune_stream.functions import Functions, FunctionSettings
from neptune_stream.graph import Graph
from neptune_stream.monitoring import Monitoring
from neptune_stream.network import Network
from neptune_stream.tables import Tables
from neptune_stream.workflow import Workflow

__all__ = ["STACK_NAME", "NeptuneStreamStack"]


class NeptuneStreamStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = cfg = config or StackConfig.from_context(self)
        defaults = cfg.defaults

        self.network = Network(self, "Network", defaults=defaults)
        self.graph = Graph(
            self,
            "Graph",
            vpc=self.network.vpc,
            subnets=self.network.subnets,
            client_security_group=self.network.lambda_security_group,
            instance_class=cfg.instance_class,
            streams_expiry_days=cfg.streams_expiry_days,
            defaults=defaults,
        )
        self.tables = Tables(self, "Tables", defaults=defaults)
        self.functions = Functions(
            self,
            "Functions",
            cluster=self.graph.cluster,
            records=self.tables.records,
            history=self.tables.history,
            checkpoint=self.tables.checkpoint,
            vpc=self.network.vpc,
            subnets=self.network.subnets,
            security_group=self.network.lambda_security_group,
            settings=FunctionSettings(
                stream_id=DEFAULT_STREAM_ID,
                page_limit=cfg.page_limit,
                in_flight=cfg.in_flight,
                idle_base_seconds=cfg.idle_base_seconds,
                max_idle_wait_seconds=cfg.max_idle_wait_seconds,
            ),
            defaults=defaults,
        )
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
        )

        # The contract with the CLI (a deployed stack) and the local run (the synthesized template).
        outputs = {
            Output.WRITER_ENDPOINT: self.graph.writer_endpoint,
            Output.READER_ENDPOINT: self.graph.reader_endpoint,
            Output.RECORDS_TABLE: self.tables.records.table_name,
            Output.HISTORY_TABLE: self.tables.history.table_name,
            Output.CHECKPOINT_TABLE: self.tables.checkpoint.table_name,
            Output.STATE_MACHINE: self.workflow.state_machine.state_machine_arn,
            Output.STATUS_FUNCTION: self.functions.status.function_name,
            Output.RESET_FUNCTION: self.functions.reset.function_name,
            Output.STREAM_HANDLER_FUNCTION: self.functions.stream_handler.function_name,
            Output.ALARM_TOPIC: self.monitoring.topic.topic_arn,
            Output.STREAM_ID: DEFAULT_STREAM_ID,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)
