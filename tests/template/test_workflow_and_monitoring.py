from __future__ import annotations

import json
from typing import Any

import pytest

from neptune_capture import metrics as m
from neptune_stream.workflow import IAM_PROPAGATION_SECONDS, retry_waits
from tests.template.conftest import Synth, resolve_join


@pytest.fixture(scope="module")
def definition(synth: Synth) -> dict[str, Any]:
    (sm,) = synth.resources("AWS::StepFunctions::StateMachine").values()
    parsed: dict[str, Any] = json.loads(resolve_join(sm["Properties"]["DefinitionString"]))
    return parsed


def test_loop_is_poll_route_wait_poll(definition: dict[str, Any]) -> None:
    states = definition["States"]
    assert definition["StartAt"] == "Poll"
    assert states["Poll"]["Next"] == "Route"
    route = states["Route"]
    assert route["Type"] == "Choice" and route["Default"] == "Poll"
    targets = {json.dumps({k: v for k, v in c.items() if k != "Next"}): c["Next"] for c in route["Choices"]}
    assert targets == {
        '{"Variable": "$.continueAsNew", "BooleanEquals": true}': "ContinueAsNew",
        '{"And": [{"Variable": "$.status", "StringEquals": "FENCED"}, {"Variable": "$.leaseHolder", "IsString": true}]}': (
            "CheckLeaseHolder"
        ),
        '{"Variable": "$.status", "StringEquals": "FENCED"}': "AnotherPollerOwnsTheStream",
        '{"Variable": "$.status", "StringEquals": "IDLE"}': "WaitWhileIdle",
    }
    # Choices are tried in order: a holder to check comes before the plain fenced end.
    order = [c["Next"] for c in route["Choices"]]
    assert order.index("CheckLeaseHolder") < order.index("AnotherPollerOwnsTheStream")
    assert states["WaitWhileIdle"] == {"Type": "Wait", "SecondsPath": "$.waitSeconds", "Next": "Poll"}


def test_poll_passes_execution_context_and_retries_transient_errors(definition: dict[str, Any]) -> None:
    poll = definition["States"]["Poll"]
    assert poll["Parameters"]["executionId.$"] == "$$.Execution.Id"
    assert poll["Parameters"]["state.$"] == "$"
    assert poll["Parameters"]["iterationsPerExecution"] == 500
    retry, iam = poll["Retry"]
    assert {"Sandbox.Timedout", "Runtime.ExitError", "Lambda.TooManyRequestsException", "TransientCaptureError"} <= set(
        retry["ErrorEquals"]
    )
    # Every Lambda service exception of Step Functions' best practice (bp-lambda-serviceexception.html).
    assert {
        "Lambda.ClientExecutionTimeoutException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
    } <= set(retry["ErrorEquals"])
    assert retry["JitterStrategy"] == "FULL" and retry["BackoffRate"] == 2
    # A 403 while an IAM change reaches Neptune (up to 10 minutes) is retried for longer than that.
    assert iam["ErrorEquals"] == ["NeptuneAccessDeniedError"]
    waits = retry_waits(iam["IntervalSeconds"], iam["BackoffRate"], iam["MaxDelaySeconds"], iam["MaxAttempts"])
    assert sum(waits) > IAM_PROPAGATION_SECONDS == 600
    assert "JitterStrategy" not in iam, "full jitter could shrink the waits below the propagation window"
    (catch,) = poll["Catch"]
    assert catch == {"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordFailure"}


def test_failure_is_recorded_on_the_checkpoint_and_the_lease_released_then_fails(definition: dict[str, Any]) -> None:
    record = definition["States"]["RecordFailure"]
    assert record["Resource"].endswith(":states:::dynamodb:updateItem")
    assert "lastFailure = :error" in record["Parameters"]["UpdateExpression"]
    assert record["Next"] == "ReleaseLease"
    release = definition["States"]["ReleaseLease"]
    assert release["Parameters"]["UpdateExpression"] == "REMOVE leaseOwner, leaseExpiresAt"
    assert release["Parameters"]["ConditionExpression"] == "leaseOwner = :execution"
    assert release["Parameters"]["ExpressionAttributeValues"][":execution"] == {"S.$": "$$.Execution.Id"}
    assert release["Next"] == "CaptureFailed" and release["Catch"][0]["Next"] == "CaptureFailed"
    assert definition["States"]["CaptureFailed"]["Type"] == "Fail"


def test_continue_as_new_starts_this_state_machine_with_a_lease_handover(definition: dict[str, Any]) -> None:
    task = definition["States"]["ContinueAsNew"]
    assert task["Resource"].endswith(":states:::states:startExecution")
    assert task["Parameters"]["StateMachineArn.$"] == "$$.StateMachine.Id"
    assert task["Parameters"]["Input"]["parentExecutionId.$"] == "$$.Execution.Id"
    assert task["Parameters"]["Input"]["iteration"] == 0
    assert task["Next"] == "HandedOver"
    # The parent's output names the child and nothing else of StartExecution's answer (no timestamp).
    assert task["ResultSelector"] == {"executionArn.$": "$.ExecutionArn"}
    assert task["ResultPath"] == "$.handedOverTo"


