"""The three Lambdas (status, reset, stream handler), each with its own least-privilege role: no AWS
managed policy, its own log group only, the network-interface actions a VPC function needs, and exactly
the Neptune and DynamoDB actions it uses."""

from __future__ import annotations

from dataclasses import dataclass, field

from aws_cdk import Acknowledgment, Duration, Stack, Validations
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_neptune_alpha as neptune
from aws_cdk import aws_ssm as ssm
from constructs import Construct

from neptune_capture import schema
from neptune_capture.contract import RESET_FUNCTION_TIMEOUT_SECONDS, STATUS_FUNCTION_TIMEOUT_SECONDS, GraphModel, StartFrom
from neptune_capture.schema import TableNames
from neptune_capture.settings import Env, HandlerSettings, powertools_env
from neptune_capture.tuning import CaptureTuning
from neptune_stream import nag_ids
from neptune_stream.assets import EXCLUDES, handler_folder
from neptune_stream.defaults import Defaults
from neptune_stream.layer_bundle import POWERTOOLS_VERSION, layer_code

RUNTIME = lambda_.Runtime.PYTHON_3_14
ARCHITECTURE = lambda_.Architecture.ARM_64
STREAM_HANDLER_TIMEOUT = Duration.minutes(15)
# What Lambda needs to attach a function to the VPC: the network-interface actions of the Lambda guide
# (https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html), the EC2 part of
# AWSLambdaVPCAccessExecutionRole (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/
# AWSLambdaVPCAccessExecutionRole.html) without its logs:* on every log group.
VPC_NETWORK_INTERFACE_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
# A backlog makes the stream handler CPU-bound (make bench: ~70 microseconds of CPU per record, most of it
# boto3 building and parsing requests). Lambda gives one full vCPU at 1,769 MB and proportionally less
# below (https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html); Python does this work on
# one core, so more memory than one vCPU's buys nothing, and less caps the records per second in proportion.
STREAM_HANDLER_MEMORY_MB = 1769


