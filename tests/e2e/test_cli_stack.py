"""The CLI against a deployed stack, played by moto's server (CloudFormation with the stack's outputs,
DynamoDB, Step Functions, EventBridge Scheduler, CloudWatch, IAM), through the real entry point with
AWS_ENDPOINT_URL pointing every client at it
(https://docs.aws.amazon.com/sdkref/latest/guide/feature-ss-endpoints.html): an unknown stack, a wrong
region, missing outputs, access denied, and the schedule paused by `stop` and resumed by `start`."""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import boto3
import pytest

from neptune_capture import metrics as m
from neptune_capture.contract import STACK_NAME, ExecutionStatus, Output
from neptune_entry.exit_codes import ExitCode
from tests.cli_entry import assert_fails, run_cli, without_aws_credentials
from tests.conftest import Synth
from tests.published_metrics import publish

pytestmark = pytest.mark.e2e  # starts moto's server

REGION = "us-east-1"
KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
SCHEDULE = "neptune-stream-start"
WAIT_FOREVER = json.dumps({"StartAt": "Poll", "States": {"Poll": {"Type": "Wait", "Seconds": 3600, "End": True}}})


@dataclass
class Aws:
    url: str
    tmp: Path

    def client(self, service: str, **keys: str) -> Any:
        return boto3.client(service, endpoint_url=self.url, region_name=REGION, **(keys or KEYS))  # type: ignore[call-overload]

    def env(self, **extra: str) -> dict[str, str]:
        return without_aws_credentials(
            self.tmp, AWS_ENDPOINT_URL=self.url, AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", **extra
        )

    def moto_api(self, path: str, body: bytes = b"") -> None:
        url = f"{self.url}/moto-api/{path}"
        request = urllib.request.Request(url, data=body, method="POST", headers={"Content-Type": "text/plain"})
        urllib.request.urlopen(request, timeout=30).close()


@pytest.fixture
def aws(tmp_path: Path) -> Iterator[Aws]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        _, port = server.get_host_and_port()
        aws = Aws(f"http://127.0.0.1:{port}", tmp_path)
        aws.moto_api("reset")  # moto's backends are per process: start from empty ones
        yield aws
    finally:
        server.stop()


def row(stdout: str, label: str) -> str:
    """A row's value in `status`'s plain output (`  label:   value`)."""
    return next(line.split(":", 1)[1].strip() for line in stdout.splitlines() if line.strip().startswith(f"{label}:"))


def deploy(
    aws: Aws,
    synth: Synth,
    *,
    outputs: dict[str, str] | None = None,
    with_schedule: bool = True,
    extra: dict[str, str] | None = None,
    without: tuple[Output, ...] = (),
) -> dict[str, str]:
    """The stack's resources in moto, and a stack whose outputs name them."""
    tables = synth.stack.create_tables(aws.client("dynamodb"))
    machine = aws.client("stepfunctions").create_state_machine(
        name="neptune-stream", definition=WAIT_FOREVER, roleArn="arn:aws:iam::123456789012:role/sfn"
    )["stateMachineArn"]
    values: dict[str, str] = {
        Output.RECORDS_TABLE: tables.records,
        Output.HISTORY_TABLE: tables.history,
        Output.CHECKPOINT_TABLE: tables.checkpoint,
        Output.STATE_MACHINE: machine,
        Output.STATUS_FUNCTION: "neptune-stream-status",
        Output.RESET_FUNCTION: "neptune-stream-reset",
        Output.STREAM_ID: "neptune",
    }
    if with_schedule:
        aws.client("scheduler").create_schedule(
            Name=SCHEDULE,
            ScheduleExpression="rate(5 minutes)",
            FlexibleTimeWindow={"Mode": "OFF"},
            Target={"Arn": machine, "RoleArn": "arn:aws:iam::123456789012:role/scheduler", "Input": "{}"},
            State="ENABLED",
        )
        values[Output.START_SCHEDULE] = SCHEDULE
    if outputs is not None:
        values = outputs
    values = {k: v for k, v in values.items() if k not in without} | (extra or {})
    template = {
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {key: {"Value": value} for key, value in values.items()},
    }
    aws.client("cloudformation").create_stack(StackName=STACK_NAME, TemplateBody=json.dumps(template))
    return values


def test_an_unknown_stack_and_a_wrong_region_are_named(aws: Aws, synth: Synth) -> None:
    deploy(aws, synth)
    assert_fails(
        run_cli("status", "--stack", "NeptuneStreem", "--region", REGION, env=aws.env()),
        ExitCode.NO_TARGET,
        "there is no stack NeptuneStreem in us-east-1",
        "--region",
    )
    assert_fails(
        run_cli("stop", "--stack", STACK_NAME, env=aws.env(AWS_REGION="eu-west-1")),
        ExitCode.NO_TARGET,
        f"there is no stack {STACK_NAME} in eu-west-1",
    )


