"""What a command acts on: the local run (its endpoints file) or a deployed stack, both found through the
stack's outputs (contract.Output). Finding either checks that it is there and answers, so every command
fails the same clear way when it is not."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from neptune_capture.contract import (
    DEFAULT_STREAM_ID,
    LOCAL_ENDPOINTS_FILE,
    LOCAL_FUNCTION_LOG,
    LOCAL_REGION,
    RESET_FUNCTION_TIMEOUT_SECONDS,
    STACK_NAME,
    STATUS_FUNCTION_TIMEOUT_SECONDS,
    GraphModel,
    Key,
    Output,
)
from neptune_capture.neptune_api import get_engine_status, make_client
from neptune_capture.schema import TableNames
from neptune_entry.errors import OR_STACK, START_LOCAL_RUN, AwsError, BusyError, NeptuneError, NoTargetError, UsageError
from neptune_ops.explain import NO_REGION_NEXT, Place, explain

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_neptune import NeptuneClient
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_stepfunctions import SFNClient

# An operator's command should fail within seconds when something is down; reads from Lambda wait for
# the status or reset function to finish.
AWS_CONFIG = Config(connect_timeout=5, read_timeout=70, retries={"mode": "standard", "max_attempts": 3})
LOCAL_CONFIG = Config(connect_timeout=2, read_timeout=60, retries={"mode": "standard", "max_attempts": 2})
PROBE_CONFIG = Config(connect_timeout=2, read_timeout=15, retries={"total_max_attempts": 1})
# A synchronous Invoke holds the connection until the function returns, so the client must wait longer than
# the function's timeout (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html), and must not
# retry on its own: a retry after a read timeout would start a second reset while the first still runs.
INVOKE_CONFIG = Config(
    connect_timeout=5,
    read_timeout=max(STATUS_FUNCTION_TIMEOUT_SECONDS, RESET_FUNCTION_TIMEOUT_SECONDS) + 30,
    retries={"total_max_attempts": 1},
)
# Every output a command may need; the schedule is optional (a stack without one says "no schedule"), and so
# is the reset function (an existing-cluster stack has none unless it asked for one: `reset` says so).
REQUIRED_OUTPUTS = (
    Output.RECORDS_TABLE,
    Output.HISTORY_TABLE,
    Output.CHECKPOINT_TABLE,
    Output.STATE_MACHINE,
    Output.STATUS_FUNCTION,
)
# The parameter that turns Neptune Streams on, in the cluster's DB cluster parameter group
# (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-enabling.html).
STREAMS_PARAMETER = "neptune_streams"
DEFAULT_DATA_DIR = ".local"
DEFAULT_SCHEDULE_GROUP = "default"


@dataclass(frozen=True)
class ScheduleName:
    group: str
    name: str

    @classmethod
    def parse(cls, value: str) -> ScheduleName:
        """The output names the schedule; "GROUP/NAME" or the schedule's ARN name one outside the default group."""
        tail = value.split(":schedule/", 1)[-1]
        group, _, name = tail.rpartition("/")
        return cls(group or DEFAULT_SCHEDULE_GROUP, name)


