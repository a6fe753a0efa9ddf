"""The DynamoDB model (neptune_local/dynamo_model.py) against moto: the handler's own requests go to both,
call by call, and must get the same outcome (the same error code, the same cancellation reasons and
returned items, the same attributes); the tables must end equal, item for item. Then what moto does not
model (idempotency tokens, the 4 MB limit, conflicts between concurrent transactions, capacity, latency)
against the behaviour the DynamoDB documentation gives."""

from __future__ import annotations

import contextlib
import json
import random
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from hypothesis import given, settings
from hypothesis import strategies as st
from moto import mock_aws

from neptune_capture.contract import Status
from neptune_capture.errors import FencedError, HistoryConflictError, retried_error_names
from neptune_capture.metrics import CountingMetrics
from neptune_capture.plan import BatchContext, Batcher, Lease, data_transaction, fence_key
from neptune_capture.schema import TableNames
from neptune_capture.store import DynamoStore
from neptune_local import moto_gaps
from neptune_local.dynamo_latency import EXTRAPOLATED_P50_MS, EXTRAPOLATED_P99_MS, LatencyModel
from neptune_local.dynamo_model import TOKEN_WINDOW_MS, DynamoModel
from neptune_local.template import SynthesizedStack
from neptune_local.verify import verify, verify_model
from tests.fakes import FakeClock, FakeStream, FaultyDynamo, ScriptedLanes, SimulatedCrashError, make_stream
from tests.unit.conftest import fresh_tables
from tests.unit.test_capture import KEY_NAMES, STREAM, drain, poller_for

# Bounds on threads that are not synchronization: only a hang reaches them, and the test then fails
# saying so.
BOUND_S = 600


def outcome(call: Callable[[], Any]) -> tuple[str, Any]:
    """What a test compares of a response: the error code with the cancellation reasons (codes and
    returned items), or the returned attributes and item."""
    try:
        response = call()
    except ClientError as error:
        reasons = [{k: v for k, v in r.items() if k != "Message"} for r in error.response.get("CancellationReasons", [])]
        return "error", (error.response["Error"]["Code"], reasons)
    return "ok", {k: v for k, v in response.items() if k in ("Attributes", "Item")}


class Twin:
    """A DynamoDB client that sends every request to moto and to the model, asserts both answer the
    same, and hands the caller moto's answer."""

    def __init__(self, moto: Any, model: Any) -> None:
        self.moto, self.model = moto, model
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        def both(**kwargs: Any) -> Any:
            expected = outcome(lambda: getattr(self.moto, name)(**kwargs))
            got = outcome(lambda: getattr(self.model, name)(**kwargs))
            assert got == expected, f"{name}: moto {expected}, model {got}\nrequest {json.dumps(kwargs)[:2000]}"
            self.calls.append(name)
            return _replay(expected)

        return both


def _replay(result: tuple[str, Any]) -> Any:
    kind, value = result
    if kind == "error":
        code, reasons = value
        raise ClientError({"Error": {"Code": code, "Message": code}, "CancellationReasons": reasons}, "Twin")
    return value


def table_contents(client: Any, tables: TableNames) -> dict[str, list[str]]:
    contents = {}
    for name in (tables.records, tables.history, tables.checkpoint):
        items = client.scan(TableName=name)["Items"]
        contents[name] = sorted(json.dumps(i, sort_keys=True) for i in items)
    return contents


@pytest.fixture
def twin(stack: SynthesizedStack) -> Iterator[tuple[Twin, DynamoModel, Any, TableNames]]:
    with mock_aws(), moto_gaps.dynamodb_transaction_snapshots():
        moto, tables = fresh_tables(stack)
        model = DynamoModel(clock=FakeClock())
        assert stack.create_tables(model.client()) == tables
        yield Twin(moto, model.client()), model, moto, tables


def model_contents(model: DynamoModel, tables: TableNames) -> dict[str, list[str]]:
    return {
        name: sorted(json.dumps(i, sort_keys=True) for i in model.items(name))
        for name in (tables.records, tables.history, tables.checkpoint)
    }


