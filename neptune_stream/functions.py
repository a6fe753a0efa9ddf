"""The three Lambdas (status, reset, stream handler), each with its own least-privilege role."""

from __future__ import annotations

from dataclasses import dataclass

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_neptune_alpha as neptune
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from neptune_capture.schema import TableNames
from neptune_capture.settings import Env, HandlerSettings, powertools_env
from neptune_stream import nag_ids
from neptune_stream.assets import EXCLUDES, LAMBDAS, LAYER
from neptune_stream.defaults import Defaults

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
POWERTOOLS_VERSION = "3.37.0"  # the version pyproject.toml pins, so what is tested is what runs
STREAM_HANDLER_TIMEOUT = Duration.minutes(15)
# A backlog makes the stream handler CPU-bound (make bench: ~70 microseconds of CPU per record, most of it
# boto3 building and parsing requests). Lambda gives one full vCPU at 1,769 MB and proportionally less
# below (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html); Python does this work on
# one core, so more memory than one vCPU's buys nothing, and less caps the records per second in proportion.
STREAM_HANDLER_MEMORY_MB = 1769


@dataclass(frozen=True)
class FunctionSettings:
    stream_id: str
    page_limit: int
    in_flight: int
    idle_base_seconds: float
    max_idle_wait_seconds: float


class Functions(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        cluster: neptune.IDatabaseCluster,
        records: ddb.ITable,
        history: ddb.ITable,
        checkpoint: ddb.ITable,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        settings: FunctionSettings,
        defaults: Defaults,
    ) -> None:
        super().__init__(scope, construct_id)
        self._vpc, self._subnets, self._security_group, self._defaults = vpc, subnets, security_group, defaults

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
                code=lambda_.Code.from_asset(str(LAYER), exclude=EXCLUDES),
                compatible_runtimes=[RUNTIME],
                compatible_architectures=[ARCHITECTURE],
                description="neptune-stream capture core and adapters",
            ),
        ]
        writer = cluster.cluster_endpoint
        endpoint = f"https://{writer.hostname}:{writer.port}"
        neptune_env = {Env.NEPTUNE_ENDPOINT.value: endpoint, **powertools_env()}
        # The data-plane ARN of this cluster; IAM requires the "/*" suffix on it.
        self._neptune_resource = Stack.of(self).format_arn(
            service="neptune-db", resource=cluster.cluster_resource_identifier, resource_name="*"
        )

        self.status = self._function(
            "Status",
            folder="status",
            description="Reports the Neptune engine status",
            timeout=Duration.seconds(30),
            memory=256,
            environment=neptune_env,
        )
        cluster.grant(self.status, "neptune-db:GetEngineStatus")

        # Fast reset must reach the writer: the cluster endpoint always points at it.
        self.reset = self._function(
            "Reset",
            folder="reset",
            description="Fast-resets the Neptune graph and its stream",
            timeout=Duration.minutes(5),
            memory=256,
            environment=neptune_env,
        )
        cluster.grant(self.reset, "neptune-db:ResetDatabase")

        handler_settings = HandlerSettings(
            stream_id=settings.stream_id,
            tables=TableNames(records=records.table_name, history=history.table_name, checkpoint=checkpoint.table_name),
            neptune_endpoint=endpoint,
            page_limit=settings.page_limit,
            in_flight=settings.in_flight,
            idle_base_seconds=settings.idle_base_seconds,
            max_idle_wait_seconds=settings.max_idle_wait_seconds,
        )
        self.stream_handler = self._function(
            "StreamHandler",
            folder="stream_handler",
            description="Captures Neptune Streams records into DynamoDB, exactly once",
            timeout=STREAM_HANDLER_TIMEOUT,
            memory=STREAM_HANDLER_MEMORY_MB,
            environment=handler_settings.to_env(),
        )
        cluster.grant(self.stream_handler, "neptune-db:GetStreamRecords")
        # Exactly the item actions its transactions and reads use (no scans, no deletes), as explicit
        # statements: Table.grant would add the records table's index ARNs, which writes never need. A
        # transaction's ConditionCheck (the fence slots) needs its own action:
        # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html
        for table, actions in (
            (records, ["dynamodb:PutItem"]),
            (history, ["dynamodb:PutItem"]),
            (checkpoint, ["dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"]),
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
        function = lambda_.Function(
            self,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(LAMBDAS / folder), exclude=EXCLUDES),
            layers=self.layers,
            timeout=timeout,
            memory_size=memory,
            environment=environment,
            vpc=self._vpc,
            vpc_subnets=self._subnets,
            security_groups=[self._security_group],
            log_group=self._defaults.log_group(self, f"{construct_id}Logs"),
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
        )
        Validations.of(function).acknowledge(
            Acknowledgment(
                id=nag_ids.managed_policy("service-role/AWSLambdaBasicExecutionRole"),
                reason="AWS-maintained minimum for writing the function's own CloudWatch logs",
            ),
            Acknowledgment(
                id=nag_ids.managed_policy("service-role/AWSLambdaVPCAccessExecutionRole"),
                reason="AWS-maintained minimum for the ENIs a VPC function needs; its EC2 actions only work on resource '*'",
            ),
            Acknowledgment(
                id=nag_ids.wildcard_resource(self, self._neptune_resource),
                reason="neptune-db actions are granted on this cluster's own data-plane ARN; IAM requires the '/*' suffix "
                "for it and the action list (one action per function) carries the least privilege",
            ),
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="active X-Ray tracing: xray:PutTraceSegments and PutTelemetryRecords support only resource '*'",
            ),
        )
        return function

    @property
    def all(self) -> list[lambda_.Function]:
        return [self.status, self.reset, self.stream_handler]
