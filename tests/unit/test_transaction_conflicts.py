"""Chaos's client-side transaction conflicts: the error a real cancellation gives, before the request leaves the
client, whichever DynamoDB serves the tables; nothing once disarmed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import EndpointConnectionError

from neptune_capture.store import RETRYABLE_REASONS
from neptune_local.chaos.injectors import CONFLICT_MESSAGE, TransactionConflicts
from tests.cli_entry import closed_port

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

ITEMS: list[TransactWriteItemTypeDef] = [{"Put": {"TableName": "t", "Item": {"pk": {"S": str(i)}}}} for i in range(3)]


@pytest.fixture
def conflicts() -> Iterator[tuple[TransactionConflicts, DynamoDBClient]]:
    with TransactionConflicts().installed() as installed:
        # Made after the hook is installed, as the local run's clients are; nothing listens on its port, so a
        # request that left the client fails to connect.
        client = boto3.client(
            "dynamodb",
            endpoint_url=f"http://127.0.0.1:{closed_port()}",
            region_name="us-east-1",
            config=Config(retries={"total_max_attempts": 1}),
        )
        yield installed, client


def test_an_armed_hook_cancels_the_transaction_as_dynamodb_would(conflicts: tuple[TransactionConflicts, DynamoDBClient]) -> None:
    hook, client = conflicts
    with hook.armed(1.0, seed=3) as injected, pytest.raises(client.exceptions.TransactionCanceledException) as cancelled:
        client.transact_write_items(TransactItems=ITEMS, ClientRequestToken="t-1")
    response = cancelled.value.response
    assert response["Error"]["Code"] == "TransactionCanceledException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
    reasons = response["CancellationReasons"]
    assert [r["Code"] for r in reasons].count("TransactionConflict") == 1 and len(reasons) == len(ITEMS)
    assert {r["Code"] for r in reasons} == {"TransactionConflict", "None"}
    assert next(r for r in reasons if r["Code"] == "TransactionConflict")["Message"] == CONFLICT_MESSAGE
    assert "[" in response["Error"]["Message"] and "TransactionConflict" in response["Error"]["Message"]
    assert {"TransactionConflict"} <= RETRYABLE_REASONS, "the capture retries it"
    assert injected.counts == {"TransactionConflict": 1}


def test_a_disarmed_hook_lets_every_request_through(conflicts: tuple[TransactionConflicts, DynamoDBClient]) -> None:
    hook, client = conflicts
    with hook.armed(1.0, seed=3):
        pass
    with pytest.raises(EndpointConnectionError):  # it reached the network
        client.transact_write_items(TransactItems=ITEMS)
    assert hook.injected.total == 0


def test_only_transactions_are_cancelled(conflicts: tuple[TransactionConflicts, DynamoDBClient]) -> None:
    hook, client = conflicts
    with hook.armed(1.0, seed=3), pytest.raises(EndpointConnectionError):
        client.put_item(TableName="t", Item={"pk": {"S": "1"}})
    assert hook.injected.total == 0
