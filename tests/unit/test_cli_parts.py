"""The CLI's parts without servers: argument types, failure explanations, the schedule update, the metric
readers and the status and history views (AWS calls against moto's in-process backends)."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError
from moto import mock_aws

from neptune_capture import metrics as m
from neptune_capture.contract import METRICS_NAMESPACE, SERVICE_DIMENSION, SERVICE_NAME, Output
from neptune_capture.errors import NeptuneCallError
from neptune_capture.schema import TableNames
from neptune_cli.commands import history, status
from neptune_cli.metrics_source import CloudWatchMetrics, FunctionLog, aggregate, emf_points
from neptune_entry import arguments
from neptune_entry.errors import AwsError, NeptuneError, NoTargetError
from neptune_entry.exit_codes import MEANINGS, ExitCode, epilog
from neptune_local.template import SynthesizedStack
from neptune_ops import render
from neptune_ops import schedule as schedules
from neptune_ops.explain import Place, explain
from neptune_ops.target import ScheduleName, Target, aws_client
from tests.published_metrics import publish

NOW = 1_800_000_000_000  # a fixed "now" in epoch ms


# -- argument types
@pytest.mark.parametrize(
    ("parse", "text", "words"),
    [
        (arguments.int_at_least(1), "-5", "must be at least 1, got -5"),
        (arguments.int_at_least(1), "ten", "not a whole number"),
        (arguments.int_at_least(1, 100), "101", "must be 1 to 100"),
        (arguments.float_above(0), "0", "must be above 0"),
        (arguments.float_above(0), "nan", "not a finite number"),
        (arguments.float_above(0, 900), "901", "at most 900"),
        (arguments.port, "99999", "a TCP port is 1 to 65535"),
        (arguments.port, "-1", "a TCP port is 1 to 65535"),
        (arguments.port, "http", "not a port number"),
        (arguments.stack_name, "my_stack", "not a stack name"),
        (arguments.stack_name, "1stack", "not a stack name"),
        (arguments.region, "useast1", "not an AWS region name"),
        (arguments.event_id, "12", "COMMIT:OP"),
        (arguments.non_empty, "  ", "must not be empty"),
    ],
)
def test_argument_types_refuse_bad_values_naming_what_is_accepted(parse: Any, text: str, words: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError, match=words):
        parse(text)


def test_argument_types_accept_good_values() -> None:
    assert arguments.port("0") == 0 and arguments.port("8182") == 8182
    assert arguments.stack_name("NeptuneStream") == "NeptuneStream"
    arn = "arn:aws:cloudformation:eu-west-1:123456789012:stack/NeptuneStream/0c5a1e20-0000-11ef-0000-000000000000"
    assert arguments.stack_name(arn) == arn
    assert arguments.region("us-gov-west-1") == "us-gov-west-1"
    assert arguments.event_id(" 1042:3 ") == (1042, 3, 0)
    assert arguments.event_id("2/1042:3") == (1042, 3, 2)  # an event of capture generation 2
    assert arguments.int_at_least(1)("10") == 10


def test_since_takes_durations_and_iso_times() -> None:
    assert arguments.parse_since("90s", NOW) == NOW - 90_000
    assert arguments.parse_since("2h", NOW) == NOW - 7_200_000
    assert arguments.parse_since("7d", NOW) == NOW - 7 * 86_400_000
    assert arguments.parse_since("2026-01-01", NOW) == int(datetime(2026, 1, 1, tzinfo=UTC).timestamp() * 1000)
    assert arguments.parse_since("2026-01-01T10:00:00+02:00", NOW) == int(datetime(2026, 1, 1, 8, tzinfo=UTC).timestamp() * 1000)
    with pytest.raises(argparse.ArgumentTypeError, match="neither a duration"):
        arguments.parse_since("yesterday", NOW)
    with pytest.raises(argparse.ArgumentTypeError, match="in the future"):
        arguments.parse_since("2099-01-01", NOW)


def test_directory_and_file_arguments(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("x")
    assert arguments.writable_directory(str(tmp_path / "new" / "dir")) == tmp_path / "new" / "dir"
    with pytest.raises(argparse.ArgumentTypeError, match="is not a directory"):
        arguments.writable_directory(str(tmp_path / "file"))
    assert arguments.database_file(str(tmp_path / "graph.db")) == str(tmp_path / "graph.db")
    with pytest.raises(argparse.ArgumentTypeError, match="does not exist"):
        arguments.database_file(str(tmp_path / "missing" / "graph.db"))
    with pytest.raises(argparse.ArgumentTypeError, match="is a directory"):
        arguments.database_file(str(tmp_path))
    with pytest.raises(argparse.ArgumentTypeError, match="make synth"):
        arguments.synthesized_app(str(tmp_path))


def test_every_exit_code_is_documented() -> None:
    assert set(MEANINGS) == set(ExitCode)
    assert all(f"{code.value:>3}  {MEANINGS[code]}" in epilog() for code in ExitCode)


# -- explanations
def _client_error(code: str, message: str, operation: str = "StartExecution", status: int = 400) -> ClientError:
    response: Any = {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": status}}
    return ClientError(response, operation)


STACK = Place(local=False, label="stack NeptuneStream in eu-west-1", region="eu-west-1")
LOCAL = Place(local=True, label=".local/endpoints.json")


def test_explain_names_the_problem_and_the_next_step() -> None:
    refusal = "User: arn:aws:iam::1:user/x is not authorized to perform: states:StartExecution on resource: arn:sm"
    denied = explain(_client_error("AccessDeniedException", refusal), STACK)
    assert isinstance(denied, AwsError) and "not allowed to call StartExecution" in denied.problem
    assert denied.next_step is not None and "states:StartExecution" in denied.next_step
    # A server that answers a JSON-protocol call with an XML error document (moto's IAM check does).
    xml = "<ErrorResponse><Errors><Error><Code>AccessDenied</Code><Message>no: lambda:Invoke</Message></Error></Errors>"
    forbidden = explain(_client_error("403", xml, "Invoke", 403), STACK)
    assert isinstance(forbidden, AwsError) and forbidden.problem == "not allowed to call Invoke: no: lambda:Invoke"
    expired = explain(_client_error("ExpiredTokenException", "The security token included in the request is expired"), STACK)
    assert isinstance(expired, AwsError) and "rejected the credentials" in expired.problem
    assert isinstance(explain(NoCredentialsError(), STACK), AwsError)
    unreachable = explain(EndpointConnectionError(endpoint_url="http://127.0.0.1:1"), LOCAL)
    assert isinstance(unreachable, NoTargetError) and "demo --keep-running" in (unreachable.next_step or "")
    aws_unreachable = explain(EndpointConnectionError(endpoint_url="https://cloudformation.eu-west-1.amazonaws.com"), STACK)
    assert isinstance(aws_unreachable, AwsError) and "region eu-west-1" in aws_unreachable.problem
    neptune = explain(NeptuneCallError("GetEngineStatus", "EndpointConnectionError", "down", None, True), LOCAL)
    assert isinstance(neptune, NeptuneError) and neptune.code == ExitCode.NEPTUNE
    assert explain(ZeroDivisionError(), STACK) is None  # a bug is not explained away


# -- the schedule
def test_schedule_names_parse_from_name_group_or_arn() -> None:
    assert ScheduleName.parse("start") == ScheduleName("default", "start")
    assert ScheduleName.parse("ops/start") == ScheduleName("ops", "start")
    assert ScheduleName.parse("arn:aws:scheduler:us-east-1:123456789012:schedule/ops/start") == ScheduleName("ops", "start")


def test_update_request_keeps_every_accepted_field_and_changes_only_the_state() -> None:
    got = {
        "Arn": "arn:aws:scheduler:...",
        "Name": "start",
        "GroupName": "default",
        "ScheduleExpression": "rate(5 minutes)",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {"Arn": "arn:sm", "RoleArn": "arn:role", "Input": "{}"},
        "State": "ENABLED",
        "Description": "restarts capture",
        "CreationDate": datetime(2026, 1, 1, tzinfo=UTC),
    }
    accepted = {"Name", "GroupName", "ScheduleExpression", "FlexibleTimeWindow", "Target", "State", "Description"}
    request = schedules.update_request(got, accepted, "DISABLED")
    assert request == {k: v for k, v in got.items() if k in accepted} | {"State": "DISABLED"}


@pytest.fixture
def scheduler() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("scheduler", region_name="us-east-1")


def test_set_state_pauses_and_resumes_a_schedule_keeping_its_definition(scheduler: Any) -> None:
    target = {"Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:x", "RoleArn": "arn:aws:iam::1:role/r", "Input": "{}"}
    scheduler.create_schedule(
        Name="start", ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow={"Mode": "OFF"}, Target=target, Description="d"
    )
    name = ScheduleName("default", "start")
    paused, changed = schedules.set_state(scheduler, name, schedules.DISABLED)
    assert changed and paused.state == "DISABLED"
    got = scheduler.get_schedule(Name="start")
    assert got["State"] == "DISABLED" and got["ScheduleExpression"] == "rate(5 minutes)" and got["Description"] == "d"
    assert got["Target"]["Input"] == "{}" and got["Target"]["RoleArn"] == target["RoleArn"]
    assert schedules.set_state(scheduler, name, schedules.DISABLED)[1] is False  # already paused: no update
    assert schedules.set_state(scheduler, name, schedules.ENABLED)[0].state == "ENABLED"
    assert schedules.read(scheduler, name).state == "ENABLED"


# -- metrics
def _emf(timestamp: int, **values: Any) -> str:
    return json.dumps(
        {
            "_aws": {
                "Timestamp": timestamp,
                "CloudWatchMetrics": [
                    {
                        "Namespace": METRICS_NAMESPACE,
                        "Dimensions": [[SERVICE_DIMENSION]],
                        "Metrics": [{"Name": k} for k in values],
                    }
                ],
            },
            SERVICE_DIMENSION: SERVICE_NAME,
            **values,
        }
    )


def test_emf_documents_are_read_value_by_value() -> None:
    points = emf_points(_emf(NOW, RecordsCaptured=[98, 2], StreamLagMs=[40, 90], Batches=2))
    assert sorted(points) == sorted(
        [(NOW, m.RECORDS, 98.0), (NOW, m.RECORDS, 2.0), (NOW, m.LAG_MS, 40.0), (NOW, m.LAG_MS, 90.0), (NOW, m.BATCHES, 2.0)]
    )
    assert emf_points('{"level": "INFO", "message": "captured"}') == []
    assert emf_points("not json") == []
    other = json.loads(_emf(NOW, RecordsCaptured=5))
    other["_aws"]["CloudWatchMetrics"][0]["Namespace"] = "Other"
    assert emf_points(json.dumps(other)) == []
    totals = aggregate([*points, (NOW - 60_000, m.RECORDS, 1000.0)], NOW - 30_000, NOW)
    assert totals.sums == {m.RECORDS: 100.0, m.BATCHES: 2.0} and totals.maxima == {m.LAG_MS: 90.0}


def test_the_function_log_is_read_incrementally_line_by_line(tmp_path: Path) -> None:
    log = tmp_path / "lambda.log"
    log.write_text('{"level": "WARNING", "message": "fenced"}\n' + _emf(NOW, RecordsCaptured=10) + "\n")
    reader = FunctionLog(log)
    assert reader.totals(NOW - 1000, NOW).sums == {m.RECORDS: 10.0}
    with log.open("a") as f:
        f.write(_emf(NOW, RecordsCaptured=5, FencedWrites=1) + "\n" + _emf(NOW, RecordsCaptured=7)[:20])  # last line unfinished
    assert reader.totals(NOW - 1000, NOW).sums == {m.RECORDS: 15.0, m.FENCED: 1.0}


def test_cloudwatch_metrics_are_read_with_the_namespace_and_dimension_powertools_publishes() -> None:
    with mock_aws():
        client = boto3.client("cloudwatch", region_name="us-east-1")
        at = datetime.now(UTC)
        publish(
            client,
            at,
            (m.RECORDS, 600),
            (m.THROTTLES, 2),
            (m.LAG_MS, 120),
            (m.LAG_MS, 80),
            extra=[{"MetricName": m.RECORDS, "Value": 999, "Timestamp": at}],  # no service dimension: another metric
        )
        now = int(at.timestamp() * 1000)
        totals = CloudWatchMetrics(client).totals(now - 300_000, now + 60_000)
    assert totals.sums == {m.RECORDS: 600.0, m.THROTTLES: 2.0}
    assert totals.maxima == {m.LAG_MS: 120.0}


# -- status and history over moto's DynamoDB
def _target(client_factory: Any, tables: TableNames, **outputs: str) -> Target:
    values = {
        Output.RECORDS_TABLE: tables.records,
        Output.HISTORY_TABLE: tables.history,
        Output.CHECKPOINT_TABLE: tables.checkpoint,
        Output.STATE_MACHINE: "arn:aws:states:us-east-1:123456789012:stateMachine:neptune-stream",
        Output.STATUS_FUNCTION: "status",
        Output.RESET_FUNCTION: "reset",
        **outputs,
    }
    return Target(STACK, values, client_factory)


def test_status_reads_every_part_and_reports_the_ones_that_fail(stack: SynthesizedStack) -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        tables = stack.create_tables(dynamodb)
        sfn = boto3.client("stepfunctions", region_name="us-east-1")
        machine = sfn.create_state_machine(
            name="neptune-stream", definition='{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 60, "End": true}}}',
            roleArn="arn:aws:iam::123456789012:role/r",
        )["stateMachineArn"]  # fmt: skip
        execution = sfn.start_execution(stateMachineArn=machine, name="poller")["executionArn"]
        dynamodb.put_item(
            TableName=tables.checkpoint,
            Item={
                "streamId": {"S": "neptune"}, "commitNum": {"N": "42"}, "opNum": {"N": "3"}, "version": {"N": "7"},
                "commitTimestamp": {"N": str(NOW - 5000)}, "leaseOwner": {"S": execution},
                "leaseExpiresAt": {"N": str(NOW + 60_000)}, "lastFailure": {"S": "StreamExpiredError"},
                "lastFailureCause": {"S": "checkpoint 1:1 is older than the retention"},
                "lastFailureExecution": {"S": "old"}, "lastFailureAt": {"S": "2026-01-01T00:00:00Z"},
            },
        )  # fmt: skip
        dynamodb.put_item(
            TableName=tables.history,
            Item={"streamId": {"S": "neptune"}, "position": {"S": "00000000000000000042:0000000003"}, "kind": {"S": "BATCH"},
                  "lagMs": {"N": "250"}, "processedAt": {"N": str(NOW - 4000)}, "recordCount": {"N": "98"}},
        )  # fmt: skip
        target = _target(lambda service: boto3.client(service, region_name="us-east-1"), tables, StateMachineArn=machine)
        report = status.gather(target)
    assert report.checkpoint == {"commitNum": 42, "opNum": 3, "version": 7, "commitTimestamp": NOW - 5000}
    assert report.last_batch == {"lagMs": 250, "processedAt": NOW - 4000, "recordCount": 98}
    assert [e["name"] for e in report.running or []] == ["poller"]
    assert report.schedule == {"state": "none"}
    # The status function does not exist in moto: Neptune's part fails, the others are still shown.
    assert "error" in report.neptune and len(report.problems) == 1 and report.problems[0].code == ExitCode.AWS
    shown = {row.label: row for row in status.rows(report, NOW)}
    assert shown["checkpoint"].value == "commit 42 op 3 (version 7)"
    assert shown["last captured change"].value.startswith("committed 5.00 s ago")
    assert shown["lag"].value.startswith("0.25 s for the last batch")
    assert shown["lease"].value == "held by poller, expires in 1 min 0 s unless renewed"
    assert shown["executions"].value.startswith("1 running: poller")
    assert shown["last failure"].level == "bad" and "StreamExpiredError" in shown["last failure"].value
    assert shown["neptune"].level == "bad" and shown["schedule"].value.startswith("no schedule")
    assert report.as_dict(NOW)["checkpoint"]["ageSeconds"] == 5.0


def test_status_rows_warn_about_a_lease_held_by_an_execution_that_is_not_running() -> None:
    report = status.StatusReport(target="t", lease={"owner": "arn:x:execution:m:dead", "expiresAt": NOW + 600_000}, running=[])
    rows = {row.label: row for row in status.rows(report, NOW)}
    assert rows["lease"].level == "warn" and "finds it not running and takes it over" in rows["lease"].value
    assert rows["executions"].level == "bad" and "capture is stopped" in rows["executions"].value
    expired = status.StatusReport(target="t", lease={"owner": "x", "expiresAt": NOW - 1000}, running=[])
    assert "expired" in {r.label: r for r in status.rows(expired, NOW)}["lease"].value


def _record(commit: int, op: int, element: str = "v1", **extra: str) -> dict[str, Any]:
    from neptune_capture.schema import position

    item = {
        "commitNum": {"N": str(commit)}, "opNum": {"N": str(op)}, "position": {"S": position(commit, op, 0)},
        "elementId": {"S": element}, "id": {"S": element}, "type": {"S": "vp"}, "op": {"S": "ADD"},
        "commitTimestamp": {"N": str(NOW - 100_000 + commit * 1000)}, "key": {"S": "name"}, "value": {"S": f"v{commit}"},
    }  # fmt: skip
    return item | {k: {"S": v} for k, v in extra.items()}


def test_history_pages_through_an_element_in_stream_order(stack: SynthesizedStack) -> None:
    with mock_aws():
        dynamodb = boto3.client("dynamodb", region_name="us-east-1")
        tables = stack.create_tables(dynamodb)
        for commit in range(1, 8):
            dynamodb.put_item(TableName=tables.records, Item=_record(commit, 1))
        dynamodb.put_item(TableName=tables.records, Item=_record(4, 2, element="v2"))
        target = _target(lambda service: boto3.client(service, region_name="us-east-1"), tables)
        first = history.read_page(target, "v1", limit=3)
        second = history.read_page(target, "v1", limit=3, after=(3, 1, 0))
        last = history.read_page(target, "v1", limit=3, after=(6, 1, 0))
        recent = history.read_page(target, "v1", limit=10, since_ms=NOW - 100_000 + 5000)
        none = history.read_page(target, "nobody", limit=3)
    assert [c["eventId"]["commitNum"] for c in first.changes] == [1, 2, 3] and first.next_after == "3:1"
    assert [c["eventId"]["commitNum"] for c in second.changes] == [4, 5, 6] and second.next_after == "6:1"
    assert [c["eventId"]["commitNum"] for c in last.changes] == [7] and last.next_after is None
    assert [c["eventId"]["commitNum"] for c in recent.changes] == [5, 6, 7]
    assert none.changes == [] and none.next_after is None
    assert history.table_rows(last)[0][0] == "7:1" and history.table_rows(last)[0][-1] == "v7"
    message = history.nothing_found("nobody", None, None, "here")
    assert message.code == ExitCode.NO_DATA and "case-sensitive" in (message.next_step or "")


def test_durations_read_naturally() -> None:
    assert render.duration(0.25) == "0.25 s"
    assert render.duration(42) == "42 s"
    assert render.duration(185) == "3 min 5 s"
    assert render.duration(7800) == "2 h 10 min"
    assert render.duration(3 * 86_400 + 4 * 3600) == "3 d 4 h"
    assert render.when(NOW - 5000, NOW).startswith("5.00 s ago (") and render.when(NOW + 60_000, NOW).startswith("in 1 min 0 s")


def test_the_cli_page_shows_every_command_its_options_and_the_exit_codes() -> None:
    from neptune_cli.main import build_parser

    section = (Path(__file__).resolve().parents[2] / "docs" / "cli.md").read_text()
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert set(commands.choices) == {
        "demo", "emulator", "status", "watch", "history", "export", "start", "stop", "reset", "preflight",
    }  # fmt: skip
    for name, parser in commands.choices.items():
        assert f"| `{name}" in section, name
        options = {o for action in parser._actions for o in action.option_strings} - {"-h", "--help"}
        assert options, name
        missing = [o for o in sorted(options) if f"`{o}" not in section]
        assert not missing, f"docs/cli.md does not show {name} {missing}"
    for code in ExitCode:
        assert f"| {code.value} | {MEANINGS[code]} |" in section, code


def test_watch_views_end_after_the_iterations_asked_or_when_stopped() -> None:
    import threading

    from neptune_cli.commands import watch
    from neptune_cli.metrics_source import Totals

    made: list[int] = []

    def make() -> watch.Snapshot:
        made.append(len(made))
        totals = Totals({m.RECORDS: 300.0, m.BATCHES: 4.0, m.FENCED: 1.0}, {m.LAG_MS: 1500.0})
        return watch.Snapshot(NOW, 30.0, totals, watch.Executions(running=1, started=2, failed=0))

    assert len(list(watch.views(make, iterations=3, interval=0, stop=threading.Event()))) == 3
    stopped = threading.Event()
    stopped.set()
    assert len(list(watch.views(make, iterations=None, interval=60, stop=stopped))) == 1  # no wait once stopped
    shown = {row.label: row for row in watch.rows(make())}
    assert shown["records/s"].value == "10.0 (300 records in the last 30 s)"
    assert shown["lag"].value == "1.50 s (max over the last 30 s)"
    assert shown["fenced writes"].level == "warn" and shown["executions"].level == "ok"
    assert "10.0 records/s  lag 1.50 s  transactions 4  fenced 1" in watch.line(make())


def test_an_operators_invoke_waits_longer_than_any_function_and_is_never_retried(stack: SynthesizedStack) -> None:
    """A retry of a synchronous Invoke that timed out on the client's side would start a second reset
    while the first one still runs."""
    client = aws_client(boto3.Session(region_name="us-east-1"), "lambda")
    invoked = [Output.STATUS_FUNCTION, Output.RESET_FUNCTION]
    timeouts = [stack.template["Resources"][stack.output_resource(o)]["Properties"]["Timeout"] for o in invoked]
    assert client.meta.config.read_timeout > max(timeouts)
    assert client.meta.config.retries["total_max_attempts"] == 1
    assert aws_client(boto3.Session(region_name="us-east-1"), "dynamodb").meta.config.retries["total_max_attempts"] > 1
