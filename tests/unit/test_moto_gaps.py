"""The local run's fix to moto's transaction snapshots must still roll a cancelled transaction back."""

from __future__ import annotations

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