@settings(max_examples=12, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=6),
    limit=st.integers(min_value=5, max_value=120),
    in_flight=st.integers(min_value=1, max_value=4),
    faults=st.dictionaries(st.integers(1, 20), st.sampled_from(["crash-before", "crash-after"]), max_size=3),
    seed=st.integers(0, 1000),
)
def test_the_handlers_requests_get_the_same_outcomes_from_moto_and_the_model(  # noqa: PLR0917 - one argument per drawn value
    stack: SynthesizedStack, sizes: list[int], limit: int, in_flight: int, faults: dict[int, str], seed: int
) -> None:
    """Pipelined capture with crashes and a second poller competing for the lease: leases, fence
    slots, data transactions, advances, final batches, batches found already stored, fenced writes."""
    with mock_aws(), moto_gaps.dynamodb_transaction_snapshots():
        moto, tables = fresh_tables(stack)
        model = DynamoModel(clock=FakeClock())
        stack.create_tables(model.client())
        client = Twin(moto, model.client())
        stream = FakeStream(make_stream(sizes), limit=limit)
        clock = FakeClock()
        rng = random.Random(seed)
        faulty = FaultyDynamo(client, faults)

        def lanes(_: int) -> ScriptedLanes:
            return ScriptedLanes(rng, [], KEY_NAMES)

        for invocation in range(30):
            poller = poller_for(faulty, tables, stream, clock, in_flight=in_flight, lanes=lanes)
            try:
                result = drain(poller, f"exec-{invocation % 2}", clock)
            except SimulatedCrashError:
                continue
            if result.status == Status.FENCED:
                clock.advance(25 * 60)
            elif result.checkpoint == stream.ids()[-1]:
                break
        assert verify(moto, tables, STREAM, stream.ids()).ok
        assert verify_model(model, tables, STREAM, stream.ids()).ok
        assert model_contents(model, tables) == table_contents(moto, tables)
        assert {"transact_write_items", "update_item"} <= set(client.calls)


