"""The capture loop against DynamoDB (moto, and the DynamoDB model that agrees with it) and a scripted
stream: exactly-once under crashes, retries, fencing and expiry, with several transactions in flight."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neptune_capture import metrics as m
from neptune_capture import schema
from neptune_capture.contract import DEFAULT_STREAM_ID, Status
from neptune_capture.errors import FencedError, StreamExpiredError
from neptune_capture.events import EventId
from neptune_capture.lanes import Lanes
from neptune_capture.metrics import CountingMetrics
from neptune_capture.poller import Poller, PollSettings
from neptune_capture.schema import TableNames
from neptune_capture.store import DynamoStore
from neptune_local.dynamo_model import DynamoModel
from neptune_local.template import SynthesizedStack
from neptune_local.verify import history_items, verify, verify_model
from tests.fakes import FakeClock, FakeStream, FaultyDynamo, ScriptedLanes, SimulatedCrashError, make_stream

STREAM = DEFAULT_STREAM_ID
# A bound on a worker thread that is not a synchronization: only a hang ever reaches it, and then the
# test fails saying so (an idle machine needs well under a second).
WORKER_BOUND_S = 600


def poller_for(
    client: Any,
    tables: TableNames,
    stream: FakeStream,
    clock: FakeClock,
    metrics: CountingMetrics | None = None,
    *,
    in_flight: int = 1,
    lanes: Callable[[int], Lanes] | None = None,
) -> Poller:
    metrics = metrics or CountingMetrics()
    store = DynamoStore(client, tables, STREAM, clock=clock, metrics=metrics)
    settings = PollSettings(stream_id=STREAM, idle_base_seconds=1, max_idle_wait_seconds=4, in_flight=in_flight)
    if lanes is None:
        return Poller(stream, store, settings, clock, metrics)
    return Poller(stream, store, settings, clock, metrics, lanes=lanes)


def drain(poller: Poller, owner: str, clock: FakeClock, budget: float = 30.0) -> Any:
    return poller.run(owner, deadline=clock.monotonic() + budget)


@pytest.mark.parametrize("in_flight", [1, 4])
def test_a_stream_is_captured_exactly_once_with_history_and_checkpoint(dynamo: tuple[Any, TableNames], in_flight: int) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([3, 1, 250, 2, 40]), limit=120)
    clock = FakeClock()
    result = drain(poller_for(client, tables, stream, clock, in_flight=in_flight), "exec-1", clock)
    assert result.status == Status.ACTIVE
    assert result.records == 296
    report = verify(client, tables, STREAM, stream.ids())
    assert report.ok, report
    assert report.checkpoint == EventId(5, 40)
    # Batches are cut across pages (full pages of 120 events, then a short one): 98, 98, 98, then the
    # 2 left when the stream caught up.
    assert report.history_items == result.transactions == 4


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
    stream = FakeStream(make_stream([50] * 40), limit=50)
    clock = FakeClock()

    def tick(_: int) -> None:
        clock.advance(0.5)  # each transaction takes time: the budget ends the invocation, not idleness

    faulty = FaultyDynamo(client, on_call=tick)
    result = drain(poller_for(faulty, tables, stream, clock, in_flight=2), "exec-1", clock, budget=3)
    assert clock.sleeps == []
    assert result.status == Status.ACTIVE and 0 < result.records < 2000
    # A second invocation picks up exactly where the first stopped.
    drain(poller_for(client, tables, stream, clock), "exec-1", clock, budget=100)
    assert verify(client, tables, STREAM, stream.ids()).ok


KEY_NAMES = {"records": ("commitNum", "opNum"), "history": ("streamId", "position"), "checkpoint": ("streamId",)}


def model_tables(stack: SynthesizedStack, clock: FakeClock, **options: Any) -> tuple[DynamoModel, Any, TableNames]:
    model = DynamoModel(clock=clock, **options)
    client = model.client()
    tables = stack.create_tables(client, name_prefix="")
    return model, client, tables


@settings(max_examples=50, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=1, max_value=150), min_size=1, max_size=12),
    limit=st.integers(min_value=1, max_value=400),
    in_flight=st.integers(min_value=1, max_value=6),
    faults=st.dictionaries(
        st.integers(min_value=1, max_value=40),
        st.sampled_from(["crash-before", "crash-after", "lost-response", "conflict", "throttle"]),
        max_size=10,
    ),
    order=st.randoms(use_true_random=False),
    token_window_ms=st.sampled_from([10 * 60 * 1000, 0]),
    budgets=st.lists(st.sampled_from([0.0, 30.0]), max_size=4),
)
def test_crashes_and_retries_with_transactions_in_flight_never_lose_duplicate_or_rewrite(  # noqa: PLR0917 - one argument per drawn value
    stack: SynthesizedStack,
    sizes: list[int],
    limit: int,
    in_flight: int,
    faults: dict[int, str],
    order: random.Random,
    token_window_ms: int,
    budgets: list[float],
) -> None:
    """Several transactions in flight land in any order; the process dies at random points, with what
    was in flight lost or landing during the next invocation; responses are lost (retried with the same
    token, within its 10-minute window or, with a window of 0, after it); conflicts and throttles come
    and go; some invocations end after their first page (a spent budget). The tables end with every
    event once, a complete ordered history, the checkpoint at the end, no record or history item ever
    written twice, and no item shared by two transactions in flight."""
    clock = FakeClock()
    model, client, tables = model_tables(stack, clock, token_window_ms=token_window_ms)
    stream = FakeStream(make_stream(sizes), limit=limit)
    late: list[Callable[[], Any]] = []
    lanes: list[ScriptedLanes] = []

    def scripted(_: int) -> ScriptedLanes:
        lanes.append(ScriptedLanes(order, late, KEY_NAMES))
        return lanes[-1]

    def observe(items: list[dict[str, Any]]) -> None:
        if lanes:
            lanes[-1].observe(items)

    faulty = FaultyDynamo(client, faults, observe=observe)
    invocations = 0
    while True:
        invocations += 1
        assert invocations < 100, "the pipeline stopped making progress"
        poller = poller_for(faulty, tables, stream, clock, in_flight=in_flight, lanes=scripted)
        try:
            budget = budgets[invocations - 1] if invocations <= len(budgets) else 30.0
            result = drain(poller, f"exec-{invocations % 3}", clock, budget=budget)
        except SimulatedCrashError:
            clock.advance(1)
            continue
        if result.status == Status.FENCED:
            # a new owner name after a crash finds the old lease: it waits for it to expire
            clock.advance(25 * 60)
            continue
        if result.checkpoint == stream.ids()[-1]:
            break
    while late:  # requests of dead invocations still on their way land too, and change nothing
        with contextlib.suppress(FencedError, SimulatedCrashError):  # the lease moved on: refused
            late.pop()()
    report = verify_model(model, tables, STREAM, stream.ids())
    assert report.ok, report
    assert model.stats.rewrites[tables.records] == model.stats.rewrites[tables.history] == 0
    for scripted_lanes in lanes:
        assert not scripted_lanes.shared_items_in_flight()


def test_i12_the_stream_expiring_under_a_pipelined_reader_records_one_gap_after_what_was_read(stack: SynthesizedStack) -> None:
    clock = FakeClock()
    model, client, tables = model_tables(stack, clock)
    stream = FakeStream(make_stream([60] * 12), limit=100)

    def expire(call: int) -> None:
        if call == 2:  # the first data transaction (the first took the lease): the reader is < 600 events in
            stream.horizon = EventId(12, 1)

    result = poller_for(FaultyDynamo(client, on_call=expire), tables, stream, clock, in_flight=4).run(
        "exec-1", deadline=clock.monotonic() + 30, resume_from_trim_horizon=True
    )
    assert result.gap_recorded and result.checkpoint == stream.ids()[-1]
    (gap,) = [h for h in model.items(tables.history) if h["kind"]["S"] == "GAP"]
    last_read = EventId(int(gap["lastCapturedCommitNum"]["N"]), int(gap["lastCapturedOpNum"]["N"]))
    available = [e for e in stream.ids() if e <= last_read or e >= EventId(12, 1)]
    assert len(available) < len(stream.ids())
    report = verify_model(model, tables, STREAM, available)
    assert report.ok and report.gaps == 1, report
    assert model.stats.rewrites[tables.records] == model.stats.rewrites[tables.history] == 0


def test_i3_i5_a_backlog_goes_out_with_several_transactions_in_flight_on_distinct_items(stack: SynthesizedStack) -> None:
    clock = FakeClock()
    model, client, tables = model_tables(stack, clock)
    stream = FakeStream(make_stream([100] * 30), limit=1000)
    lanes: list[ScriptedLanes] = []

    def scripted(_: int) -> ScriptedLanes:
        lanes.append(ScriptedLanes(random.Random(5), [], KEY_NAMES))
        return lanes[-1]

    def observe(items: list[dict[str, Any]]) -> None:
        if lanes:  # the lease's fence writes come before the invocation's lanes
            lanes[-1].observe(items)

    observing = FaultyDynamo(client, observe=observe)
    result = drain(poller_for(observing, tables, stream, clock, in_flight=6, lanes=scripted), "exec-1", clock)
    assert result.max_in_flight == 6
    assert result.records == 3000 and result.checkpoint == EventId(30, 100)
    assert verify_model(model, tables, STREAM, stream.ids()).ok
    (used,) = lanes
    assert not used.shared_items_in_flight()
    assert max(sum(1 for a, b, _ in used.windows if a <= t < b) for t in range(used.tick)) >= 6


def test_i1_i7_a_replay_after_a_crash_rewrites_nothing(stack: SynthesizedStack) -> None:
    """Transactions committed beyond the checkpoint when the process died are found by the next
    invocation (their history items are there) and are not written again: their items, processedAt
    included, stay exactly as first written, so a DynamoDB Streams consumer of the tables sees nothing."""
    clock = FakeClock()
    model, client, tables = model_tables(stack, clock)
    stream = FakeStream(make_stream([100] * 10), limit=1000)
    lanes: list[ScriptedLanes] = []

    def landing_last_first(_: int) -> ScriptedLanes:
        lanes.append(ScriptedLanes(random.Random(), [], KEY_NAMES))
        lanes[-1].rng = _Newest()  # the newest transaction in flight always lands first
        return lanes[-1]

    # The 4th transaction (the 4th batch: the first three are still in flight) commits, then the process dies.
    faulty = FaultyDynamo(client, {4: "crash-after"})
    with pytest.raises(SimulatedCrashError):
        drain(poller_for(faulty, tables, stream, clock, in_flight=4, lanes=landing_last_first), "exec-1", clock)
    before = {h["position"]["S"]: h for h in model.items(tables.history)}
    assert before and verify_model(model, tables, STREAM, stream.ids()).checkpoint is None
    clock.advance(60)
    result = drain(poller_for(client, tables, stream, clock, in_flight=4), "exec-1", clock)
    after = {h["position"]["S"]: h for h in model.items(tables.history)}
    assert all(after[k] == v for k, v in before.items()), "a batch written before was written again"
    assert result.records == 1000 - 98 * len(before)
    assert model.stats.cancelled["ConditionalCheckFailed"] >= len(before)
    assert model.stats.rewrites[tables.records] == model.stats.rewrites[tables.history] == 0
    assert verify_model(model, tables, STREAM, stream.ids()).ok


class _Newest(random.Random):
    def randrange(self, stop: int, *_: Any, **__: Any) -> int:  # type: ignore[override]
        return stop - 1

    def random(self) -> float:
        return 1.0


def test_i4_i6_a_second_poller_is_fenced_by_the_lease(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([30] * 20), limit=25)
    clock = FakeClock()
    gate = threading.Event()
    started = threading.Event()

    def hold(n: int) -> None:
        if n == 2:  # exec-a's first data transaction (the first one took the lease)
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
def test_i6_a_poller_whose_lease_was_taken_over_stops_without_corrupting(dynamo: tuple[Any, TableNames], how: str) -> None:
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


def test_i6_a_stopped_execution_still_running_writes_nothing_more(stack: SynthesizedStack) -> None:
    """`neptune-stream stop` releases the lease while an invocation of the stopped execution still runs
    with transactions to send: from the release on, none of them commits (the fence slots were
    rewritten with the release), so nothing it read later lands beyond the checkpoint."""
    clock = FakeClock()
    model, client, tables = model_tables(stack, clock)
    stream = FakeStream(make_stream([100] * 12), limit=500)
    at_release: dict[str, int] = {}

    def stop(n: int) -> None:
        if n == 4:  # the lease's fences, then three transactions of the first page
            store = DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics())
            assert store.release_lease("exec-a")
            at_release["records"] = len(model.items(tables.records))
            at_release["transactions"] = model.stats.transactions

    def lanes(_: int) -> ScriptedLanes:
        return ScriptedLanes(random.Random(3), [], KEY_NAMES)

    faulty = FaultyDynamo(client, on_call=stop)
    result = drain(poller_for(faulty, tables, stream, clock, in_flight=3, lanes=lanes), "exec-a", clock)
    assert result.status == Status.FENCED
    assert len(model.items(tables.records)) == at_release["records"]
    assert model.stats.transactions == at_release["transactions"]
    # The next execution captures everything, once.
    assert drain(poller_for(client, tables, stream, clock, in_flight=3), "exec-b", clock).status == Status.ACTIVE
    assert verify_model(model, tables, STREAM, stream.ids()).ok


def test_only_an_invocation_that_holds_the_lease_counts_as_polling(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream, clock = FakeStream(make_stream([3])), FakeClock()
    holder, turned_away = CountingMetrics(), CountingMetrics()
    DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics()).acquire_lease("exec-a", None, 60_000)
    assert drain(poller_for(client, tables, stream, clock, turned_away), "exec-b", clock).status == Status.FENCED
    assert drain(poller_for(client, tables, stream, clock, holder), "exec-a", clock).status == Status.ACTIVE
    assert turned_away.totals[m.POLLING_INVOCATIONS] == 0 and holder.totals[m.POLLING_INVOCATIONS] == 1


def test_i6_an_execution_whose_lease_stop_released_never_takes_it_again(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream, clock = FakeStream(make_stream([3])), FakeClock()
    store = DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics())
    store.acquire_lease("exec-a", None, 60_000)
    assert store.release_lease("exec-a")
    # An invocation of the stopped execution that was already starting finds the lease free, and is refused.
    assert drain(poller_for(client, tables, stream, clock), "exec-a", clock).status == Status.FENCED
    assert drain(poller_for(client, tables, stream, clock), "exec-b", clock).status == Status.ACTIVE
    assert verify(client, tables, STREAM, stream.ids()).ok


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


def test_i12_expired_checkpoint_fails_loudly_then_resumes_only_when_asked(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    records = make_stream([10] * 6)
    stream = FakeStream(records[:10], limit=10)
    clock = FakeClock()
    metrics = CountingMetrics()
    drain(poller_for(client, tables, stream, clock), "exec-1", clock)  # captures commit 1, all there is
    stream.records = records
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


def test_i10_an_oversized_value_is_stored_truncated_and_does_not_block(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    records = make_stream([2, 1])
    records[1]["data"]["value"]["value"] = "é" * 300_000  # 600 KB of UTF-8
    stream = FakeStream(records, limit=10)
    clock = FakeClock()
    metrics = CountingMetrics()
    drain(poller_for(client, tables, stream, clock, metrics), "exec-1", clock)
    item = client.get_item(TableName=tables.records, Key={schema.RECORD_PK: {"S": schema.position(1, 2, 0)}})["Item"]
    assert item["truncated"] == {"BOOL": True}
    assert item["originalValueBytes"] == {"N": "600000"}
    assert len(item["valueSha256"]["S"]) == 64
    assert metrics.totals[m.TRUNCATED] == 1
    assert verify(client, tables, STREAM, stream.ids()).ok


def test_i8_transient_dynamodb_failures_are_retried_with_the_same_token(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(make_stream([5] * 3), limit=5)
    clock = FakeClock()
    metrics = CountingMetrics()
    faulty = FaultyDynamo(client, {1: "throttle", 2: "conflict", 3: "lost-response", 5: "lost-response"})
    result = drain(poller_for(faulty, tables, stream, clock, metrics), "exec-1", clock)
    assert result.records == 15
    assert metrics.totals[m.THROTTLES] == 1 and metrics.totals[m.RETRIES] == 3
    assert verify(client, tables, STREAM, stream.ids()).ok
