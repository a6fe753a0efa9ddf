"""Properties of the pure planner: for any page, every event exactly once, in order, in transactions
of at most 100 actions and 4 MB; batches cut the same way however the events arrive in pages and wherever
a writer resumes; transactions in flight together touch no shared item."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from neptune_capture.events import EventId, StreamEvent
from neptune_capture.items import MAX_ITEM_BYTES, item_size
from neptune_capture.plan import (
    MAX_ACTIONS,
    MAX_TRANSACTION_BYTES,
    Batch,
    BatchContext,
    Batcher,
    Checkpoint,
    Lease,
    advance,
    data_transaction,
    plan,
    plan_lazily,
    self_checkpointing,
)
from neptune_capture.schema import TableNames

TABLES = TableNames("records", "history", "checkpoint")
CONTEXT = BatchContext(
    stream_id="s", lease=Lease("owner", 10**13), now_ms=1_700_000_000_500, last_trx_timestamp=1_700_000_000_400
)


@st.composite
def pages(draw: st.DrawFn) -> list[StreamEvent]:
    start = draw(st.integers(min_value=0, max_value=10**12))
    sizes = draw(st.lists(st.integers(min_value=1, max_value=120), min_size=1, max_size=12))
    value_sizes = st.one_of(st.integers(0, 200), st.integers(10_000, 120_000), st.integers(390_000, 700_000))
    events = []
    for offset, size in enumerate(sizes):
        for op in range(1, size + 1):
            events.append(
                StreamEvent(
                    event_id=EventId(start + offset, op),
                    commit_timestamp=1_700_000_000_000,
                    op=draw(st.sampled_from(["ADD", "REMOVE"])),
                    element_id=draw(st.text(min_size=1, max_size=40)),
                    type=draw(st.sampled_from(["vl", "vp", "e", "ep"])),
                    key="k",
                    value="x" * draw(value_sizes) if draw(st.booleans()) else 42,
                    data_type="String",
                    from_id=None,
                    to_id=None,
                    is_last_op=op == size,
                )
            )
    return events


@settings(max_examples=60, deadline=None)
@given(events=pages(), version=st.integers(min_value=0, max_value=10**6))
def test_planned_transactions_hold_every_event_once_in_order_within_limits(events: list[StreamEvent], version: int) -> None:
    checkpoint = Checkpoint(stream_id="s", position=None, version=version)
    txns = plan(events, checkpoint, CONTEXT)
    captured = [EventId(int(r["commitNum"]["N"]), int(r["opNum"]["N"])) for t in txns for r in t.records]
    assert captured == [e.event_id for e in events]
    for i, t in enumerate(txns):
        actions = t.transact_items(TABLES)
        assert len(actions) <= MAX_ACTIONS
        keys = [(a.get("Put") or a["Update"])["TableName"] for a in actions]
        assert keys.count("history") == 1 and keys[-1] == "checkpoint"
        total = sum(item_size(a["Put"]["Item"]) for a in actions if "Put" in a)
        assert total <= MAX_TRANSACTION_BYTES
        assert all(item_size(r) <= MAX_ITEM_BYTES for r in t.records)
        assert t.checkpoint_update is not None
        values = t.checkpoint_update["ExpressionAttributeValues"]
        assert (int(values[":c"]["N"]), int(values[":o"]["N"])) == (t.last.commit_num, t.last.op_num)
        assert int(values[":expected"]["N"]) == version + i and int(values[":next"]["N"]) == version + i + 1
        assert t.first == EventId(int(t.records[0]["commitNum"]["N"]), int(t.records[0]["opNum"]["N"]))
    assert len({t.token for t in txns}) == len(txns)
    assert [t.token for t in plan(events, checkpoint, CONTEXT)] == [t.token for t in txns], "tokens are deterministic"
    assert all(len(t.token) <= 36 for t in txns)


def test_plan_refuses_events_at_or_before_the_checkpoint() -> None:
    event = StreamEvent(EventId(5, 1), 0, "ADD", "v", "vl", "label", "x", "String", None, None, True)
    try:
        plan([event], Checkpoint("s", EventId(5, 1), 3), CONTEXT)
    except ValueError as error:
        assert "5/1 is not after the checkpoint 5/1" in str(error)
    else:
        raise AssertionError("a replayed event was planned")


def test_each_transaction_carries_the_time_it_is_built() -> None:
    events = [StreamEvent(EventId(1, op), 0, "ADD", "v", "vp", "k", "x", "String", None, None, op == 250) for op in range(1, 251)]
    ticks = iter(range(1_700_000_000_000, 1_700_000_000_000 + 10_000, 1_000))
    txns = list(
        plan_lazily(events, Checkpoint("s", None, 0), lambda: BatchContext("s", Lease("owner", 10**13), next(ticks), None))
    )
    assert [int(t.history["processedAt"]["N"]) for t in txns if t.history] == [
        1_700_000_000_000,
        1_700_000_001_000,
        1_700_000_002_000,
    ]


def _cut(batcher: Batcher, pages: list[list[StreamEvent]]) -> list[Batch]:
    batches = [b for page in pages for b in batcher.add(page)]
    tail = batcher.flush()
    return [*batches, *([tail] if tail else [])]


@settings(max_examples=30, deadline=None)
@given(events=pages(), data=st.data())
def test_i2_batches_are_cut_the_same_whatever_the_pages_and_wherever_a_writer_resumes(
    events: list[StreamEvent], data: st.DataObject
) -> None:
    whole = _cut(Batcher("s"), [events])
    # The same events arriving in arbitrary pages: the same batches (only the tail is cut by the end).
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(events) - 1)), max_size=6)))
    paged = [events[a:b] for a, b in zip([0, *cuts], [*cuts, len(events)], strict=True)]
    assert [(b.first, b.last) for b in _cut(Batcher("s"), paged)] == [(b.first, b.last) for b in whole]
    # A writer resuming after any batch (its checkpoint) cuts every later batch exactly as before, so it
    # finds the history items of batches committed beyond the checkpoint under the same keys.
    resume = data.draw(st.integers(0, len(whole) - 1))
    rest = [e for e in events if e.event_id > whole[resume].last] if resume < len(whole) else []
    if rest:
        assert [(b.first, b.last) for b in _cut(Batcher("s"), [rest])] == [(b.first, b.last) for b in whole[resume + 1 :]]
    for batch in whole:
        assert len(batch.records) <= MAX_ACTIONS - 2 and batch.size_bytes <= MAX_TRANSACTION_BYTES


def _items(txn_actions: list[dict[str, object]]) -> set[tuple[str, str]]:
    keys = set()
    for action in txn_actions:
        (_, body), *_ = action.items()
        assert isinstance(body, dict)
        key = body.get("Key") or {k: v for k, v in body["Item"].items() if k in ("commitNum", "opNum", "streamId", "position")}
        keys.add((body["TableName"], repr(sorted(key.items()))))
    return keys


def test_i5_transactions_in_flight_together_touch_no_shared_item() -> None:
    events = [StreamEvent(EventId(1, op), 0, "ADD", "v", "vp", "k", "x", "String", None, None, op == 400) for op in range(1, 401)]
    lease = Lease("owner", 10**13, id="lease-1")
    context = BatchContext("s", lease, 1, None)
    batches = Batcher("s").add(events)
    assert len(batches) == 4
    data = [data_transaction(batch, slot, context) for slot, batch in enumerate(batches[:3])]
    final = advance(batches[2].last, 0, 7, context)
    in_flight = [t.transact_items(TABLES) for t in [*data, final]]
    for i, a in enumerate(in_flight):
        assert len(a) <= MAX_ACTIONS
        for b in in_flight[i + 1 :]:
            assert not _items(a) & _items(b), "two transactions in flight share an item: DynamoDB would cancel one"
    # Each data transaction is guarded by its own fence slot, not by the checkpoint item.
    checks = [a[-1]["ConditionCheck"] for a in in_flight[:3]]
    assert [c["Key"]["streamId"]["S"] for c in checks] == ["s#fence#00", "s#fence#01", "s#fence#02"]
    assert all(c["ExpressionAttributeValues"] == {":lease": {"S": "lease-1"}} for c in checks)
    assert (
        in_flight[3] == [{"Update": {"TableName": "checkpoint", **final.checkpoint_update}}] if final.checkpoint_update else False
    )
    # A batch's history item is written only if it is not there yet.
    history = in_flight[0][-2]["Put"]
    assert history["TableName"] == "history" and history["ConditionExpression"] == "attribute_not_exists(#pos)"


def test_i8_tokens_repeat_for_a_retry_and_differ_for_another_lease() -> None:
    batch = Batcher("s").add(
        [StreamEvent(EventId(1, op), 0, "ADD", "v", "vp", "k", "x", "String", None, None, False) for op in range(1, 100)]
    )[0]
    mine, other = (BatchContext("s", Lease("owner", 10**13, id=i), 1, None) for i in ("a", "b"))
    # The token names everything that can differ: the same call retried repeats it.
    assert data_transaction(batch, 0, mine).token == data_transaction(batch, 0, mine).token
    assert data_transaction(batch, 0, mine).token != data_transaction(batch, 3, mine).token
    assert data_transaction(batch, 0, mine).token != data_transaction(batch, 0, other).token
    assert self_checkpointing(batch, 4, mine).token != self_checkpointing(batch, 5, mine).token
    assert (
        len(
            {
                data_transaction(batch, 0, mine).token,
                self_checkpointing(batch, 4, mine).token,
                advance(batch.last, 0, 4, mine).token,
            }
        )
        == 3
    )
