"""The DynamoDB model behind its HTTP endpoint, as `make bench` uses it: the real stream handler, run by the
synthesized state machine on moto, writes to the model's server instead of moto's DynamoDB and captures
every change exactly once, with several transactions in flight."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from neptune_capture import schema
from neptune_capture.clock import SystemClock
from neptune_capture.events import EventId
from neptune_capture.store import checkpoint_from_item
from neptune_local.chaos.injectors import transactions_in_flight
from neptune_local.dynamo_model import DynamoModel
from neptune_local.dynamo_model_server import ITEMS_PATH, STATS_PATH, ModelServer
from neptune_local.runtime import STREAM_ID, LocalOptions, LocalPipeline
from neptune_local.verify import check
from neptune_local.workload import run_workload
from tests.conftest import Synth

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`

CAPTURE_BOUND_S = 300  # only a stuck capture reaches it, and the test then fails saying so


@pytest.fixture
def server() -> Iterator[ModelServer]:
    # No modelled latency: the semantics, not the timing, are under test here.
    started = ModelServer(DynamoModel(clock=SystemClock())).start()
    yield started
    started.stop()


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=60) as response:
        return json.loads(response.read())


def test_the_stream_handler_captures_into_the_model_server(synth: Synth, server: ModelServer, tmp_path: Path) -> None:
    options = LocalOptions(data_dir=tmp_path, time_budget_seconds=2, in_flight=4, handler_dynamodb_endpoint=server.endpoint)
    with LocalPipeline(synth.stack, options) as pipeline, transactions_in_flight() as most:
        assert pipeline.emulator is not None and pipeline.tables is not None
        run_workload(pipeline.emulator.gremlin_url, 150, seed=5)  # a backlog of several transactions
        pipeline.start_execution()
        ids = pipeline.stream_ids()
        assert pipeline.wait_for_checkpoint(ids[-1], CAPTURE_BOUND_S), f"the checkpoint did not reach {ids[-1]}"
        tables = pipeline.tables
        # Nothing reached moto's tables: the handler wrote to the model only.
        assert pipeline.dynamodb.scan(TableName=tables.records, Select="COUNT")["Count"] == 0
    items = {name: _get(f"{server.endpoint}{ITEMS_PATH}?table={name}") for name in (tables.records, tables.history)}
    checkpoint = server.model.get(tables.checkpoint, {schema.STREAM_ID: {"S": STREAM_ID}})
    history = sorted(
        (h for h in items[tables.history] if h[schema.STREAM_ID]["S"] == STREAM_ID), key=lambda h: h["position"]["S"]
    )
    report = check(
        [EventId(int(r["commitNum"]["N"]), int(r["opNum"]["N"])) for r in items[tables.records]],
        history,
        checkpoint_from_item(STREAM_ID, checkpoint).position,
        ids,
    )
    assert report.ok, report
    stats = _get(f"{server.endpoint}{STATS_PATH}")
    assert stats["transactions"] >= report.history_items and stats["cancelled"].get("TransactionConflict", 0) == 0
    assert most[0] >= 2, "the backlog was written with several transactions in flight"


def test_errors_and_unknown_paths_answer_as_dynamodb_would(server: ModelServer) -> None:
    client = boto3.client(
        "dynamodb", endpoint_url=server.endpoint, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with pytest.raises(ClientError) as missing:
        client.get_item(TableName="nope", Key={"k": {"S": "1"}})
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(urllib.error.HTTPError) as unknown:
        _get(f"{server.endpoint}/_model/nothing")
    assert unknown.value.code == 404
