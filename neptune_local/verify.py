"""Exactly-once verification: the records table against the stream's events, the history's coverage,
and the checkpoint. Used by the tests, the demo, the chaos scenarios and the benchmarks."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from neptune_capture import schema
from neptune_capture.events import EventId
from neptune_capture.plan import Checkpoint
from neptune_capture.schema import HistoryAttr as H
from neptune_capture.schema import TableNames
from neptune_capture.store import checkpoint_from_item

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from neptune_local.dynamo_model import DynamoModel


@dataclass
class Verification:
    stream_events: int
    records: int
    duplicates: int  # events captured more than once (overlapping history batches, or unexpected items)
    missing: int  # stream events not in the records table
    history_items: int
    history_ordered: bool
    history_complete: bool  # every event covered by exactly one history batch, counts matching
    checkpoint: EventId | None
    checkpoint_is_last: bool
    gaps: int
    # The START_FROM_LATEST items (at most one, written by the first capture from LATEST), and the event
    # the one there is says capture started after (None: the stream was empty then, or no such item).
    starts: int = 0
    started_after: EventId | None = None
    # The capture generation verified, its RESET history items, and how many it must have (one for every
    # generation but 0).
    generation: int = 0
    resets: int = 0
    resets_expected: int = 0
    # Records the Scan did not return but a consistent point read found (read_back): a fault of the server's
    # Scan, not of capture, so not a failure of exactly-once. In as_dict() (a chaos scenario's failure line),
    # the demos' JSON lines and their summaries. Duplicates are still counted from the Scan alone.
    scan_missed: int = 0

    @property
    def ok(self) -> bool:
        return (
            self.duplicates == 0
            and self.missing == 0
            and self.history_ordered
            and self.history_complete
            and self.checkpoint_is_last
            and self.records == self.stream_events
            and self.starts <= 1
            and self.resets == self.resets_expected
        )

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["checkpoint"] = self.checkpoint.as_dict() if self.checkpoint else None
        d["started_after"] = self.started_after.as_dict() if self.started_after else None
        d["ok"] = self.ok
        return d


def _scan(client: DynamoDBClient, table: str, **kwargs: Any) -> Iterator[dict[str, Any]]:
    paginator = client.get_paginator("scan")
    for page in paginator.paginate(TableName=table, ConsistentRead=True, **kwargs):
        yield from page.get("Items", [])


RECORD_KEY_PROJECTION: dict[str, Any] = {
    "ProjectionExpression": f"#g, {schema.COMMIT_NUM}, {schema.OP_NUM}",
    "ExpressionAttributeNames": {"#g": schema.GENERATION},
}
# BatchGetItem reads at most 100 keys per call (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_BatchGetItem.html).
BATCH_GET_KEYS = 100
# Unprocessed keys are asked again with exponential backoff (the same page); this many times in a row at most.
UNPROCESSED_RETRIES = 8


def stored_records(client: DynamoDBClient, table: str) -> list[tuple[int, int, int]]:
    """(generation, commitNum, opNum) of every record item, by one consistent Scan."""
    return [schema.record_generation_and_event(i) for i in _scan(client, table, **RECORD_KEY_PROJECTION)]


def read_back(
    client: DynamoDBClient, table: str, wanted: Sequence[tuple[int, EventId]], sleep: Callable[[float], None] = time.sleep
) -> list[tuple[int, int, int]]:
    """The record items of `wanted` ((generation, event) pairs) that a consistent point read finds. The check
    counts an event as missing only when this finds it absent too: a Scan is one server's page walk, and one
    10,000-change demo on DynamoDB Local under heavy load once reported 1,141 records missing (about a 1 MB
    Scan page of them) while every batch's history item was there, though a batch's records and its history
    item are written in one transaction. What only the point read found is reported apart (scan_missed)."""
    found: list[tuple[int, int, int]] = []
    for start in range(0, len(wanted), BATCH_GET_KEYS):
        keys: list[dict[str, Any]] = [
            {schema.RECORD_PK: {"S": schema.position(e.commit_num, e.op_num, g)}}
            for g, e in wanted[start : start + BATCH_GET_KEYS]
        ]
        unanswered = 0
        while keys:
            response = client.batch_get_item(
                RequestItems={
                    table: {
                        "Keys": keys,
                        "ConsistentRead": True,
                        "ProjectionExpression": RECORD_KEY_PROJECTION["ProjectionExpression"],
                        "ExpressionAttributeNames": RECORD_KEY_PROJECTION["ExpressionAttributeNames"],
                    }
                }
            )
            found += [schema.record_generation_and_event(i) for i in response.get("Responses", {}).get(table, [])]
            # Keys the server did not get to come back to be asked again, after a backoff, as the API page says
            # to (the same page): a bounded number of times, then the check stops saying so.
            unprocessed = response.get("UnprocessedKeys", {})
            keys = list(unprocessed[table]["Keys"]) if table in unprocessed else []
            if keys:
                unanswered += 1
                if unanswered > UNPROCESSED_RETRIES:
                    raise RuntimeError(
                        f"BatchGetItem on {table} left {len(keys)} keys unprocessed {unanswered} times in a row: the "
                        "verification cannot read those records back; run it again when the table is not throttled"
                    )
                sleep(min(1.0, 0.05 * 2**unanswered))
    return found


def _records_and_scan_misses(
    client: DynamoDBClient, table: str, streams: Sequence[tuple[int, Sequence[EventId]]]
) -> tuple[list[tuple[int, int, int]], int]:
    """The stored records (a Scan, then a point read of every expected event it did not return), and how many
    of them only the point read found."""
    records = stored_records(client, table)
    seen = set(records)
    absent = [(g, e) for g, stream in streams for e in stream if (g, e.commit_num, e.op_num) not in seen]
    rescued = read_back(client, table, absent) if absent else []
    return records + rescued, len(rescued)


def history_items(client: DynamoDBClient, table: str, stream_id: str) -> list[dict[str, Any]]:
    paginator = client.get_paginator("query")
    items: list[dict[str, Any]] = []
    for page in paginator.paginate(
        TableName=table,
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": schema.STREAM_ID},
        ExpressionAttributeValues={":s": {"S": stream_id}},
        ConsistentRead=True,
    ):
        items += page.get("Items", [])
    return items


def read_checkpoint(client: DynamoDBClient, table: str, stream_id: str) -> Checkpoint:
    item = client.get_item(TableName=table, Key={schema.STREAM_ID: {"S": stream_id}}, ConsistentRead=True).get("Item")
    return checkpoint_from_item(stream_id, item)


def verify(
    client: DynamoDBClient, tables: TableNames, stream_id: str, stream: Sequence[EventId], generation: int | None = None
) -> Verification:
    """`stream`: exactly the events of capture generation `generation` (the checkpoint's, by default) that
    must be captured, in order (all its stream's events, or those after the record a capture from LATEST
    started after). Records and history of other generations are not looked at."""
    checkpoint = read_checkpoint(client, tables.checkpoint, stream_id)
    generation = checkpoint.generation if generation is None else generation
    records, scan_missed = _records_and_scan_misses(client, tables.records, [(generation, stream)])
    history = history_items(client, tables.history, stream_id)
    result = check_generation(records, history, checkpoint, stream, generation)
    result.scan_missed = scan_missed
    return result


def verify_generations(
    client: DynamoDBClient, tables: TableNames, stream_id: str, streams: Sequence[Sequence[EventId]]
) -> list[Verification]:
    """One verification per capture generation, `streams[g]` being generation g's events; a record or history
    item of a generation past the last one given counts as a duplicate of the last verification."""
    checkpoint = read_checkpoint(client, tables.checkpoint, stream_id)
    records, scan_missed = _records_and_scan_misses(client, tables.records, list(enumerate(streams)))
    history = history_items(client, tables.history, stream_id)
    results = [check_generation(records, history, checkpoint, stream, g) for g, stream in enumerate(streams)]
    if results:
        results[-1].scan_missed = scan_missed
    beyond = sum(1 for g, _, _ in records if g >= len(streams))
    if beyond and results:
        results[-1].duplicates += beyond
    return results


def generation_of(history: dict[str, Any]) -> int:
    return schema.parse_position(str(history[schema.POSITION]["S"]))[0]


def check_generation(
    records: Iterable[tuple[int, int, int]],
    history: Sequence[dict[str, Any]],
    checkpoint: Checkpoint,
    stream: Sequence[EventId],
    generation: int,
) -> Verification:
    """check() on one generation: its records, its history items; its checkpoint is the checkpoint item's while
    it is the current generation, then the position the next generation's RESET item says it ended at."""
    stored = [EventId(c, o) for g, c, o in records if g == generation]
    mine = [h for h in history if generation_of(h) == generation]
    if generation == checkpoint.generation:
        position = checkpoint.position
    else:
        resets = [
            h
            for h in history
            if generation_of(h) == generation + 1 and h.get(schema.KIND, {}).get("S") == schema.HistoryKind.RESET
        ]
        position = (
            EventId(int(resets[0][H.LAST_CAPTURED_COMMIT_NUM]["N"]), int(resets[0][H.LAST_CAPTURED_OP_NUM]["N"]))
            if resets and H.LAST_CAPTURED_COMMIT_NUM in resets[0]
            else None
        )
    result = check(stored, mine, position, stream)
    result.generation = generation
    result.resets_expected = 1 if generation else 0
    result.resets = sum(1 for h in mine if h.get(schema.KIND, {}).get("S") == schema.HistoryKind.RESET)
    return result


def check(
    stored: Iterable[EventId], history: Sequence[dict[str, Any]], checkpoint: EventId | None, stream: Sequence[EventId]
) -> Verification:
    """The verification itself, on what the tables hold: record keys, the stream's history items in
    position order, and the checkpoint's position."""
    expected = list(stream)
    index = {e: i for i, e in enumerate(expected)}
    counted = Counter(stored)
    missing = sum(1 for e in expected if e not in counted)
    unexpected = sum(n for e, n in counted.items() if e not in index)

    kinds = [h.get(schema.KIND, {}).get("S") for h in history]
    batches = [h for h, kind in zip(history, kinds, strict=True) if kind == schema.HistoryKind.BATCH]
    starts = [h for h, kind in zip(history, kinds, strict=True) if kind == schema.HistoryKind.START_FROM_LATEST]
    coverage = [0] * len(expected)
    counts_match = True
    ordered = True
    previous_last = -1
    for h in batches:  # in position order
        first = EventId(int(h[H.FIRST_COMMIT_NUM]["N"]), int(h[H.FIRST_OP_NUM]["N"]))
        last = EventId(int(h[H.LAST_COMMIT_NUM]["N"]), int(h[H.LAST_OP_NUM]["N"]))
        if first not in index or last not in index:
            counts_match = False
            continue
        lo, hi = index[first], index[last]
        if lo <= previous_last:
            ordered = False
        previous_last = max(previous_last, hi)
        for i in range(lo, hi + 1):
            coverage[i] += 1
        counts_match &= int(h[H.RECORD_COUNT]["N"]) == hi - lo + 1
    over = sum(c - 1 for c in coverage if c > 1)
    complete = counts_match and all(c == 1 for c in coverage)

    started_after = _started_after(starts[0]) if starts else None
    # With nothing expected, a capture from LATEST rests on the record it started after.
    last_expected = expected[-1] if expected else started_after
    return Verification(
        stream_events=len(expected),
        records=sum(counted.values()),
        duplicates=over + unexpected,
        missing=missing,
        history_items=len(batches),
        history_ordered=ordered,
        history_complete=complete,
        checkpoint=checkpoint,
        checkpoint_is_last=checkpoint == last_expected,
        gaps=kinds.count(schema.HistoryKind.GAP),
        starts=len(starts),
        started_after=started_after,
    )


def _started_after(item: dict[str, Any]) -> EventId | None:
    if H.STARTED_AFTER_COMMIT_NUM not in item:
        return None
    return EventId(int(item[H.STARTED_AFTER_COMMIT_NUM]["N"]), int(item[H.STARTED_AFTER_OP_NUM]["N"]))


def verify_model(model: DynamoModel, tables: TableNames, stream_id: str, stream: Sequence[EventId]) -> Verification:
    """The same verification on the DynamoDB model's tables (it has no Scan or Query)."""
    records = [schema.record_generation_and_event(i) for i in model.items(tables.records)]
    history = sorted(
        (h for h in model.items(tables.history) if h[schema.STREAM_ID]["S"] == stream_id),
        key=lambda h: str(h[schema.POSITION]["S"]),
    )
    checkpoint = checkpoint_from_item(stream_id, model.get(tables.checkpoint, {schema.STREAM_ID: {"S": stream_id}}))
    return check_generation(records, history, checkpoint, stream, checkpoint.generation)


def combined(verifications: Sequence[Verification]) -> Verification:
    """Several generations' verifications as one: counts added up, every property required of each."""
    last = verifications[-1]
    return Verification(
        stream_events=sum(v.stream_events for v in verifications),
        records=sum(v.records for v in verifications),
        duplicates=sum(v.duplicates for v in verifications),
        missing=sum(v.missing for v in verifications),
        history_items=sum(v.history_items for v in verifications),
        history_ordered=all(v.history_ordered for v in verifications),
        history_complete=all(v.history_complete for v in verifications),
        checkpoint=last.checkpoint,
        checkpoint_is_last=all(v.checkpoint_is_last for v in verifications),
        gaps=sum(v.gaps for v in verifications),
        starts=sum(v.starts for v in verifications),
        started_after=verifications[0].started_after,
        generation=last.generation,
        resets=sum(v.resets for v in verifications),
        resets_expected=sum(v.resets_expected for v in verifications),
        scan_missed=sum(v.scan_missed for v in verifications),
    )
