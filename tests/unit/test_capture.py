"""The capture loop against DynamoDB from moto (real transactions and conditions) and a scripted
stream: exactly-once under crashes, retries, fencing and expiry."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from moto import mock_aws

from neptune_capture import metrics as m
from neptune_capture.contract import DEFAULT_STREAM_ID, Status
from neptune_capture.errors import StreamExpiredError
from neptune_capture.events import EventId
from neptune_capture.metrics import CountingMetrics
from neptune_capture.poller import Poller, PollSettings
from neptune_capture.schema import TableNames
from neptune_capture.store import DynamoStore
from neptune_local import moto_gaps
from neptune_local.template import SynthesizedStack
from neptune_local.verify import history_items, verify
from tests.fakes import FakeClock, FakeStream, FaultyDynamo, SimulatedCrashError, make_stream
from tests.unit.conftest import fresh_tables

STREAM = DEFAULT_STREAM_ID
# A bound on a worker thread that is not a synchronization: only a hang ever reaches it, and then the
# test fails saying so (an idle machine needs well under a second).
WORKER_BOUND_S = 600


def poller_for(
    client: Any, tables: TableNames, stream: FakeStream, clock: FakeClock, metrics: CountingMetrics | None = None
) -> Poller:
    metrics = metrics or CountingMetrics()
    store = DynamoStore(client, tables, STREAM, clock=clock, metrics=metrics)
    return Poller(stream, store, PollSettings(stream_id=STREAM, idle_base_seconds=1, max_idle_wait_seconds=4), clock, metrics)


def drain(poller: Poller, owner: str, clock: FakeClock, budget: float = 30.0) -> Any:
    return poller.run(owner, deadline=clock.monotonic() + budget)


def test_a_stream_is_captured_exactly_once_with_history_and_checkpoint(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([3, 1, 250, 2, 40]), limit=120)
    clock = FakeClock()
    result = drain(poller_for(client, tables, stream, clock), "exec-1", clock)
    assert result.status == Status.ACTIVE
    assert result.records == 296
    report = verify(client, tables, STREAM, stream.ids())
    assert report.ok, report
    assert report.checkpoint == EventId(5, 40)
    # Pages of 120, 120 and 56 records; 98 records at most per transaction: 2 + 2 + 1 transactions.
    assert report.history_items == result.transactions == 5


def test_history_items_describe_each_batch(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([2, 1]), limit=10)
    clock = FakeClock()
    written_at = clock.now_ms()  # the batch is written before any idle wait moves the clock
    drain(poller_for(client, tables, stream, clock), "exec-1", clock)
    (item,) = history_items(client, tables.history, STREAM)
    assert item["recordCount"] == {"N": "3"}
    assert item["countsByOp"] == {"M": {"ADD": {"N": "3"}}}
    assert item["countsByType"] == {"M": {"vp": {"N": "3"}}}
    assert item["lastTrxTimestamp"] == {"N": str(1_700_000_000_000 + 2)}
    assert int(item["processedAt"]["N"]) == written_at
    assert int(item["lagMs"]["N"]) == written_at - (1_700_000_000_000 + 2)
    assert item["executionId"] == {"S": "exec-1"}


def test_idle_stream_backs_off_inside_the_invocation_and_writes_nothing(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream([])
    clock = FakeClock()
    result = drain(poller_for(client, tables, stream, clock), "exec-1", clock, budget=20)
    assert result.status == Status.IDLE and result.records == 0
    assert clock.sleeps == [1, 2, 4, 4, 4, 4]  # 19 s of 20: the next 4 s wait would pass the deadline
    assert client.scan(TableName=tables.records)["Count"] == 0


def test_flowing_records_never_wait(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([50] * 10), limit=50)
    clock = FakeClock()

    def tick(_: int) -> None:
        clock.advance(0.5)  # each transaction takes time: the budget ends the invocation, not idleness

    faulty = FaultyDynamo(client, on_call=tick)
    result = drain(poller_for(faulty, tables, stream, clock), "exec-1", clock, budget=3)
    assert clock.sleeps == []
    assert result.status == Status.ACTIVE and 0 < result.records < 500
    # A second invocation picks up exactly where the first stopped.
    drain(poller_for(client, tables, stream, clock), "exec-1", clock, budget=100)
    assert verify(client, tables, STREAM, stream.ids()).ok


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=60), min_size=1, max_size=25),
    limit=st.integers(min_value=1, max_value=300),
    faults=st.dictionaries(
        st.integers(min_value=1, max_value=30),
        st.sampled_from(["crash-before", "crash-after", "lost-response", "conflict", "throttle"]),
        max_size=8,
    ),
)
def test_crashes_and_retries_never_lose_or_duplicate(
    stack: SynthesizedStack, sizes: list[int], limit: int, faults: dict[int, str]
) -> None:
    with mock_aws(), moto_gaps.dynamodb_transaction_snapshots():
        client, tables = fresh_tables(stack)
        stream = FakeStream(make_stream(sizes), limit=limit)
        clock = FakeClock()
        faulty = FaultyDynamo(client, faults)
        invocations = 0
        while True:
            invocations += 1
            assert invocations < 100, "the pipeline stopped making progress"
            try:
                result = drain(poller_for(faulty, tables, stream, clock), f"exec-{invocations % 3}", clock)
            except SimulatedCrashError:
                clock.advance(1)
                continue
            if result.status == Status.FENCED:
                # a new owner name after a crash finds the old lease: it waits for it to expire
                clock.advance(25 * 60)
                continue
            if result.checkpoint == stream.ids()[-1]:
                break
        report = verify(client, tables, STREAM, stream.ids())
        assert report.ok, report


def test_a_second_poller_is_fenced_by_the_lease(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([30] * 20), limit=25)
    clock = FakeClock()
    gate = threading.Event()
    started = threading.Event()

    def hold(n: int) -> None:
        if n == 1:
            started.set()
            gate.wait()  # until exec-b has been turned away: no timing involved

    first = poller_for(FaultyDynamo(client, on_call=hold), tables, stream, clock)
    results: dict[str, Any] = {}
    worker = threading.Thread(target=lambda: results.setdefault("a", drain(first, "exec-a", clock, 1000)), daemon=True)
    worker.start()
    try:
        assert started.wait(WORKER_BOUND_S), "exec-a never reached its first transaction"
        # exec-a holds the lease and is mid-transaction: exec-b must not poll at all.
        second = poller_for(client, tables, stream, clock, metrics := CountingMetrics())
        results["b"] = drain(second, "exec-b", clock)
    finally:
        gate.set()
    worker.join(WORKER_BOUND_S)
    assert not worker.is_alive(), f"exec-a did not finish its 600 events within {WORKER_BOUND_S} s"
    assert results["b"].status == Status.FENCED and "leased to exec-a" in results["b"].message
    assert metrics.totals[m.FENCED] == 1
    assert results["a"].status == Status.ACTIVE
    assert verify(client, tables, STREAM, stream.ids()).ok


@pytest.mark.parametrize("how", ["its lease expired", "its lease was released"])
def test_a_poller_whose_lease_was_taken_over_stops_without_corrupting(dynamo: tuple[Any, TableNames], how: str) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([30] * 20), limit=25)
    clock = FakeClock()
    takeover: dict[str, Any] = {}

    def take_over(n: int) -> None:
        if n == 3 and not takeover:
            if how == "its lease expired":  # exec-a stalls past its lease
                clock.advance(21 * 60)
            else:  # `neptune-stream stop` while exec-a's invocation is mid-run: no lease wait for the next
                store = DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics())
                assert store.release_lease("exec-a") and not store.release_lease("exec-a")
            # exec-b takes the stream over and runs it to the end.
            takeover["b"] = drain(poller_for(client, tables, stream, clock), "exec-b", clock, 1000)

    result_a = drain(poller_for(FaultyDynamo(client, on_call=take_over), tables, stream, clock), "exec-a", clock, 10_000)
    assert takeover["b"].status == Status.ACTIVE
    assert result_a.status == Status.FENCED and "no longer exec-a" in result_a.message
    report = verify(client, tables, STREAM, stream.ids())
    assert report.ok, report


def test_continue_as_new_hands_the_lease_to_the_child_execution(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([5] * 4), limit=5)
    clock = FakeClock()
    drain(poller_for(client, tables, stream, clock), "exec-parent", clock, budget=0)
    child = poller_for(client, tables, stream, clock).run("exec-child", deadline=clock.monotonic() + 30, parent="exec-parent")
    assert child.status == Status.ACTIVE
    stranger = poller_for(client, tables, stream, clock).run("exec-other", deadline=clock.monotonic() + 30, parent="exec-parent")
    assert stranger.status == Status.FENCED
    assert verify(client, tables, STREAM, stream.ids()).ok


def test_expired_checkpoint_fails_loudly_then_resumes_only_when_asked(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([10] * 6), limit=10)
    clock = FakeClock()
    metrics = CountingMetrics()
    drain(poller_for(client, tables, stream, clock), "exec-1", clock, budget=0)  # captures commit 1 only
    stream.horizon = EventId(4, 1)  # commits 2 and 3 expire before the next poll
    with pytest.raises(StreamExpiredError, match=r"checkpoint 1/10 .*resumeFromTrimHorizon"):
        drain(poller_for(client, tables, stream, clock, metrics), "exec-1", clock)
    assert metrics.totals[m.EXPIRED] == 1
    # Failing again and again is not a silent loop: nothing moved.
    assert verify(client, tables, STREAM, stream.ids()).checkpoint == EventId(1, 10)

    result = poller_for(client, tables, stream, clock).run(
        "exec-1", deadline=clock.monotonic() + 30, resume_from_trim_horizon=True
    )
    assert result.gap_recorded and result.checkpoint == EventId(6, 10)
    available = [e for e in stream.ids() if e.commit_num == 1 or e >= stream.horizon]
    report = verify(client, tables, STREAM, available)
    assert report.ok and report.gaps == 1, report
    gap = next(h for h in history_items(client, tables.history, STREAM) if h["kind"]["S"] == "GAP")
    assert gap["lastCapturedCommitNum"] == {"N": "1"} and gap["lastCapturedOpNum"] == {"N": "10"}


def test_an_oversized_value_is_stored_truncated_and_does_not_block(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    records = make_stream([2, 1])
    records[1]["data"]["value"]["value"] = "é" * 300_000  # 600 KB of UTF-8
    stream = FakeStream(records, limit=10)
    clock = FakeClock()
    metrics = CountingMetrics()
    drain(poller_for(client, tables, stream, clock, metrics), "exec-1", clock)
    item = client.get_item(TableName=tables.records, Key={"commitNum": {"N": "1"}, "opNum": {"N": "2"}})["Item"]
    assert item["truncated"] == {"BOOL": True}
    assert item["originalValueBytes"] == {"N": "600000"}
    assert len(item["valueSha256"]["S"]) == 64
    assert metrics.totals[m.TRUNCATED] == 1
    assert verify(client, tables, STREAM, stream.ids()).ok


def test_transient_dynamodb_failures_are_retried_with_the_same_token(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([5] * 3), limit=5)
    clock = FakeClock()
    metrics = CountingMetrics()
    faulty = FaultyDynamo(client, {1: "throttle", 2: "conflict", 3: "lost-response", 5: "lost-response"})
    result = drain(poller_for(faulty, tables, stream, clock, metrics), "exec-1", clock)
    assert result.records == 15
    assert metrics.totals[m.THROTTLES] == 1 and metrics.totals[m.RETRIES] == 3
    assert verify(client, tables, STREAM, stream.ids()).ok
