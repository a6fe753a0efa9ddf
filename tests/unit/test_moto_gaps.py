"""The local run's fix to moto's transaction snapshots must still roll a cancelled transaction back."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
from botocore.exceptions import ClientError

from neptune_capture.schema import TableNames
from neptune_local import moto_gaps


def test_a_cancelled_transaction_leaves_no_trace(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    for i in range(150):  # bigger than any snapshot shortcut
        client.put_item(TableName=tables.records, Item={"position": {"S": str(i)}, "v": {"S": "old"}})
    client.put_item(TableName=tables.checkpoint, Item={"streamId": {"S": "s"}, "version": {"N": "1"}})
    with moto_gaps.patched(), pytest.raises(ClientError, match="TransactionCanceled"):
        client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": tables.records, "Item": {"position": {"S": "5"}, "v": {"S": "new"}}}},
                {
                    "Put": {
                        "TableName": tables.records,
                        "Item": {"position": {"S": "999"}, "v": {"S": "new"}},
                    }
                },
                {
                    "Update": {
                        "TableName": tables.checkpoint,
                        "Key": {"streamId": {"S": "s"}},
                        "UpdateExpression": "SET version = :n",
                        "ConditionExpression": "version = :expected",
                        "ExpressionAttributeValues": {":n": {"N": "3"}, ":expected": {"N": "2"}},
                    }
                },
            ]
        )
    assert client.get_item(TableName=tables.records, Key={"position": {"S": "5"}})["Item"]["v"] == {"S": "old"}
    assert "Item" not in client.get_item(TableName=tables.records, Key={"position": {"S": "999"}})
    assert client.scan(TableName=tables.records)["Count"] == 150


def test_a_committed_transaction_applies(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    with moto_gaps.patched():
        client.transact_write_items(TransactItems=[{"Put": {"TableName": tables.records, "Item": {"position": {"S": "1"}}}}])
    assert client.scan(TableName=tables.records)["Count"] == 1


def test_aws_sdk_tasks_get_boto3_names_in_and_the_apis_names_out() -> None:
    from types import SimpleNamespace

    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_aws_sdk import (
        StateTaskServiceAwsSdk,
    )

    task = StateTaskServiceAwsSdk()  # type: ignore[no-untyped-call]
    resource = SimpleNamespace(api_name="sfn", api_action="describeExecution", resource_arn="aws-sdk:sfn:describeExecution")
    task.resource = resource  # type: ignore[assignment]
    unpatched = {"ExecutionArn": "arn:x"}
    task._normalise_parameters(unpatched)
    assert unpatched == {"ExecutionArn": "arn:x"}, "moto's own: unconverted (the gap this closes)"
    with moto_gaps.patched():
        parameters = {"ExecutionArn": "arn:x"}
        task._normalise_parameters(parameters)
        response = {"executionArn": "arn:x", "status": "ABORTED"}
        task._normalise_response(response)
    assert parameters == {"executionArn": "arn:x"}
    assert response == {"ExecutionArn": "arn:x", "Status": "ABORTED"}
    task._normalise_parameters(restored := {"ExecutionArn": "arn:x"})
    assert restored == {"ExecutionArn": "arn:x"}, "restored on exit"


def test_the_state_machines_dynamodb_calls_go_to_the_runs_dynamodb_and_the_rest_to_moto() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_aws_sdk,
        state_task_service_dynamodb,
    )

    endpoint = "http://127.0.0.1:65001"
    with moto_gaps.dynamodb_tasks_to(endpoint):
        for module in (state_task_service_dynamodb, state_task_service_aws_sdk):
            dynamodb = module.boto_client_for(region="us-east-1", service="dynamodb")
            assert dynamodb.meta.endpoint_url == endpoint
            assert dynamodb.meta.config.retries["total_max_attempts"] == 1, "moto's own client settings: no retries"
            sfn = module.boto_client_for(region="us-east-1", service="stepfunctions")
            assert sfn.meta.endpoint_url != endpoint
    restored = state_task_service_dynamodb.boto_client_for(region="us-east-1", service="dynamodb")  # type: ignore[attr-defined]
    assert restored.meta.endpoint_url != endpoint


class _Env:
    def __init__(self) -> None:
        self.stops: list[dict[str, Any]] = []

    def set_stop(self, **stop: Any) -> None:
        self.stops.append(stop)


def test_a_stop_before_the_execution_has_begun_is_applied_when_it_begins(monkeypatch: pytest.MonkeyPatch) -> None:
    from moto.stepfunctions.parser.backend.execution_worker import ExecutionWorker

    env = _Env()
    now, later = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC), datetime.datetime(2026, 1, 2, tzinfo=datetime.UTC)
    monkeypatch.setattr(ExecutionWorker, "_get_evaluation_environment", lambda self: env)
    worker = ExecutionWorker.__new__(ExecutionWorker)  # as StartExecution leaves it until its thread runs
    worker.env = None
    with pytest.raises(AttributeError, match="set_stop"):  # moto alone: StopExecution fails (a 500)
        ExecutionWorker.stop(worker, stop_date=now, error=None, cause="stopped early")
    with moto_gaps._stop_before_start():
        ExecutionWorker.stop(worker, stop_date=now, error=None, cause="stopped early")
        assert env.stops == []
        began: Any = worker._get_evaluation_environment()  # the execution's thread begins
        assert began is env
        assert env.stops == [{"stop_date": now, "cause": "stopped early", "error": None}]
        ExecutionWorker.stop(worker, stop_date=later, error="E", cause="again")  # once it runs: at once
        assert env.stops[-1] == {"stop_date": later, "cause": "again", "error": "E"}


def test_a_stopped_execution_stays_stopped_when_an_error_surfaces_after_the_stop() -> None:
    import threading

    from moto.stepfunctions.parser.asl.eval.environment import Environment
    from moto.stepfunctions.parser.asl.eval.program_state import ProgramError, ProgramRunning, ProgramStopped

    def stopped_then_failed() -> Any:
        env: Any = Environment.__new__(Environment)  # only the program state's own fields: what the two calls use
        env._state_mutex, env._frames, env.program_state_event = threading.RLock(), [], threading.Event()
        env._program_state = ProgramRunning()  # type: ignore[no-untyped-call]
        now = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
        Environment.set_stop(env, stop_date=now, cause="reset", error=None)
        Environment.set_error(env, error={"error": "States.Runtime", "cause": "the running state failed on its way out"})
        return env._program_state

    assert isinstance(stopped_then_failed(), ProgramError)  # moto alone: the execution would end FAILED
    with moto_gaps._stop_is_final():
        assert isinstance(stopped_then_failed(), ProgramStopped)  # as the service: ABORTED
    assert isinstance(stopped_then_failed(), ProgramError)  # and moto is given back as it was