def test_a_stack_without_the_expected_outputs_is_named(aws: Aws, synth: Synth) -> None:
    deploy(aws, synth, outputs={"BucketName": "something-else"})
    assert_fails(
        run_cli("history", "v1", "--stack", STACK_NAME, "--region", REGION, env=aws.env()),
        ExitCode.NO_TARGET,
        f"stack {STACK_NAME} (CREATE_COMPLETE) in us-east-1 has no output StreamRecordsTable",
        "StateMachineArn",
        "make deploy",
    )


def test_stop_pauses_the_schedule_and_start_resumes_it(aws: Aws, synth: Synth) -> None:
    values = deploy(aws, synth)
    sfn, scheduler = aws.client("stepfunctions"), aws.client("scheduler")
    running = sfn.start_execution(stateMachineArn=values[Output.STATE_MACHINE], name="poller")["executionArn"]
    target = ("--stack", STACK_NAME, "--region", REGION)

    stopped = run_cli("stop", *target, "--json", env=aws.env())
    assert stopped.returncode == 0, stopped.stderr
    result = json.loads(stopped.stdout)
    assert result["stopped"] == [running] and result["schedule"] | {"changed": True} == result["schedule"]
    got = scheduler.get_schedule(Name=SCHEDULE)
    assert got["State"] == "DISABLED"
    assert got["ScheduleExpression"] == "rate(5 minutes)" and got["Target"]["Arn"] == values[Output.STATE_MACHINE]

    again = run_cli("stop", *target, env=aws.env())
    assert again.returncode == 0 and f"schedule {SCHEDULE} was already DISABLED" in again.stdout

    started = run_cli("start", *target, env=aws.env())
    assert started.returncode == 0, started.stderr
    assert f"schedule {SCHEDULE} resumed (ENABLED)" in started.stdout and "started execution" in started.stdout
    assert scheduler.get_schedule(Name=SCHEDULE)["State"] == "ENABLED"
    executions = sfn.list_executions(stateMachineArn=values[Output.STATE_MACHINE], statusFilter=ExecutionStatus.RUNNING.value)[
        "executions"
    ]
    assert len(executions) == 1 and executions[0]["executionArn"] != running


def test_status_of_a_stack_shows_every_part_and_names_what_failed(aws: Aws, synth: Synth) -> None:
    values = deploy(aws, synth)
    now = int(datetime.now(UTC).timestamp() * 1000)
    aws.client("dynamodb").put_item(
        TableName=values[Output.CHECKPOINT_TABLE],
        Item={"streamId": {"S": "neptune"}, "commitNum": {"N": "9"}, "opNum": {"N": "1"}, "version": {"N": "4"},
              "commitTimestamp": {"N": str(now - 2000)}},
    )  # fmt: skip
    result = run_cli("status", "--stack", STACK_NAME, "--region", REGION, env=aws.env())
    # The status function is not deployed in moto: that part fails, named, after the rest is shown.
    assert_fails(result, ExitCode.AWS, "Invoke", "ResourceNotFoundException")
    assert row(result.stdout, "checkpoint") == "commit 9 op 1 (version 4)"
    assert row(result.stdout, "schedule") == f"ENABLED rate(5 minutes) ({SCHEDULE}), on: it restarts capture"
    assert row(result.stdout, "executions").startswith("none running")
    assert row(result.stdout, "neptune").startswith("unavailable: Invoke failed")
    as_json = json.loads(run_cli("status", "--stack", STACK_NAME, "--region", REGION, "--json", env=aws.env()).stdout)
    assert as_json["schedule"] == {"name": SCHEDULE, "group": "default", "state": "ENABLED", "expression": "rate(5 minutes)"}
    assert as_json["checkpoint"]["commitNum"] == 9 and "error" in as_json["neptune"]


