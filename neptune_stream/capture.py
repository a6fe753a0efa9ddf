"""NeptuneStreamCapture: the whole capture of one Neptune cluster's stream into DynamoDB, as one construct a
CDK app adds beside the cluster it already has.

It follows the shape of the AWS Solutions Constructs (awslabs/aws-solutions-constructs, e.g.
source/patterns/@aws-solutions-constructs/aws-lambda-dynamodb/lib/index.ts): one props object, every prop
checked before anything is created (a wrong one fails `cdk synth` with the prop named and what to give),
the defaults merged in one place (`_resolve`), and the resources exposed as public attributes rather than
stack outputs (the stack that uses the construct decides what to output; NeptuneStreamStack outputs what the
CLI and the local run read).

It composes the project's construct modules: Tables, Functions (the layer and the three Lambdas),
Workflow (the state machine), StartSchedule and Monitoring (alarms, topic, dashboard). Where Neptune runs,
the VPC, and the route from the Lambdas' subnets to DynamoDB (a gateway endpoint or a NAT gateway) are the
caller's: docs/construct.md."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from aws_cdk import Token
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_dynamodb as ddb
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_neptune_alpha as neptune
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sns as sns
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from neptune_capture.contract import DEFAULT_STREAM_ID, GraphModel, StartFrom, service_name
from neptune_capture.schema import FENCE_INFIX
from neptune_capture.settings import parse_graph_model, parse_start_from
from neptune_capture.tuning import CaptureTuning
from neptune_stream.defaults import Defaults
from neptune_stream.dynamodb_access import lambda_security_group
from neptune_stream.existing_spec import ENDPOINT, RESOURCE_ID
from neptune_stream.functions import Functions, FunctionSettings
from neptune_stream.monitoring import Monitoring
from neptune_stream.schedule import StartSchedule
from neptune_stream.tables import Tables
from neptune_stream.workflow import Workflow

NEPTUNE_PORT = 8182
# The stream id is the checkpoint's partition key, the prefix of its fence slots' keys (an IAM condition
# matches them with a wildcard) and part of the metrics' service name: letters, digits, '.', '_' and '-'.
STREAM_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class CaptureConfigError(ValueError):
    """A NeptuneStreamCapture prop is wrong: the message names the construct, the prop and what to give."""


Fail = Callable[[str, str, str], CaptureConfigError]


@dataclass(frozen=True)
class ClusterAttributes:
    """A cluster this app does not define, named by what `aws neptune describe-db-clusters` reports (its
    DbClusterResourceId, Endpoint and Port) and its VPC security group (imported with
    ec2.SecurityGroup.from_security_group_id; `mutable=False` when its owner adds the ingress rule)."""

    cluster_resource_id: str
    endpoint: str
    security_group: ec2.ISecurityGroup
    port: int = NEPTUNE_PORT
    # Default: the first label of `endpoint` (<identifier>.cluster-<hash>.<region>.neptune.amazonaws.com).
    cluster_identifier: str | None = None
    # Default: `endpoint` with its "cluster-" label turned into Neptune's "cluster-ro-".
    reader_endpoint: str | None = None


@dataclass(frozen=True)
class NeptuneStreamCaptureProps:
    """What NeptuneStreamCapture takes. Exactly one of `cluster` and `cluster_attributes`."""

    # Where the functions run: the cluster's VPC (they reach Neptune on its port and DynamoDB over HTTPS).
    vpc: ec2.IVpc
    # A cluster this app defines or imported (neptune-alpha), or the attributes of one it does not.
    cluster: neptune.IDatabaseCluster | None = None
    cluster_attributes: ClusterAttributes | None = None
    # The functions' subnets. Default: the VPC's private subnets (CDK's default selection).
    lambda_subnets: ec2.SubnetSelection | None = None
    # The functions' security group. Default: one created here, egress HTTPS (DynamoDB) and the cluster's
    # port only, which the cluster's group admits on that port. A group you give gets no rule: open its way
    # to the cluster yourself (egress to the cluster's port, ingress on the cluster's group).
    lambda_security_group: ec2.ISecurityGroup | None = None
    # Which stream: the property graph's (PG_JSON) or the RDF graph's (NQUADS). "propertygraph" or "rdf".
    graph_model: GraphModel | str = GraphModel.PROPERTY_GRAPH
    # The checkpoint's key and the metrics' service: one per capture in an account and region.
    stream_id: str = DEFAULT_STREAM_ID
    # Where capture begins the first time (an execution's startFrom overrides it).
    start_from: StartFrom | str = StartFrom.TRIM_HORIZON
    tuning: CaptureTuning = field(default_factory=CaptureTuning)
    # True (the default): the tables, logs and key outlive the stack and the tables are deletion-protected,
    # as data captured from a live stream cannot be captured again. False: `cdk destroy` removes them (a demo).
    retain_data: bool = True
    log_retention_days: int = 30
    # Whether the reset function (Neptune fast reset: it ERASES the graph) exists. Off unless asked for.
    reset_function: bool = False
    # True: Powertools ships in the project's layer (works wherever Neptune does). False: its publisher's
    # public layer, found through its public SSM parameter (not in every region).
    bundled_powertools: bool = True
    # True: the start schedule runs from the deploy, so capture begins with `cdk deploy`. False: it is
    # created paused, and capture begins with `neptune-stream start`.
    auto_start: bool = True


@dataclass(frozen=True)
class _Resolved:
    """The props with every default applied and every value checked: what the constructs are built from."""

    cluster_props: neptune.IDatabaseCluster | None
    attributes: ClusterAttributes | None
    subnets: ec2.SubnetSelection
    graph_model: GraphModel
    start_from: StartFrom
    defaults: Defaults


class NeptuneStreamCapture(Construct):
    """Captures every change of one Neptune cluster's stream into three DynamoDB tables, exactly once."""

    def __init__(self, scope: Construct, construct_id: str, props: NeptuneStreamCaptureProps) -> None:
        super().__init__(scope, construct_id)
        resolved = self._resolve(props)
        self.props = props
        self.stream_id = props.stream_id
        self.tuning = props.tuning
        self.graph_model = resolved.graph_model

        self.cluster: neptune.IDatabaseCluster = resolved.cluster_props or self._import_cluster(resolved.attributes)
        if props.lambda_security_group is not None:
            # The caller's group: the caller has opened the path to the cluster (NeptuneStreamStack's
            # Network and ExistingGraph do), and the construct adds no rule to it.
            self.lambda_security_group: ec2.ISecurityGroup = props.lambda_security_group
        else:
            self.lambda_security_group = lambda_security_group(self, "LambdaSecurityGroup", props.vpc, ec2.Peer.any_ipv4())
            # The cluster's group admits the functions on the cluster's port, and theirs may leave for it (an
            # imported group with mutable=False is left alone: its owner adds the rule).
            self.cluster.connections.allow_default_port_from(self.lambda_security_group, "neptune-stream Lambdas")

        defaults = resolved.defaults
        tuning = props.tuning
        self.tables = Tables(self, "Tables", defaults=defaults)
        self.functions = Functions(
            self,
            "Functions",
            cluster=self.cluster,
            records=self.tables.records,
            history=self.tables.history,
            checkpoint=self.tables.checkpoint,
            vpc=props.vpc,
            subnets=resolved.subnets,
            security_group=self.lambda_security_group,
            settings=FunctionSettings(
                stream_id=props.stream_id, tuning=tuning, start_from=resolved.start_from, graph_model=resolved.graph_model
            ),
            defaults=defaults,
            bundled_powertools=props.bundled_powertools,
            with_reset=props.reset_function,
        )
        self.workflow = Workflow(
            self,
            "Workflow",
            stream_handler=self.functions.stream_handler,
            checkpoint=self.tables.checkpoint,
            stream_id=props.stream_id,
            iterations_per_execution=tuning.iterations_per_execution,
            defaults=defaults,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            stream_handler=self.functions.stream_handler,
            state_machine=self.workflow.state_machine,
            lag_alarm_seconds=tuning.lag_alarm_seconds,
            defaults=defaults,
            service=service_name(props.stream_id),
        )
        self.start_schedule = StartSchedule(
            self,
            "StartSchedule",
            state_machine=self.workflow.state_machine,
            period_minutes=tuning.start_schedule_minutes,
            enabled=props.auto_start,
        )
        # Its first firing comes at once: not before the cluster exists (when this app creates it).
        self.start_schedule.node.add_dependency(self.cluster)

    # -- the resources, as attributes (the construct outputs nothing itself)
    @property
    def records_table(self) -> ddb.Table:
        return self.tables.records

    @property
    def history_table(self) -> ddb.Table:
        return self.tables.history

    @property
    def checkpoint_table(self) -> ddb.Table:
        return self.tables.checkpoint

    @property
    def layer(self) -> lambda_.ILayerVersion:
        """The project's layer (the capture core, and Powertools unless bundled_powertools is False)."""
        return self.functions.layers[-1]

    @property
    def stream_handler(self) -> lambda_.Function:
        return self.functions.stream_handler

    @property
    def status_function(self) -> lambda_.Function:
        return self.functions.status

    @property
    def reset_function(self) -> lambda_.Function | None:
        return self.functions.reset

    @property
    def stream_handler_role(self) -> iam.IRole:
        return self.functions.stream_handler_role

    @property
    def stream_handler_table_grants(self) -> Sequence[tuple[str, Sequence[str]]]:
        """(table ARN, actions) the stream handler uses: what a DynamoDB endpoint policy must admit for it."""
        return self.functions.stream_handler_table_grants

    @property
    def dynamodb_endpoint_grants(self) -> list[tuple[iam.IRole, Sequence[tuple[str, Sequence[str]]]]]:
        """Each function that reaches the tables from the VPC, with the (table ARN, actions) it uses: what a
        DynamoDB gateway endpoint policy that names its principals must admit (the stream handler, and the
        reset function where there is one)."""
        grants: list[tuple[iam.IRole, Sequence[tuple[str, Sequence[str]]]]] = [
            (self.functions.stream_handler_role, self.functions.stream_handler_table_grants)
        ]
        reset = self.functions.reset
        if reset is not None and reset.role is not None:
            grants.append((reset.role, self.functions.reset_table_grants))
        return grants

    @property
    def state_machine(self) -> sfn.StateMachine:
        return self.workflow.state_machine

    @property
    def schedule(self) -> scheduler.Schedule:
        return self.start_schedule.schedule

    @property
    def alarm_topic(self) -> sns.Topic:
        """Every alarm notifies it (KMS-encrypted): subscribe your on-call to it."""
        return self.monitoring.topic

    @property
    def alarms(self) -> dict[str, cw.Alarm]:
        """HandlerErrors, StreamLag, ExpiredCheckpoint, StateMachineStopped, NotPolling."""
        return dict(self.monitoring.alarms)

    @property
    def dashboard(self) -> cw.Dashboard:
        return self.monitoring.dashboard

    # -- validation first, defaults in one place
    def _resolve(self, props: NeptuneStreamCaptureProps) -> _Resolved:
        def fail(prop: str, problem: str, next_step: str) -> CaptureConfigError:
            return CaptureConfigError(f"NeptuneStreamCapture {self.node.path}: {prop} {problem}; next: {next_step}")

        if not isinstance(props, NeptuneStreamCaptureProps):
            raise fail("props", f"must be a NeptuneStreamCaptureProps, got {type(props).__name__}", "build one")
        if (props.cluster is None) == (props.cluster_attributes is None):
            raise fail(
                "cluster",
                "and cluster_attributes: exactly one is needed, got " + ("both" if props.cluster else "neither"),
                "give `cluster` (a neptune-alpha IDatabaseCluster) or `cluster_attributes` (ClusterAttributes)",
            )
        if props.vpc is None:
            raise fail("vpc", "is missing", "give the cluster's VPC (ec2.Vpc, or ec2.Vpc.from_vpc_attributes)")
        if not STREAM_ID.match(props.stream_id) or FENCE_INFIX in props.stream_id:
            raise fail(
                "stream_id",
                f"must be 1 to 64 letters, digits, '.', '_' or '-', got {props.stream_id!r}",
                "name the stream like 'orders-graph'",
            )
        if not isinstance(props.tuning, CaptureTuning):
            raise fail("tuning", f"must be a CaptureTuning, got {type(props.tuning).__name__}", "pass CaptureTuning(...)")
        if props.cluster_attributes is not None:
            self._check_attributes(props.cluster_attributes, fail)
        try:
            graph_model = parse_graph_model(props.graph_model, "graph_model")
        except ValueError as error:
            raise fail("graph_model", str(error).removeprefix("graph_model "), "'propertygraph' or 'rdf'") from None
        try:
            start_from = parse_start_from(props.start_from, "start_from")
        except ValueError as error:
            raise fail("start_from", str(error).removeprefix("start_from "), "'TRIM_HORIZON' or 'LATEST'") from None
        try:
            defaults = Defaults(production=props.retain_data, log_retention_days=props.log_retention_days)
        except ValueError as error:
            problem = str(error).removeprefix("neptune-stream:logRetentionDays ")
            raise fail("log_retention_days", problem, "a period CloudWatch Logs offers, such as 30") from None
        self._check_unique_stream_id(props.stream_id, fail)
        return _Resolved(
            cluster_props=props.cluster,
            attributes=props.cluster_attributes,
            subnets=props.lambda_subnets or ec2.SubnetSelection(),
            graph_model=graph_model,
            start_from=start_from,
            defaults=defaults,
        )

    @staticmethod
    def _check_attributes(attributes: ClusterAttributes, fail: Fail) -> None:
        resource_id = attributes.cluster_resource_id
        if not Token.is_unresolved(resource_id) and not RESOURCE_ID.match(resource_id):
            raise fail(
                "cluster_attributes.cluster_resource_id",
                f"must look like cluster-ABCDEFGHIJKLMNOPQRSTUVWXYZ, got {resource_id!r}",
                "aws neptune describe-db-clusters --query 'DBClusters[].DbClusterResourceId'",
            )
        if not 1 <= attributes.port <= 65535:
            raise fail("cluster_attributes.port", f"must be 1..65535, got {attributes.port}", "Neptune's default is 8182")
        if attributes.cluster_identifier is None and not ENDPOINT.match(attributes.endpoint):
            raise fail(
                "cluster_attributes.endpoint",
                f"is not a Neptune cluster endpoint (<identifier>.cluster-<hash>.<region>.neptune.amazonaws.com), "
                f"got {attributes.endpoint!r}",
                "give the cluster's Endpoint, or cluster_identifier and reader_endpoint as well",
            )

    def _check_unique_stream_id(self, stream_id: str, fail: Fail) -> None:
        """Two captures of one stream id in one app would publish the same metrics: each would alarm on the
        other's lag and errors. Different stacks of one app are usually one account; refused at synth."""
        for other in self.node.root.node.find_all():
            if other is not self and isinstance(other, NeptuneStreamCapture) and other.stream_id == stream_id:
                raise fail(
                    "stream_id",
                    f"{stream_id!r} is already captured by {other.node.path} in this app (their metrics would mix)",
                    "give each capture its own stream_id",
                )

    def _import_cluster(self, attributes: ClusterAttributes | None) -> neptune.IDatabaseCluster:
        assert attributes is not None
        match = ENDPOINT.match(attributes.endpoint)
        identifier = attributes.cluster_identifier or (match["identifier"] if match else "")
        reader = attributes.reader_endpoint or attributes.endpoint.replace(".cluster-", ".cluster-ro-", 1)
        return neptune.DatabaseCluster.from_database_cluster_attributes(
            self,
            "Cluster",
            cluster_identifier=identifier,
            cluster_resource_identifier=attributes.cluster_resource_id,
            cluster_endpoint_address=attributes.endpoint,
            reader_endpoint_address=reader,
            port=attributes.port,
            security_group=attributes.security_group,
        )