@dataclass
class Target:
    place: Place
    outputs: dict[str, str]
    client: Callable[[str], Any] = field(repr=False)
    neptune_endpoint: str | None = None  # the local run: the emulator is reachable directly
    graph_model: GraphModel = GraphModel.PROPERTY_GRAPH  # the local run: which stream its handler reads
    function_log: Path | None = None  # the local run: its handlers' output (log lines, metrics)

    @property
    def local(self) -> bool:
        return self.place.local

    @property
    def tables(self) -> TableNames:
        o = self.outputs
        return TableNames(o[Output.RECORDS_TABLE], o[Output.HISTORY_TABLE], o[Output.CHECKPOINT_TABLE])

    @property
    def state_machine_arn(self) -> str:
        return self.outputs[Output.STATE_MACHINE]

    @property
    def stream_id(self) -> str:
        return self.outputs.get(Output.STREAM_ID, DEFAULT_STREAM_ID)

    @property
    def schedule(self) -> ScheduleName | None:
        value = self.outputs.get(Output.START_SCHEDULE)
        return ScheduleName.parse(value) if value else None

    @cached_property
    def dynamodb(self) -> DynamoDBClient:
        return cast("DynamoDBClient", self.client("dynamodb"))

    @cached_property
    def sfn(self) -> SFNClient:
        return cast("SFNClient", self.client("stepfunctions"))

    @cached_property
    def lambda_client(self) -> LambdaClient:
        return cast("LambdaClient", self.client("lambda"))

    @cached_property
    def scheduler(self) -> EventBridgeSchedulerClient:
        return cast("EventBridgeSchedulerClient", self.client("scheduler"))

    @cached_property
    def cloudwatch(self) -> CloudWatchClient:
        return cast("CloudWatchClient", self.client("cloudwatch"))

    @cached_property
    def neptune(self) -> NeptuneClient:
        """Neptune's management API (the cluster's configuration), not its data API."""
        return cast("NeptuneClient", self.client("neptune"))

    def engine_status(self) -> dict[str, Any]:
        if self.neptune_endpoint:
            return get_engine_status(make_client(self.neptune_endpoint, read_timeout=30))
        return self._invoke(Output.STATUS_FUNCTION)

    def reset(self, *, discard_uncaptured: bool = False) -> dict[str, Any]:
        """A reset through neptune-stream (neptune_capture.reset): the reset function's, or, for the local run,
        the same code run here against the emulator. Raises BusyError when it was refused (nothing changed)."""
        if Output.RESET_FUNCTION not in self.outputs:
            raise NoTargetError(
                f"{self.place.title} has no reset function: it captures a Neptune cluster it did not create, and "
                "never erases its graph",
                "if erasing that graph is really meant, redeploy with `-c neptune-stream:allowReset=true`, or use "
                "Neptune's fast reset yourself: https://docs.aws.amazon.com/neptune/latest/userguide/manage-console-fast-reset.html",
            )
        if self.neptune_endpoint:
            from neptune_capture.clock import SystemClock
            from neptune_capture.metrics import CountingMetrics
            from neptune_capture.neptune_api import fast_reset
            from neptune_capture.reset import ResetRefusedError, reset_with_new_generation
            from neptune_capture.store import DynamoStore
            from neptune_capture.stream_source import NeptuneStreamSource

            neptune = make_client(self.neptune_endpoint, read_timeout=60)
            clock, metrics = SystemClock(), CountingMetrics()
            store = DynamoStore(self.dynamodb, self.tables, self.stream_id, clock=clock, metrics=metrics)
            source = NeptuneStreamSource(neptune, limit=1, clock=clock, metrics=metrics, model=self.graph_model)
            try:
                return reset_with_new_generation(
                    lambda: fast_reset(neptune), store, source, discard_uncaptured=discard_uncaptured
                )
            except ResetRefusedError as refused:
                raise BusyError(refused.problem, refused.next_step) from None
        payload: dict[str, Any] = {Key.DISCARD_UNCAPTURED.value: True} if discard_uncaptured else {}
        result = self._invoke(Output.RESET_FUNCTION, payload)
        if "refused" in result:
            raise BusyError(str(result["refused"]), str(result["next"]))
        return result

    def cluster_configuration(self) -> dict[str, Any] | None:
        """What the cluster is configured with, from Neptune's management API (DescribeDBClusters, then
        DescribeDBClusterParameters on its DB cluster parameter group): the neptune_streams parameter, and each
        instance's parameter group status as the API reports it
        (https://docs.aws.amazon.com/neptune/latest/apiref/API_DBClusterMember.html). The Lambdas cannot ask:
        that API is not reachable from their isolated subnets, so the CLI asks with the operator's credentials.
        None for the local run (the emulator has no parameter group) or a stack without the cluster's identifier."""
        identifier = self.outputs.get(Output.CLUSTER_IDENTIFIER)
        if self.local or not identifier:
            return None
        neptune = self.neptune
        (cluster,) = neptune.describe_db_clusters(DBClusterIdentifier=identifier)["DBClusters"]
        group = cluster.get("DBClusterParameterGroup")
        value = None
        if group:
            paginator = neptune.get_paginator("describe_db_cluster_parameters")
            for page in paginator.paginate(DBClusterParameterGroupName=group):
                for parameter in page.get("Parameters", []):
                    if parameter.get("ParameterName") == STREAMS_PARAMETER:
                        value = parameter.get("ParameterValue")
        return {
            "identifier": identifier,
            "parameterGroup": group,
            STREAMS_PARAMETER: value,
            "engineVersion": cluster.get("EngineVersion"),
            "iamAuthentication": cluster.get("IAMDatabaseAuthenticationEnabled"),
            "instances": {
                str(m.get("DBInstanceIdentifier")): m.get("DBClusterParameterGroupStatus")
                for m in cluster.get("DBClusterMembers", [])
            },
        }

    def _invoke(self, output: Output, event: dict[str, Any] | None = None) -> dict[str, Any]:
        """Neptune lives in isolated subnets: a deployed stack reaches it through its own Lambdas. A
        function error comes back in the payload, flagged by FunctionError
        (https://docs.aws.amazon.com/lambda/latest/dg/API_Invoke.html)."""
        function = self.outputs[output]
        response = self.lambda_client.invoke(FunctionName=function, Payload=json.dumps(event or {}).encode())
        payload: dict[str, Any] = json.loads(response["Payload"].read() or b"{}")
        if response.get("FunctionError"):
            raise NeptuneError(
                f"{function} failed: {payload.get('errorType')}: {payload.get('errorMessage')}",
                f"read the function's log group (/aws/lambda/{function.rsplit(':', 1)[-1]}) for the details",
            )
        return payload


