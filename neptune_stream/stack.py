"""The whole neptune-stream stack: network, graph, tables, functions, workflow, monitoring."""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_logs as logs
from constructs import Construct

from neptune_stream.config import StackConfig
from neptune_stream.functions import Functions, FunctionSettings
from neptune_stream.graph import Graph
from neptune_stream.monitoring import Monitoring
from neptune_stream.nag import acknowledge_findings
from neptune_stream.network import Network
from neptune_stream.tables import Tables
from neptune_stream.workflow import Workflow

STREAM_ID = "neptune"


class NeptuneStreamStack(Stack):
    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig | None = None, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.config = cfg = config or StackConfig.from_context(self)
        retention = _retention(cfg.log_retention_days)

        self.network = Network(self, "Network", log_retention=retention, production=cfg.production)
        self.graph = Graph(
            self,
            "Graph",
            vpc=self.network.vpc,
            subnets=self.network.subnets,
            client_security_group=self.network.lambda_security_group,
            instance_class=cfg.instance_class,
            streams_expiry_days=cfg.streams_expiry_days,
            production=cfg.production,
            log_retention=retention,
        )
        self.tables = Tables(self, "Tables", production=cfg.production)
        self.functions = Functions(
            self,
            "Functions",
            graph=self.graph,
            tables=self.tables,
            vpc=self.network.vpc,
            subnets=self.network.subnets,
            security_group=self.network.lambda_security_group,
            settings=FunctionSettings(
                stream_id=STREAM_ID,
                page_limit=cfg.page_limit,
                idle_base_seconds=cfg.idle_base_seconds,
                max_idle_wait_seconds=cfg.max_idle_wait_seconds,
                log_retention=retention,
                production=cfg.production,
            ),
        )
        self.workflow = Workflow(
            self,
            "Workflow",
            stream_handler=self.functions.stream_handler,
            tables=self.tables,
            stream_id=STREAM_ID,
            iterations_per_execution=cfg.iterations_per_execution,
            log_retention=retention,
            production=cfg.production,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            stream_handler=self.functions.stream_handler,
            state_machine=self.workflow.state_machine,
            lag_alarm_seconds=cfg.lag_alarm_seconds,
        )

        outputs = {
            "NeptuneWriterEndpoint": self.graph.writer_endpoint,
            "NeptuneReaderEndpoint": self.graph.reader_endpoint,
            "StreamRecordsTable": self.tables.records.table_name,
            "UpdateHistoryTable": self.tables.history.table_name,
            "LatestCheckpointTable": self.tables.checkpoint.table_name,
            "StateMachineArn": self.workflow.state_machine.state_machine_arn,
            "StatusFunction": self.functions.status.function_name,
            "ResetFunction": self.functions.reset.function_name,
            "StreamHandlerFunction": self.functions.stream_handler.function_name,
            "AlarmTopicArn": self.monitoring.topic.topic_arn,
            "StreamId": STREAM_ID,
        }
        for name, value in outputs.items():
            CfnOutput(self, name, value=value)

        acknowledge_findings(self)


_RETENTION = {
    1: "ONE_DAY", 3: "THREE_DAYS", 5: "FIVE_DAYS", 7: "ONE_WEEK", 14: "TWO_WEEKS", 30: "ONE_MONTH", 60: "TWO_MONTHS",
    90: "THREE_MONTHS", 180: "SIX_MONTHS", 365: "ONE_YEAR", 731: "TWO_YEARS", 1827: "FIVE_YEARS", 3653: "TEN_YEARS",
}  # fmt: skip


def _retention(days: int) -> logs.RetentionDays:
    if days not in _RETENTION:
        raise ValueError(f"neptune-stream:logRetentionDays must be one of {sorted(_RETENTION)}, got {days}")
    return logs.RetentionDays[_RETENTION[days]]