@dataclass(frozen=True)
class FunctionSettings:
    stream_id: str
    # The one tuning object (neptune_capture.tuning): the stream handler's settings are built from it.
    tuning: CaptureTuning = field(default_factory=CaptureTuning)
    start_from: StartFrom = StartFrom.TRIM_HORIZON
    graph_model: GraphModel = GraphModel.PROPERTY_GRAPH


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
        bundled_powertools: bool = True,
        with_reset: bool = True,
    ) -> None:
        super().__init__(scope, construct_id)
        self._vpc, self._subnets, self._security_group, self._defaults = vpc, subnets, security_group, defaults
        self.roles: dict[str, iam.Role] = {}

        # The project's layer carries Powertools too (layer_bundle.py), unless the context asks for the
        # publisher's layer: found through the public SSM parameter for this version, runtime and
        # architecture, which its publisher writes only in the regions it publishes to (none in China).
        shared = lambda_.LayerVersion(
            self,
            "Shared",
            code=layer_code(with_powertools=bundled_powertools),
            compatible_runtimes=[RUNTIME],
            compatible_architectures=[ARCHITECTURE],
            description="neptune-stream capture core and adapters"
            + (f", Powertools {POWERTOOLS_VERSION}" if bundled_powertools else ""),
        )
        self.layers: list[lambda_.ILayerVersion] = [shared]
        if not bundled_powertools:
            powertools_arn = ssm.StringParameter.value_for_string_parameter(
                self, f"/aws/service/powertools/python/arm64/{RUNTIME.name}/{POWERTOOLS_VERSION}"
            )
            self.layers.insert(0, lambda_.LayerVersion.from_layer_version_arn(self, "Powertools", powertools_arn))
        writer = cluster.cluster_endpoint
        endpoint = f"https://{writer.hostname}:{writer.port}"
        neptune_env = {Env.NEPTUNE_ENDPOINT.value: endpoint, **powertools_env(settings.stream_id)}
        # The data-plane ARN of this cluster; IAM requires the "/*" suffix on it.
        self._neptune_resource = Stack.of(self).format_arn(
            service="neptune-db", resource=cluster.cluster_resource_identifier, resource_name="*"
        )

        self.status = self._function(
            "Status",
            folder="status",
            description="Reports the Neptune engine status",
            timeout=Duration.seconds(STATUS_FUNCTION_TIMEOUT_SECONDS),
            memory=256,
            environment=neptune_env,
        )
        cluster.grant(self.status, "neptune-db:GetEngineStatus")

        handler_settings = HandlerSettings(
            stream_id=settings.stream_id,
            tables=TableNames(records=records.table_name, history=history.table_name, checkpoint=checkpoint.table_name),
            neptune_endpoint=endpoint,
            page_limit=settings.tuning.page_limit,
            in_flight=settings.tuning.in_flight,
            idle_base_seconds=settings.tuning.idle_base_seconds,
            max_idle_wait_seconds=settings.tuning.max_idle_wait_seconds,
            start_from=settings.start_from,
            graph_model=settings.graph_model,
        )
        # Fast reset must reach the writer: the cluster endpoint always points at it. It erases the graph, so
        # it exists only where the stack may do that (never, by default, on a cluster it did not create). It
        # reads the checkpoint and the stream (capture must have stored everything first) and opens the next
        # capture generation: a RESET history item and the checkpoint update (docs/reset-and-generations.md).
        self.reset: lambda_.Function | None = None
        if with_reset:
            self.reset = self._function(
                "Reset",
                folder="reset",
                description="Fast-resets the Neptune graph and opens the next capture generation",
                timeout=Duration.seconds(RESET_FUNCTION_TIMEOUT_SECONDS),
                memory=256,
                environment=handler_settings.to_env(),
            )
            cluster.grant(self.reset, "neptune-db:ResetDatabase", "neptune-db:GetStreamRecords")
            self.reset.add_to_role_policy(iam.PolicyStatement(actions=["dynamodb:PutItem"], resources=[history.table_arn]))
            # Only the stream's checkpoint item, as the handler (dynamodb:LeadingKeys, below).
            self.reset.add_to_role_policy(
                iam.PolicyStatement(
                    actions=["dynamodb:GetItem", "dynamodb:UpdateItem"],
                    resources=[checkpoint.table_arn],
                    conditions={"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [settings.stream_id]}},
                )
            )
        # What the DynamoDB gateway endpoint must admit for the reset function (its policy names each role).
        self.reset_table_grants: list[tuple[str, list[str]]] = [
            (history.table_arn, ["dynamodb:PutItem"]),
            (checkpoint.table_arn, ["dynamodb:GetItem", "dynamodb:UpdateItem"]),
        ]

        self.stream_handler = self._function(
            "StreamHandler",
            folder="stream_handler",
            description="Captures Neptune Streams records into DynamoDB, exactly once",
            timeout=STREAM_HANDLER_TIMEOUT,
            memory=STREAM_HANDLER_MEMORY_MB,
            environment=handler_settings.to_env(),
        )
        # GetEngineStatus: each invocation first checks that Neptune Streams is on (neptune_capture.preconditions).
        # GetStreamRecords admits both streams: GetPropertygraphStream and GetSparqlStream each need "the
        # neptune-db:GetStreamRecords IAM action" (https://docs.aws.amazon.com/neptune/latest/userguide/data-api-dp-streams.html,
        # https://docs.aws.amazon.com/neptune/latest/userguide/iam-dp-actions.html#getstreamrecords), so the graph
        # model changes nothing here; neither is narrowed by its neptune-db:QueryLanguage context key.
        cluster.grant(self.stream_handler, "neptune-db:GetStreamRecords", "neptune-db:GetEngineStatus")
        # Exactly the item actions its transactions and reads use (no scans, no deletes), as explicit
        # statements: Table.grant would add the records table's index ARNs, which writes never need.
        # TransactWriteItems has no IAM action of its own: each item is authorized as its Put, Update or
        # ConditionCheck (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis-iam.html).
        # On the checkpoint table every action is held to the keys it is used on (dynamodb:LeadingKeys,
        # https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/specifying-conditions.html), since
        # UpdateItem and Put create any item they name (store.py): the stream's checkpoint item is read and
        # updated (the lease, every checkpoint move); transactions ConditionCheck it (taking the lease) or a
        # fence slot (every data transaction); the fence slots beside it are rewritten whole (Put) when the
        # lease is taken. ForAllValues with StringEquals/StringLike, as the page's examples: every partition
        # key the request names must match.
        for table, actions in [(records, ["dynamodb:PutItem"]), (history, ["dynamodb:PutItem"])]:
            self.stream_handler.add_to_role_policy(iam.PolicyStatement(actions=actions, resources=[table.table_arn]))
        checkpoint_item = [settings.stream_id]
        fence_slots = [f"{settings.stream_id}{schema.FENCE_INFIX}*"]
        for actions, keys in [
            (["dynamodb:GetItem", "dynamodb:UpdateItem"], checkpoint_item),
            (["dynamodb:ConditionCheckItem"], checkpoint_item + fence_slots),
            (["dynamodb:PutItem"], fence_slots),
        ]:
            operator = "ForAllValues:StringLike" if any("*" in k for k in keys) else "ForAllValues:StringEquals"
            self.stream_handler.add_to_role_policy(
                iam.PolicyStatement(
                    actions=actions, resources=[checkpoint.table_arn], conditions={operator: {"dynamodb:LeadingKeys": keys}}
                )
            )
        # What the DynamoDB endpoint admits for this role (its policy carries no condition keys).
        self.stream_handler_table_grants: list[tuple[str, list[str]]] = [
            (records.table_arn, ["dynamodb:PutItem"]),
            (history.table_arn, ["dynamodb:PutItem"]),
            (
                checkpoint.table_arn,
                ["dynamodb:ConditionCheckItem", "dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:UpdateItem"],
            ),
        ]

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
        log_group = self._defaults.log_group(self, f"{construct_id}Logs")
        function = lambda_.Function(
            self,
            construct_id,
            description=description,
            runtime=RUNTIME,
            architecture=ARCHITECTURE,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(handler_folder(folder)), exclude=EXCLUDES),
            layers=self.layers,
            timeout=timeout,
            memory_size=memory,
            environment=environment,
            vpc=self._vpc,
            vpc_subnets=self._subnets,
            security_groups=[self._security_group],
            log_group=log_group,
            role=self._role(construct_id, log_group),
            logging_format=lambda_.LoggingFormat.JSON,
            tracing=lambda_.Tracing.ACTIVE,
        )
        return function

    def _role(self, construct_id: str, log_group: logs.ILogGroup) -> iam.Role:
        """The function's own role, instead of AWSLambdaBasicExecutionRole and AWSLambdaVPCAccessExecutionRole,
        whose logs statements reach every log group in the account. Inline, so they live exactly as long as
        the role, which CloudFormation creates before the function and deletes after it."""
        role = self.roles[construct_id] = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"neptune-stream {construct_id} function",
            inline_policies={
                "Logs": iam.PolicyDocument(
                    statements=[
                        iam.PolicyStatement(
                            actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
                        )
                    ]
                ),
                "VpcNetworkInterfaces": iam.PolicyDocument(
                    statements=[iam.PolicyStatement(actions=VPC_NETWORK_INTERFACE_ACTIONS, resources=["*"])]
                ),
            },
        )
        Validations.of(role).acknowledge(
            Acknowledgment(
                id="AwsSolutions-IAM5[Resource::*]",
                reason="active X-Ray tracing (xray:PutTraceSegments, PutTelemetryRecords) and the network-interface actions "
                "of a VPC function: Lambda creates and deletes interfaces whose IDs nobody knows in advance, and "
                "ec2:DescribeNetworkInterfaces 'only works if it's allowed on all resources' "
                "(https://docs.aws.amazon.com/lambda/latest/dg/configuration-vpc.html)",
            ),
            Acknowledgment(
                id=nag_ids.wildcard_resource(self, self._neptune_resource),
                reason="neptune-db actions are granted on this cluster's own data-plane ARN; IAM requires the '/*' suffix "
                "for it and the action list (one action per function) carries the least privilege",
            ),
        )
        return role

    @property
    def stream_handler_role(self) -> iam.IRole:
        return self.roles["StreamHandler"]

    @property
    def all(self) -> list[lambda_.Function]:
        return [f for f in (self.status, self.reset, self.stream_handler) if f is not None]
