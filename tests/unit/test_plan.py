"""Properties of the pure planner: for any page, every event exactly once, in order, in transactions
of at most 100 actions and 4 MB, each advancing the checkpoint to its own last event."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from neptune_capture.events import EventId, StreamEvent
from neptune_capture.items import MAX_ITEM_BYTES, item_size
from neptune_capture.plan import (
    MAX_ACTIONS,
    MAX_TRANSACTION_BYTES,
    BatchContext,
    Checkpoint,
    Lease,
    plan,
    plan_lazily,
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
    assert [int(t.history["processedAt"]["N"]) for t in txns] == [1_700_000_000_000, 1_700_000_001_000, 1_700_000_002_000]