def add_target_arguments(parser: argparse.ArgumentParser) -> None:
    from neptune_entry.arguments import non_empty, region, stack_name, writable_directory

    group = parser.add_argument_group("target (default: the local run)")
    group.add_argument("--stack", type=stack_name, metavar="NAME", help=f"a deployed stack, e.g. {STACK_NAME} (AWS credentials)")
    group.add_argument("--region", type=region, help="the stack's region (default: AWS_REGION or your profile's)")
    group.add_argument("--profile", type=non_empty, help="an AWS profile from ~/.aws/config (default: AWS_PROFILE)")
    group.add_argument(
        "--data-dir", type=writable_directory, metavar="DIR", help=f"the local run's data directory (default {DEFAULT_DATA_DIR})"
    )


def target_from(args: argparse.Namespace) -> Target:
    if args.stack:
        if args.data_dir is not None:
            raise UsageError("--data-dir names a local run and --stack a deployed stack: give one of them")
        return stack_target(args.stack, region=args.region, profile=args.profile)
    if args.region or args.profile:
        raise UsageError("--region and --profile apply to a deployed stack only", "add --stack NAME")
    return local_target(args.data_dir or Path(DEFAULT_DATA_DIR))


def aws_client(session: boto3.Session, service: str) -> Any:
    config = INVOKE_CONFIG if service == "lambda" else AWS_CONFIG
    return session.client(service, config=config)  # type: ignore[call-overload]


def local_target(data_dir: Path) -> Target:

    path = data_dir / LOCAL_ENDPOINTS_FILE
    place = Place(local=True, label=str(path))
    if not path.is_file():
        raise NoTargetError(f"no local run found ({path} does not exist)", f"{START_LOCAL_RUN}, {OR_STACK}")
    try:
        info = json.loads(path.read_text())
        outputs: dict[str, str] = dict(info["outputs"])
        aws_endpoint, neptune_endpoint = str(info["aws"]), str(info["neptune"])
        # The tables' own endpoint (DynamoDB Local); a file without it has them beside the other services.
        endpoints = {"dynamodb": str(info.get("dynamodb") or aws_endpoint)}
    except (ValueError, KeyError, TypeError) as error:
        raise NoTargetError(f"{path} is not a local run's endpoints file ({error!r})", START_LOCAL_RUN) from None
    _require_outputs(outputs, f"the local run's {path}", START_LOCAL_RUN)
    use_local_credentials()  # SigV4 needs some credentials, even for local endpoints
    if info.get("ca_bundle"):
        os.environ["AWS_CA_BUNDLE"] = str(info["ca_bundle"])  # the local Neptune's certificate is signed by its own CA

    def client(service: str, config: Config = LOCAL_CONFIG) -> Any:
        url = endpoints.get(service, aws_endpoint)
        return boto3.client(service, endpoint_url=url, region_name=LOCAL_REGION, config=config)  # type: ignore[call-overload]

    _probe_local(cast("SFNClient", client("stepfunctions", PROBE_CONFIG)), outputs[Output.STATE_MACHINE], place)
    model = GraphModel(info.get("graphModel", GraphModel.PROPERTY_GRAPH))
    return Target(
        place, outputs, client, neptune_endpoint=neptune_endpoint, function_log=data_dir / LOCAL_FUNCTION_LOG, graph_model=model
    )


