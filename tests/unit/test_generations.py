"""Capture generations: the positions that key every item, how the handler tells that the stream restarted
under its checkpoint (a fast reset made outside neptune-stream), and the project's own reset, which refuses
to erase what capture has not stored. Against moto's DynamoDB and a scripted stream."""

from __future__ import annotations

from typing import Any

import pytest

from neptune_capture import metrics as m
from neptune_capture import schema
from neptune_capture.events import EventId, StreamEvent, parse_page
from neptune_capture.generations import restart_evidence
from neptune_capture.metrics import CountingMetrics
from neptune_capture.reset import ResetRefusedError, reset_with_new_generation
from neptune_capture.schema import CheckpointAttr as C
from neptune_capture.schema import GenerationReason, HistoryKind, TableNames
from neptune_capture.store import DynamoStore
from neptune_local.verify import history_items, read_checkpoint, verify_generations
from tests.fakes import FakeClock, FakeStream, drop_scanned_items, make_record
from tests.unit.test_capture import STREAM, drain, poller_for

# Commit timestamps of the stream after a reset: later than any before it (the reset happened in between).
AFTER_RESET_TS = 1_800_000_000_000


def records(transaction_sizes: list[int], ts: int = 1_700_000_000_000) -> list[dict[str, Any]]:
    out = []
    for commit, size in enumerate(transaction_sizes, start=1):
        out += [make_record(commit, op, ts=ts, last=op == size) for op in range(1, size + 1)]
    return out


def event(commit: int, op: int, ts: int) -> StreamEvent:
    body = {"format": "PG_JSON", "records": [make_record(commit, op, ts=ts - commit, last=True)]}
    return parse_page(body, None).events[0]


# -- positions: one key for records, the element index and the history
def test_generation_zero_positions_are_the_keys_written_before_generations_existed() -> None:
    assert schema.position(42, 3, 0) == "00000000000000000042:0000000003"


def test_positions_sort_by_generation_then_stream_order_and_parse_back() -> None:
    keys = [schema.position(900, 9, 0), schema.position(1, 1, 1), schema.position(2, 1, 1), schema.position(1, 1, 2)]
    assert sorted(keys) == keys
    assert [schema.parse_position(k) for k in keys] == [(0, 900, 9), (1, 1, 1), (1, 2, 1), (2, 1, 1)]
    assert schema.parse_position(schema.position(0, 0, 3) + "#reset") == (3, 0, 0)


def test_generation_bounds_hold_exactly_that_generations_keys() -> None:
    low, high = schema.generation_bounds(1)
    inside = [schema.position(0, 0, 1) + "#reset", schema.position(5, 1, 1), schema.position(5, 1, 1) + "#gap"]
    outside = [schema.position(10**19, 1, 0), schema.position(0, 0, 2) + "#reset"]
    assert all(low <= k <= high for k in inside)
    assert not any(low <= k <= high for k in outside)
    with pytest.raises(ValueError, match="never negative"):
        schema.generation_prefix(-1)


# -- the evidence that the stream restarted
def test_the_checkpoints_own_event_read_back_unchanged_is_the_same_stream() -> None:
    assert restart_evidence(EventId(7, 2), 1_700, event(7, 2, 1_700)) is None


@pytest.mark.parametrize(
    ("found", "says"),
    [
        (None, "holds no event at or after the checkpoint 7/2"),
        (event(9, 1, 1_900), "no longer holds the checkpoint's event 7/2"),
        (event(7, 2, 5_000), "now has commitTimestamp 5000"),
    ],
)
def test_a_missing_or_other_event_at_the_checkpoint_is_a_restarted_stream(found: StreamEvent | None, says: str) -> None:
    evidence = restart_evidence(EventId(7, 2), 1_700, found)
    assert evidence is not None and says in evidence


# -- the handler under a reset made outside neptune-stream
@pytest.mark.parametrize(
    "after_reset",
    [
        [2, 1],  # shorter than what was captured: the stream ends before the checkpoint (404)
        [3, 1, 4, 2, 5, 1],  # past the checkpoint already: the event there is another transaction
    ],
    ids=["behind-the-checkpoint", "past-the-checkpoint"],
)
@pytest.mark.parametrize("in_flight", [1, 4])
def test_a_stream_restarted_under_the_checkpoint_opens_the_next_generation(
    dynamo: tuple[Any, TableNames], after_reset: list[int], in_flight: int
) -> None:
    client, tables = dynamo
    stream = FakeStream(records([3, 2, 1, 4]), limit=5)
    clock, metrics = FakeClock(), CountingMetrics()
    poller = poller_for(client, tables, stream, clock, metrics, in_flight=in_flight)
    drain(poller, "exec-1", clock)
    before = stream.ids()
    assert metrics.totals[m.GENERATIONS] == 0  # caught up and idle: the same stream, read back each time

    stream.reset(records(after_reset, ts=AFTER_RESET_TS))
    result = drain(poller, "exec-1", clock)

    assert result.restarted and result.generation == 1
    assert metrics.totals[m.GENERATIONS] == 1
    gen0, gen1 = verify_generations(client, tables, STREAM, [before, stream.ids()])
    assert gen0.ok and gen1.ok, (gen0, gen1)
    assert gen0.checkpoint == before[-1] and gen1.checkpoint == stream.ids()[-1]
    (reset_item,) = [h for h in history_items(client, tables.history, STREAM) if h[schema.KIND]["S"] == HistoryKind.RESET]
    assert reset_item[schema.POSITION]["S"] == schema.position(0, 0, 1) + "#reset"
    assert reset_item["reason"]["S"] == GenerationReason.STREAM_RESTARTED
    assert reset_item["lastCapturedPosition"]["S"] == schema.position(before[-1].commit_num, before[-1].op_num, 0)
    checkpoint = read_checkpoint(client, tables.checkpoint, STREAM)
    assert checkpoint.generation == 1
    assert checkpoint.generation_started_at is not None and checkpoint.generation_started_at <= clock.now_ms()


