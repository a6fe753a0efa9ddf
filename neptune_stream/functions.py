"""The three Lambdas (status, reset, stream handler), each with its own least-privilege role."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from neptune_stream import LAMBDAS, LAYER_PYTHON
from neptune_stream.graph import Graph
from neptune_stream.tables import Tables

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
POWERTOOLS_VERSION = "3.37.0"  # the version requirements.txt pins, so what is tested is what runs
STREAM_HANDLER_TIMEOUT = Duration.minutes(15)
# Time the handler keeps for itself after its polling budget: one in-flight transaction and its retries.
STREAM_HANDLER_SAFETY_MARGIN_SECONDS = 60
ASSET_EXCLUDES = ["__pycache__", "*.pyc"]


@dataclass(frozen=True)
class FunctionSettings:
    stream_id: str
    page_limit: int
    idle_base_seconds: float
    max_idle_wait_seconds: float
    log_retention: logs.RetentionDays
    production: bool


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        graph: Graph,
        tables: Tables,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        settings: FunctionSettings,
    ) -> None:
        super().__init__(scope, construct_id)
        self._vpc, self._subnets, self._security_group, self._settings = vpc, subnets, security_group, settings

        # Powertools comes from its publisher's managed layer, found through the public SSM parameter
        # for this exact version, runtime and architecture, so the stack stays region-agnostic.
        powertools_arn = ssm.StringParameter.value_for_string_parameter(
            self, f"/aws/service/powertools/python/arm64/{RUNTIME.name}/{POWERTOOLS_VERSION}"
        )
        self.layers = [
            lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", powertools_arn),
            lambda_.LayerVersion(
                self,
                "Shared",
                code=lambda_.Code.from_asset(str(LAYER_PYTHON.parent), exclude=ASSET_EXCLUDES),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description="neptune-stream capture core and adapters",
            ),
        ]
        writer = graph.cluster.cluster_endpoint
        common_env = {
            "NEPTUNE_ENDPOINT": f"https://{writer.hostname}:{writer.port}",
            "POWERTOOLS_SERVICE_NAME": "neptune-stream",
            "POWERTOOLS_METRICS_NAMESPACE": "NeptuneStream",
        }

        self.status = self._function(
            "Status",
            folder="status",
            description="Reports the Neptune engine status",
            timeout=Duration.seconds(30),
            memory=256,
            environment=common_env,
        )
        graph.cluster.grant(self.status, "neptune-db:GetEngineStatus")

        # Fast reset must reach the writer: the cluster endpoint always points at it.
        self.reset = self._function(
            "Reset",
            folder="reset",
            description="Fast-resets the Neptune graph and its stream",
            timeout=Duration.minutes(5),
            memory=256,
            environment=common_env,
        )
        graph.cluster.grant(self.reset, "neptune-db:ResetDatabase")

        self.stream_handler = self._function(
            "StreamHandler",
            folder="stream_handler",
            description="Captures Neptune Streams records into DynamoDB, exactly once",
            timeout=STREAM_HANDLER_TIMEOUT,
            memory=1024,
            environment={
                **common_env,
                "STREAM_ID": settings.stream_id,
                "RECORDS_TABLE": tables.records.table_name,
                "HISTORY_TABLE": tables.history.table_name,
                "CHECKPOINT_TABLE": tables.checkpoint.table_name,
                "PAGE_LIMIT": str(settings.page_limit),
                "IDLE_BASE_SECONDS": str(settings.idle_base_seconds),
                "MAX_IDLE_WAIT_SECONDS": str(settings.max_idle_wait_seconds),
                "SAFETY_MARGIN_SECONDS": str(STREAM_HANDLER_SAFETY_MARGIN_SECONDS),
            },
        )
        graph.cluster.grant(self.stream_handler, "neptune-db:GetStreamRecords")
        # Exactly the item actions its transactions and reads use (no scans, no deletes), as explicit
        # statements: Table.grant would add the records table's index ARNs, which writes never need.
        for table, actions in (
            (tables.records, ["dynamodb:PutItem"]),
            (tables.history, ["dynamodb:PutItem"]),
            (tables.checkpoint, ["dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
        ):
            self.stream_handler.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[table.table_arn]))

    def _function(
        self,
        construct_id: str,
        *,
        folder: str,
        description: str,
        timeout: Duration,
        memory: int,
        environment: dict[str, str],
    ) -> lambda_.Function:
        log_group = logs.LogGroup(
            self,
            f"{construct_id}Logs",
            retention=self._settings.log_retention,
            removal_policy=RemovalPolicy.RETAIN if self._settings.production else RemovalPolicy.DESTROY,
        )
        return lambda_.Function(
            self,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(LAMBDAS / folder), exclude=ASSET_EXCLUDES),
            layers=self.layers,
            timeout=timeout,
            memory_size=memory,
            environment=environment,
            vpc=self._vpc,
            vpc_subnets=self._subnets,
            security_groups=[self._security_group],
            log_group=log_group,
            logging_format=lambda_.LoggingFormat.JSON,
        )

    @property
    def all(self) -> list[lambda_.Function]:
        return [self.status, self.reset, self.stream_handler]