def test_a_failed_continue_as_new_is_recorded_and_gives_the_lease_up(definition: dict[str, Any]) -> None:
    # The same path as a failed Poll: the failure on the checkpoint item, the lease released, then Fail.
    task = definition["States"]["ContinueAsNew"]
    assert task["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.failure", "Next": "RecordFailure"}]
    assert definition["States"]["Poll"]["Catch"] == task["Catch"]


def test_a_fenced_start_checks_whether_the_lease_holder_still_runs(definition: dict[str, Any]) -> None:
    states = definition["States"]
    check = states["CheckLeaseHolder"]
    assert check["Resource"].endswith(":states:::aws-sdk:sfn:describeExecution")
    assert check["Parameters"] == {"ExecutionArn.$": "$.leaseHolder"}
    assert check["ResultSelector"] == {"status.$": "$.Status"} and check["ResultPath"] == "$.leaseHolderStatus"
    # Not knowing ends the execution, as before: the lease then expires and a later start takes it.
    assert check["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": "AnotherPollerOwnsTheStream"}]
    running = states[check["Next"]]
    assert running["Type"] == "Choice"
    assert running["Choices"] == [
        {"Variable": "$.leaseHolderStatus.status", "StringEquals": "RUNNING", "Next": "AnotherPollerOwnsTheStream"}
    ]
    take_over = states[running["Default"]]
    assert take_over == {
        "Type": "Pass",
        "Comment": take_over["Comment"],
        "InputPath": "$.leaseHolder",
        "ResultPath": "$.takeOverFrom",
        "Next": "Poll",
    }


def test_the_state_machine_describes_only_its_own_executions(synth: Synth) -> None:
    (name, _) = next(iter(synth.resources("AWS::StepFunctions::StateMachine").items()))
    statements = [s for p in synth.resources("AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    (describe,) = [s for s in statements if s["Action"] == "states:DescribeExecution"]
    resource = resolve_join(describe["Resource"])
    assert resource.endswith(f":execution:<GetAtt:{name}.Name>:*"), resource


def test_iterations_per_execution_stay_far_below_the_history_limit(synth: Synth) -> None:
    # Each loop records at most ~12 history events (task scheduled/started/succeeded, state entered and
    # exited for Poll, Route and Wait); 500 loops stay under a quarter of the 25,000 limit.
    from neptune_stream.config import StackConfig

    assert StackConfig().iterations_per_execution * 12 < 25_000 // 2
    with pytest.raises(ValueError, match="25,000"):
        StackConfig(iterations_per_execution=5_000)


def test_state_machine_may_start_itself_and_logs_and_traces(synth: Synth) -> None:
    (name, sm) = next(iter(synth.resources("AWS::StepFunctions::StateMachine").items()))
    assert sm["Properties"]["TracingConfiguration"] == {"Enabled": True}
    assert sm["Properties"]["LoggingConfiguration"]["Level"] == "ALL"
    statements = [s for p in synth.resources("AWS::IAM::Policy").values() for s in p["Properties"]["PolicyDocument"]["Statement"]]
    assert {"Action": "states:StartExecution", "Effect": "Allow", "Resource": {"Ref": name}} in statements


def test_alarms_cover_lag_expiry_not_polling_and_a_stopped_state_machine(synth: Synth) -> None:
    alarms = synth.resources("AWS::CloudWatch::Alarm")
    kinds = sorted(k.removeprefix("Monitoring")[:-8] for k in alarms)
    # No HandlerErrors: Poll retries those errors (issue 20, tests/template/test_first_deploy.py).
    assert kinds == ["ExpiredCheckpoint", "NotPolling", "StateMachineStopped", "StreamLag"]
    names = json.dumps(alarms)
    for metric in ("StreamLagMs", "ExpiredCheckpoint", "ExecutionsFailed", "ExecutionsTimedOut", m.POLLING_INVOCATIONS):
        assert f'"{metric}"' in names, metric
    # An operator's stop is no failure, and a fenced scheduled start is no sign of polling.
    assert '"ExecutionsAborted"' not in names and '"Invocations"' not in names
    for alarm in alarms.values():
        assert alarm["Properties"]["AlarmActions"], "every alarm notifies the alarm topic"
    synth.template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    dashboard = json.dumps(next(iter(synth.resources("AWS::CloudWatch::Dashboard").values())))
    assert "records / PERIOD(records)" in dashboard and "StreamLagMs" in dashboard


def test_outputs_name_endpoints_tables_and_state_machine(synth: Synth) -> None:
    assert {
        "NeptuneWriterEndpoint",
        "NeptuneReaderEndpoint",
        "StreamRecordsTable",
        "UpdateHistoryTable",
        "LatestCheckpointTable",
        "StateMachineArn",
    } <= set(synth.json["Outputs"])