def test_status_of_a_stack_reads_the_clusters_streams_parameter(aws: Aws, synth: Synth) -> None:
    """The parameter group is read with the operator's credentials through Neptune's management API (moto's here);
    the Lambdas could not reach it from their isolated subnets."""
    neptune = aws.client("neptune")
    neptune.create_db_cluster_parameter_group(
        DBClusterParameterGroupName="their-params", DBParameterGroupFamily="neptune1.4", Description="theirs"
    )
    neptune.modify_db_cluster_parameter_group(
        DBClusterParameterGroupName="their-params",
        Parameters=[{"ParameterName": "neptune_streams", "ParameterValue": "0", "ApplyMethod": "pending-reboot"}],
    )
    neptune.create_db_cluster(DBClusterIdentifier="their-graph", Engine="neptune", DBClusterParameterGroupName="their-params")
    deploy(aws, synth, extra={Output.CLUSTER_IDENTIFIER: "their-graph"})
    target = ("--stack", STACK_NAME, "--region", REGION)
    result = run_cli("status", *target, "--json", env=aws.env())
    assert result.returncode == ExitCode.AWS, "the status function is not deployed in moto: that part fails, named"
    cluster = json.loads(result.stdout)["cluster"]
    assert cluster["identifier"] == "their-graph" and cluster["parameterGroup"] == "their-params"
    assert cluster["neptune_streams"] == "0" and cluster["iamAuthentication"] is False
    plain = run_cli("status", *target, env=aws.env()).stdout
    assert "parameter group their-params has neptune_streams=0" in row(plain, "cluster")
    assert "set neptune_streams=1 in the cluster's DB cluster parameter group, then reboot" in row(plain, "cluster")


def test_reset_on_a_stack_without_a_reset_function_says_why(aws: Aws, synth: Synth) -> None:
    deploy(aws, synth, without=(Output.RESET_FUNCTION,))
    assert_fails(
        run_cli("reset", "--yes", "--stack", STACK_NAME, "--region", REGION, env=aws.env()),
        ExitCode.NO_TARGET,
        f"stack {STACK_NAME} in {REGION} has no reset function",
        "neptune-stream:allowReset=true",
    )


def test_watch_reads_the_stack_metrics_from_cloudwatch(aws: Aws, synth: Synth) -> None:
    values = deploy(aws, synth)
    aws.client("stepfunctions").start_execution(stateMachineArn=values[Output.STATE_MACHINE], name="poller")
    at = datetime.now(UTC) - timedelta(seconds=30)  # published a little while ago (moto compares times to the second)
    publish(aws.client("cloudwatch"), at, (m.RECORDS, 1200), (m.BATCHES, 13), (m.FENCED, 1), (m.LAG_MS, 850))
    target = ("--stack", STACK_NAME, "--region", REGION)
    result = run_cli("watch", *target, "--iterations", "2", "--interval", "0.1", "--json", env=aws.env())
    assert result.returncode == 0, result.stderr
    views = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(views) == 2
    for view in views:
        assert view["records"] == 1200 and view["transactions"] == 13 and view["fencedWrites"] == 1 and view["maxLagMs"] == 850
        assert view["recordsPerSecond"] == 4.0  # 1200 over the default 300-second window
        assert view["executions"] == {"running": 1, "started": 1, "failed": 0}


def test_access_denied_is_named_with_the_permission_to_ask_for(aws: Aws, synth: Synth) -> None:
    deploy(aws, synth, with_schedule=False)
    iam = aws.client("iam")
    iam.create_user(UserName="oncall")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["cloudformation:DescribeStacks", "dynamodb:*", "states:ListExecutions"],
                "Resource": "*",
            }
        ],
    }
    iam.put_user_policy(UserName="oncall", PolicyName="read-only-ish", PolicyDocument=json.dumps(policy))
    key = iam.create_access_key(UserName="oncall")["AccessKey"]
    env = aws.env() | {"AWS_ACCESS_KEY_ID": key["AccessKeyId"], "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"]}
    aws.moto_api("reset-auth", b"0")  # from now on moto checks every request against IAM
    try:
        target = ("--stack", STACK_NAME, "--region", REGION)
        start = run_cli("start", *target, env=env)
        assert_fails(start, ExitCode.AWS, "not allowed to call StartExecution", "states:StartExecution")
        status = run_cli("status", *target, env=env)
        assert_fails(status, ExitCode.AWS, "not allowed to call Invoke")
        assert row(status.stdout, "executions").startswith("none running")  # what the user may read is still shown
        stranger = env | {"AWS_ACCESS_KEY_ID": "AKIAUNKNOWN", "AWS_SECRET_ACCESS_KEY": "x"}
        assert_fails(run_cli("status", *target, env=stranger), ExitCode.AWS, "AWS rejected the credentials", "aws sso login")
    finally:
        aws.moto_api("reset-auth", str(float("inf")).encode())


def test_missing_credentials_against_the_endpoint(aws: Aws) -> None:
    env = without_aws_credentials(aws.tmp, AWS_ENDPOINT_URL=aws.url, AWS_REGION=REGION)
    assert "AWS_ACCESS_KEY_ID" not in env and os.environ.get("AWS_ACCESS_KEY_ID")  # the suite's own keys are not passed on
    assert_fails(run_cli("start", "--stack", STACK_NAME, env=env), ExitCode.AWS, "no usable AWS credentials")