def test_records_of_both_generations_are_kept_under_the_same_event_ids(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(records([2]), limit=10)
    clock = FakeClock()
    poller = poller_for(client, tables, stream, clock)
    drain(poller, "exec-1", clock)
    stream.reset(records([2], ts=AFTER_RESET_TS))
    drain(poller, "exec-1", clock)
    items = client.scan(TableName=tables.records, ConsistentRead=True)["Items"]
    seen = sorted((*schema.record_generation_and_event(i), int(i["commitTimestamp"]["N"])) for i in items)
    assert [s[:3] for s in seen] == [(0, 1, 1), (0, 1, 2), (1, 1, 1), (1, 1, 2)]
    assert seen[0][3] != seen[2][3]  # the same event id, two changes: neither overwrote the other


# -- the project's reset
class Resets:
    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        return {"status": "200 OK"}


def _captured(dynamo: tuple[Any, TableNames]) -> tuple[Any, TableNames, FakeStream, DynamoStore, FakeClock]:
    client, tables = dynamo
    stream = FakeStream(records([3, 2]), limit=10)
    clock = FakeClock()
    drain(poller_for(client, tables, stream, clock), "exec-1", clock)
    store = DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics())
    store.release_lease("exec-1")  # as `stop` does
    return client, tables, stream, store, clock


def test_the_projects_reset_opens_the_next_generation_once_everything_is_captured(dynamo: tuple[Any, TableNames]) -> None:
    client, tables, stream, store, _ = _captured(dynamo)
    reset = Resets()
    result = reset_with_new_generation(reset, store, stream)
    assert reset.calls == 1
    assert (result["generation"], result["previousGeneration"], result["lastCaptured"]) == (1, 0, {"commitNum": 2, "opNum": 2})
    checkpoint = read_checkpoint(client, tables.checkpoint, STREAM)
    assert (checkpoint.generation, checkpoint.position) == (1, None)
    item = client.get_item(TableName=tables.checkpoint, Key={schema.STREAM_ID: {"S": STREAM}})["Item"]
    assert item[C.GENERATION_REASON]["S"] == GenerationReason.RESET_BY_PROJECT


def test_the_projects_reset_refuses_while_capture_holds_the_lease(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(records([1]), limit=10)
    clock = FakeClock()
    drain(poller_for(client, tables, stream, clock), "exec-1", clock)  # its lease stays
    reset = Resets()
    with pytest.raises(ResetRefusedError, match="capture is running") as refused:
        reset_with_new_generation(reset, DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics()), stream)
    assert "neptune-stream stop" in refused.value.next_step and reset.calls == 0


def test_the_projects_reset_refuses_to_erase_changes_not_captured_unless_told(dynamo: tuple[Any, TableNames]) -> None:
    client, tables, stream, store, _ = _captured(dynamo)
    stream.records.append(make_record(3, 1, last=True))  # committed after capture was stopped
    reset = Resets()
    with pytest.raises(ResetRefusedError, match=r"stored changes up to 2/2, the stream holds changes up to 3/1") as refused:
        reset_with_new_generation(reset, store, stream)
    assert "--discard-uncaptured" in refused.value.next_step and reset.calls == 0
    assert read_checkpoint(client, tables.checkpoint, STREAM).generation == 0

    result = reset_with_new_generation(reset, store, stream, discard_uncaptured=True)
    assert reset.calls == 1 and result["generation"] == 1 and "3/1" in result["discarded"]


def test_the_check_reads_back_what_a_scan_missed_in_every_generation(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = FakeStream(records([3, 2, 1, 4]), limit=5)
    clock, metrics = FakeClock(), CountingMetrics()
    poller = poller_for(client, tables, stream, clock, metrics)
    drain(poller, "exec-1", clock)
    before = stream.ids()
    stream.reset(records([2, 3], ts=AFTER_RESET_TS))
    drain(poller, "exec-1", clock)
    dropped = drop_scanned_items(client, keep_every=3)
    gen0, gen1 = verify_generations(client, tables, STREAM, [before, stream.ids()])
    assert gen0.ok and gen1.ok, (gen0, gen1)
    assert gen0.records == len(before) and gen1.records == len(stream.ids())
    assert gen0.scan_missed + gen1.scan_missed == sum(dropped) > 0