def _probe_local(sfn: SFNClient, state_machine_arn: str, place: Place) -> None:
    """A finished run leaves its endpoints file behind: its ports answer nothing, or, reused, answer
    without its state machine."""
    try:
        sfn.describe_state_machine(stateMachineArn=state_machine_arn)
    except ClientError as error:
        raise NoTargetError(
            f"the server named by {place.label} does not know its state machine "
            f"({error.response.get('Error', {}).get('Code')}): the run that wrote it has ended",
            f"{START_LOCAL_RUN}, {OR_STACK}",
        ) from None
    except Exception as error:
        raise _explained(error, place) from error


def stack_target(stack: str, *, region: str | None = None, profile: str | None = None) -> Target:
    # boto3 reads the region from AWS_DEFAULT_REGION and the profile only (botocore's configprovider);
    # AWS_REGION, the name other AWS SDKs read
    # (https://docs.aws.amazon.com/sdk-for-javascript/v3/developer-guide/setting-region.html), counts too.
    region = region or os.environ.get("AWS_REGION") or None
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except Exception as error:
        raise _explained(error, None) from error
    if not session.region_name:
        raise AwsError(
            f"no AWS region is configured for stack {stack}",
            NO_REGION_NEXT,
        )
    place = Place(local=False, label=f"stack {stack} in {session.region_name}", region=session.region_name)

    def client(service: str) -> Any:
        return aws_client(session, service)

    try:
        description = client("cloudformation").describe_stacks(StackName=stack)["Stacks"][0]
    except ClientError as error:
        message = str(error.response.get("Error", {}).get("Message", ""))
        if error.response.get("Error", {}).get("Code") == "ValidationError" and "does not exist" in message:
            raise NoTargetError(
                f"there is no stack {stack} in {session.region_name}",
                "check the name (--stack) and the region (--region, AWS_REGION); `make deploy` creates "
                f"{STACK_NAME} in the region of your credentials",
            ) from None
        raise _explained(error, place) from error
    except Exception as error:
        raise _explained(error, place) from error
    outputs = {
        o["OutputKey"]: o["OutputValue"] for o in description.get("Outputs", []) if "OutputKey" in o and "OutputValue" in o
    }
    status = description.get("StackStatus", "")
    _require_outputs(
        outputs,
        f"stack {stack} ({status}) in {session.region_name}",
        "it is not a neptune-stream stack, or it has not finished deploying: `make deploy`, then try again",
    )
    return Target(place, outputs, client)


def _explained(error: Exception, place: Place | None) -> Exception:
    return explain(error, place) or error


def _require_outputs(outputs: dict[str, str], where: str, next_step: str) -> None:
    missing = [str(o) for o in REQUIRED_OUTPUTS if not outputs.get(o)]
    if missing:
        raise NoTargetError(f"{where} has no output {', '.join(missing)}", next_step)


def use_local_credentials() -> None:
    """SigV4 needs some credentials even for local endpoints; never overrides real ones. Letters only: DynamoDB
    Local refuses access key ids with other characters
    (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/DynamoDBLocal.UsageNotes.html)."""
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    os.environ.setdefault("AWS_DEFAULT_REGION", LOCAL_REGION)
    os.environ.setdefault("AWS_REGION", os.environ["AWS_DEFAULT_REGION"])