def test_limits_and_failed_conditions_get_the_same_answers(twin: tuple[Twin, DynamoModel, Any, TableNames]) -> None:
    client, model, moto, tables = twin

    def put(n: int, **extra: Any) -> dict[str, Any]:
        return {"Put": {"TableName": tables.records, "Item": {"position": {"S": str(n)}, **extra}}}

    history = {"streamId": {"S": "s"}, "position": {"S": "p1"}, "lastPosition": {"S": "p9"}}
    conditioned = {
        "Put": {
            "TableName": tables.history,
            "Item": history,
            "ConditionExpression": "attribute_not_exists(#pos)",
            "ExpressionAttributeNames": {"#pos": "position"},
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }
    check = {
        "ConditionCheck": {
            "TableName": tables.checkpoint,
            "Key": fence_key("s", 3),
            "ConditionExpression": "leaseId = :lease",
            "ExpressionAttributeValues": {":lease": {"S": "mine"}},
        }
    }
    cases: list[list[dict[str, Any]]] = [
        [put(n) for n in range(101)],  # over 100 actions
        [put(1), put(1)],  # two actions on one item
        [put(2, value={"S": "x" * 410_000})],  # an item over 400 KB
        [put(3), check],  # a ConditionCheck on a missing item fails
        [put(4), conditioned],  # commits
        [put(5), conditioned],  # the history item exists now: cancelled, the stored item returned
        [conditioned, put(6), check],  # two conditions fail: both listed, in request order
    ]
    for items in cases:
        with pytest.raises(ClientError) if items is not cases[4] else contextlib.nullcontext():
            client.transact_write_items(TransactItems=items)
    client.update_item(
        TableName=tables.checkpoint,
        Key=fence_key("s", 3),
        UpdateExpression="SET leaseId = :lease, version = if_not_exists(version, :zero)",
        ExpressionAttributeValues={":lease": {"S": "mine"}, ":zero": {"N": "0"}},
        ReturnValues="ALL_NEW",
    )
    client.transact_write_items(TransactItems=[put(7), check])  # the check holds now
    with pytest.raises(ClientError):  # an UpdateItem whose condition fails
        client.update_item(
            TableName=tables.checkpoint,
            Key=fence_key("s", 3),
            UpdateExpression="REMOVE leaseId",
            ConditionExpression="version = :one OR leaseExpiresAt < :now",
            ExpressionAttributeValues={":one": {"N": "1"}, ":now": {"N": "5"}},
        )
    assert model_contents(model, tables) == table_contents(moto, tables)


# -- what moto does not model


def model_client(stack: SynthesizedStack, clock: FakeClock, **options: Any) -> tuple[DynamoModel, Any, TableNames]:
    model = DynamoModel(clock=clock, **options)
    client = model.client()
    return model, client, stack.create_tables(client)


def record_put(tables: TableNames, n: int, value: str = "v") -> dict[str, Any]:
    return {"Put": {"TableName": tables.records, "Item": {"position": {"S": str(n)}, "v": {"S": value}}}}


def test_a_token_repeats_a_success_for_ten_minutes_then_is_a_new_request(stack: SynthesizedStack) -> None:
    clock = FakeClock()
    model, client, tables = model_client(stack, clock)
    history = {
        "Put": {
            "TableName": tables.history,
            "Item": {"streamId": {"S": "s"}, "position": {"S": "1"}},
            "ConditionExpression": "attribute_not_exists(#pos)",
            "ExpressionAttributeNames": {"#pos": "position"},
        }
    }
    items = [record_put(tables, 1), history]
    client.transact_write_items(TransactItems=items, ClientRequestToken="t1")
    clock.advance(TOKEN_WINDOW_MS / 1000 - 1)
    # Within the window: success, nothing applied (the history condition would fail now).
    client.transact_write_items(TransactItems=items, ClientRequestToken="t1")
    assert model.stats.transactions == 1 and model.stats.rewrites[tables.records] == 0
    with pytest.raises(ClientError) as mismatch:
        client.transact_write_items(TransactItems=[record_put(tables, 2), history], ClientRequestToken="t1")
    assert mismatch.value.response["Error"]["Code"] == "IdempotentParameterMismatchException"
    clock.advance(1)
    # Past the window: a new request, which its own condition now cancels.
    with pytest.raises(ClientError) as replay:
        client.transact_write_items(TransactItems=items, ClientRequestToken="t1")
    assert [r["Code"] for r in replay.value.response["CancellationReasons"]] == ["None", "ConditionalCheckFailed"]


def test_a_transaction_over_4_mb_is_rejected_whole(stack: SynthesizedStack) -> None:
    model, client, tables = model_client(stack, FakeClock())
    items = [record_put(tables, n, "x" * 300_000) for n in range(14)]  # 14 x 300 KB > 4 MB
    with pytest.raises(ClientError) as error:
        client.transact_write_items(TransactItems=items)
    assert error.value.response["Error"]["Code"] == "ValidationException" and "4 MB" in str(error.value)
    assert model.items(tables.records) == []
    client.transact_write_items(TransactItems=items[:13])  # 3.9 MB
    assert len(model.items(tables.records)) == 13


class HeldClock(FakeClock):
    """The first modelled latency blocks until the test releases it: that call stays in flight, holding
    its items, while the test sends others."""

    def __init__(self) -> None:
        super().__init__()
        self.entered, self.release = threading.Event(), threading.Event()

    def sleep(self, seconds: float) -> None:
        if not self.entered.is_set():
            self.entered.set()
            assert self.release.wait(BOUND_S), "the test never released the held call"
        super().sleep(seconds)


@pytest.fixture
def held(stack: SynthesizedStack) -> Iterator[tuple[DynamoModel, Any, TableNames, HeldClock, Callable[[list[Any]], None]]]:
    clock = HeldClock()
    model, client, tables = model_client(stack, clock, latency=LatencyModel(seed=1))
    worker: list[threading.Thread] = []
    errors: list[BaseException] = []

    def hold(items: list[Any]) -> None:
        def run() -> None:
            try:
                client.transact_write_items(TransactItems=items, ClientRequestToken="held")
            except BaseException as error:  # reported by the fixture's teardown
                errors.append(error)

        worker.append(threading.Thread(target=run, daemon=True))
        worker[0].start()
        assert clock.entered.wait(BOUND_S), "the held transaction never started"

    yield model, client, tables, clock, hold
    clock.release.set()
    for w in worker:
        w.join(BOUND_S)
        assert not w.is_alive(), "the held transaction did not finish"
    assert not errors, errors


def test_concurrent_transactions_on_a_shared_item_conflict(held: Any) -> None:
    model, client, tables, _, hold = held
    fence = {
        "ConditionCheck": {
            "TableName": tables.checkpoint,
            "Key": fence_key("s", 0),
            "ConditionExpression": "attribute_not_exists(leaseId)",
        }
    }
    hold([record_put(tables, 1), fence])
    # Another transaction on one of its items, even a ConditionCheck only: cancelled, the reason on that item.
    with pytest.raises(ClientError) as conflict:
        client.transact_write_items(TransactItems=[record_put(tables, 2), fence])
    assert [r["Code"] for r in conflict.value.response["CancellationReasons"]] == ["None", "TransactionConflict"]
    # The same token while the first call runs: in progress.
    with pytest.raises(ClientError) as in_progress:
        client.transact_write_items(TransactItems=[record_put(tables, 1), fence], ClientRequestToken="held")
    assert in_progress.value.response["Error"]["Code"] == "TransactionInProgressException"
    # A single-item write of a held item conflicts; a read does not (and sees the item as it was).
    with pytest.raises(ClientError) as single:
        client.update_item(
            TableName=tables.records,
            Key={"position": {"S": "1"}},
            UpdateExpression="SET v = :v",
            ExpressionAttributeValues={":v": {"S": "w"}},
        )
    assert single.value.response["Error"]["Code"] == "TransactionConflictException"
    assert "Item" not in client.get_item(TableName=tables.records, Key={"position": {"S": "1"}})
    # A transaction on other items runs beside it.
    client.transact_write_items(TransactItems=[record_put(tables, 3)])
    assert model.stats.max_concurrent == 2
    assert model.stats.cancelled["TransactionConflict"] == 1


def test_a_table_over_its_write_units_is_throttled_until_they_come_back(stack: SynthesizedStack) -> None:
    clock = FakeClock()
    model, client, tables = model_client(stack, clock, write_units_per_s=300)
    batch = [record_put(tables, n) for n in range(100)]  # 100 items under 1 KB: 200 transactional write units
    client.transact_write_items(TransactItems=batch)
    history = {"Put": {"TableName": tables.history, "Item": {"streamId": {"S": "s"}, "position": {"S": "1"}}}}
    more = [record_put(tables, n) for n in range(100, 199)]
    with pytest.raises(ClientError) as throttled:
        client.transact_write_items(TransactItems=[*more, history])
    assert [r["Code"] for r in throttled.value.response["CancellationReasons"]] == ["ThrottlingError"] * 99 + ["None"]
    clock.advance(1)  # a second later the table has its units again
    client.transact_write_items(TransactItems=[*more, history])
    assert model.stats.write_units[tables.records] == 2 * 199


def test_latency_follows_the_model_on_the_models_clock(stack: SynthesizedStack) -> None:
    latency = LatencyModel(seed=3)
    hundred = latency.transaction(100)
    assert (hundred.median_ms, hundred.p99_ms) == pytest.approx((EXTRAPOLATED_P50_MS, EXTRAPOLATED_P99_MS))
    assert (round(EXTRAPOLATED_P50_MS, 1), round(EXTRAPOLATED_P99_MS, 2)) == (57.6, 116.25)
    rng = random.Random(9)
    samples = sorted(hundred.sample_ms(rng) for _ in range(20_000))
    assert samples[10_000] == pytest.approx(57.6, rel=0.03) and samples[19_800] == pytest.approx(116.25, rel=0.08)
    # 98 records per transaction, one transaction per mean latency.
    assert latency.serial_bound_records_per_s(98) == pytest.approx(98 / (hundred.mean_ms / 1000))
    scaled = LatencyModel(p50_ms=30, p99_ms=90).transaction(100)
    assert (scaled.median_ms, scaled.p99_ms) == pytest.approx((30, 90))
    with pytest.raises(ValueError, match="0 < p50 < p99"):
        LatencyModel(p50_ms=50, p99_ms=40)
    clock = FakeClock()
    _, client, tables = model_client(stack, clock, latency=latency)
    start = clock.monotonic()
    client.transact_write_items(TransactItems=[record_put(tables, n) for n in range(100)])
    assert 0.01 < clock.monotonic() - start < 1, "one ~100-item transaction takes its modelled latency"


def test_what_the_model_does_not_implement_is_named(stack: SynthesizedStack) -> None:
    _, client, tables = model_client(stack, FakeClock())
    with pytest.raises(ClientError, match="does not implement Scan"):
        client.scan(TableName=tables.records)
    with pytest.raises(ClientError, match="does not implement the function begins_with"):
        client.transact_write_items(
            TransactItems=[
                {
                    "ConditionCheck": {
                        "TableName": tables.checkpoint,
                        "Key": fence_key("s", 0),
                        "ConditionExpression": "begins_with(leaseId, :p)",
                        "ExpressionAttributeValues": {":p": {"S": "x"}},
                    }
                }
            ]
        )
    with pytest.raises(ClientError, match="Missing the key position"):
        client.transact_write_items(TransactItems=[{"Put": {"TableName": tables.records, "Item": {"commitNum": {"N": "1"}}}}])


def test_a_store_fenced_out_through_its_slot_on_the_model(stack: SynthesizedStack) -> None:
    """The fence works on the model as on moto: a takeover rewrites every slot, and the first holder's
    next data transaction fails its check."""
    clock = FakeClock()
    _, client, tables = model_client(stack, clock)
    first = DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics(), lease_ids=lambda: "a")
    second = DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics(), lease_ids=lambda: "b")
    first.acquire_lease("exec-a", None, 60_000)
    clock.advance(120)
    _, lease_b = second.acquire_lease("exec-b", None, 60_000)
    assert lease_b == Lease("exec-b", clock.now_ms() + 60_000, "b")
    batch = Batcher(STREAM).add(FakeStream(make_stream([200]), limit=300).fetch(None).events)[0]
    stale = Lease("exec-a", clock.now_ms(), "a")
    with pytest.raises(FencedError):
        first.write(data_transaction(batch, 5, BatchContext(STREAM, stale, clock.now_ms(), None)), stale)
    assert (
        second.write(data_transaction(batch, 5, BatchContext(STREAM, lease_b, clock.now_ms(), None)), lease_b).value == "written"
    )


def test_i9_a_batch_cut_differently_from_the_stored_one_stops_the_writer_naming_both(stack: SynthesizedStack) -> None:
    """Only after a resume from TRIM_HORIZON can a batch meet a stored one cut differently at the same
    first event: the writer stops (not retried by the state machine) instead of writing over it."""
    clock = FakeClock()
    _, client, tables = model_client(stack, clock)
    store = DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics())
    _, lease = store.acquire_lease("exec-a", None, 60_000)
    events = FakeStream(make_stream([150]), limit=300).fetch(None).events
    context = BatchContext(STREAM, lease, clock.now_ms(), None)
    short = Batcher(STREAM)
    assert short.add(events[:60]) == []
    first = short.flush()  # a tail of 60 events, as a writer that caught up there would cut it
    assert first is not None
    store.write(data_transaction(first, 0, context), lease)
    longer = Batcher(STREAM).add(events)[0]  # 98 events from 1/1: the same key, other events
    with pytest.raises(HistoryConflictError, match=r"holds 60 events up to .*0000000060, but this batch holds 98 events"):
        store.write(data_transaction(longer, 1, context), lease)
    assert "HistoryConflictError" not in retried_error_names()
