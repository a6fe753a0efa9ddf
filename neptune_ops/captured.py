"""The records of the current capture, in order: for one element (the records table's `byElement` index,
keyed by element id and generation-qualified stream position) or for everything (a parallel Scan of the
records table: its only key is that position, so no partition holds a commit). And the facts that say
whether the capture holds the graph from its first change on (the history table's items, one partition per
stream in position order).

Every table read of `history --as-of` and `export` goes through this module, and so does what "the current
capture" means: the stream's current capture generation (a fast reset opens the next one, and the records of
earlier generations stay in the tables under their own keys: docs/reset-and-generations.md). Each read is
held to that generation's key range (schema.generation_bounds) or, for the Scan, filtered to it."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from neptune_capture import schema
from neptune_capture.events import EventId
from neptune_capture.items import element_key
from neptune_capture.schema import CheckpointAttr as C
from neptune_capture.schema import HistoryAttr as H
from neptune_capture.schema import TableNames

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]


@dataclass(frozen=True)
class Source:
    """Where the current capture's records are: the stream's tables, and the generation read (the
    checkpoint's, unless given)."""

    client: DynamoDBClient
    tables: TableNames
    stream_id: str
    generation: int | None = None

    @functools.cached_property
    def current_generation(self) -> int:
        if self.generation is not None:
            return self.generation
        item = checkpoint_item(self)
        return int(item[C.GENERATION]["N"]) if C.GENERATION in item else 0

    def bounds(self) -> tuple[str, str]:
        return schema.generation_bounds(self.current_generation)

    def position(self, event: EventId) -> str:
        return schema.position(event.commit_num, event.op_num, self.current_generation)


def _pages(client: DynamoDBClient, request: dict[str, Any]) -> Iterator[Item]:
    while True:
        response = client.query(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def element_records(source: Source, element_id: str, *, up_to: str | None = None, after: str | None = None) -> Iterator[Item]:
    """One element's records of the current generation in stream order: all, those at positions up to `up_to`,
    or after `after`. (The index is eventually consistent, as every GSI: a record written a moment ago may not
    be in it yet.)"""
    low, high = source.bounds()
    names = {"#e": schema.ELEMENT_ID, "#p": schema.POSITION}
    values: dict[str, Any] = {":e": {"S": element_key(element_id)}}
    if after is not None:
        # A sort key takes one comparison: past the generation's end is cut off here, in order.
        condition = "#e = :e AND #p > :p"
        values[":p"] = {"S": max(after, low)}
    else:
        condition = "#e = :e AND #p BETWEEN :low AND :high"
        values[":low"] = {"S": low}
        values[":high"] = {"S": min(up_to, high) if up_to is not None else high}
    request: dict[str, Any] = {
        "TableName": source.tables.records,
        "IndexName": schema.ELEMENT_INDEX,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    for item in _pages(source.client, request):
        if item[schema.POSITION]["S"] > high:
            return
        yield item


def has_records_after(source: Source, element_id: str, position: str) -> bool:
    return next(element_records(source, element_id, after=position), None) is not None


def history_items(source: Source) -> Iterator[Item]:
    """The current generation's history items in position order: batches, and the GAP, START_FROM_LATEST and
    RESET entries."""
    low, high = source.bounds()
    request: dict[str, Any] = {
        "TableName": source.tables.history,
        "KeyConditionExpression": "#s = :s AND #p BETWEEN :low AND :high",
        "ExpressionAttributeNames": {"#s": schema.STREAM_ID, "#p": schema.POSITION},
        "ExpressionAttributeValues": {":s": {"S": source.stream_id}, ":low": {"S": low}, ":high": {"S": high}},
        "ConsistentRead": True,
    }
    yield from _pages(source.client, request)


def scan_pages(source: Source, segment: int, segments: int) -> Iterator[list[Item]]:
    """One segment of a parallel Scan of the records table (Segment/TotalSegments:
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan), a page at a
    time, strongly consistent, filtered to the current generation (a record written before generations existed
    has no generation attribute: generation 0). Every record of it, whatever the point: the caller keeps those
    up to it."""
    generation = source.current_generation
    keep = "#g = :g" if generation else "attribute_not_exists(#g) OR #g = :g"
    request: dict[str, Any] = {
        "TableName": source.tables.records,
        "Segment": segment,
        "TotalSegments": segments,
        "ConsistentRead": True,
        "FilterExpression": keep,
        "ExpressionAttributeNames": {"#g": schema.GENERATION},
        "ExpressionAttributeValues": {":g": {"N": str(generation)}},
    }
    while True:
        response = source.client.scan(**request)
        yield response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def checkpoint_item(source: Source) -> Item:
    response = source.client.get_item(
        TableName=source.tables.checkpoint, Key={schema.STREAM_ID: {"S": source.stream_id}}, ConsistentRead=True
    )
    return response.get("Item", {})


@dataclass(frozen=True)
class Batch:
    first: EventId
    last: EventId
    records: int
    first_timestamp: int


@dataclass
class Capture:
    """What the history says about the capture: its batches, in order, and what it does not hold."""

    batches: list[Batch] = field(default_factory=list)
    # The record a capture from LATEST began after (None: it began from TRIM_HORIZON, or on an empty stream).
    started_after: EventId | None = None
    started_from_latest: bool = False
    gaps: list[tuple[EventId | None, str]] = field(default_factory=list)  # (last event captured before it, reason)

    @property
    def first(self) -> EventId | None:
        return self.batches[0].first if self.batches else None

    @property
    def last(self) -> EventId | None:
        return self.batches[-1].last if self.batches else None


def _event(item: Item, commit: str, op: str) -> EventId | None:
    if commit not in item:
        return None
    return EventId(int(item[commit]["N"]), int(item[op]["N"]))


def read_capture(source: Source) -> Capture:
    """The history's batches and entries, and the checkpoint's record of where capture began."""
    capture = Capture()
    for item in history_items(source):
        kind = item.get(schema.KIND, {}).get("S")
        if kind == schema.HistoryKind.BATCH:
            first, last = _event(item, H.FIRST_COMMIT_NUM, H.FIRST_OP_NUM), _event(item, H.LAST_COMMIT_NUM, H.LAST_OP_NUM)
            assert first is not None and last is not None
            capture.batches.append(Batch(first, last, int(item[H.RECORD_COUNT]["N"]), int(item[H.FIRST_COMMIT_TIMESTAMP]["N"])))
        elif kind == schema.HistoryKind.START_FROM_LATEST:
            capture.started_from_latest = True
            capture.started_after = _event(item, H.STARTED_AFTER_COMMIT_NUM, H.STARTED_AFTER_OP_NUM)
        elif kind == schema.HistoryKind.GAP:
            capture.gaps.append(
                (_event(item, H.LAST_CAPTURED_COMMIT_NUM, H.LAST_CAPTURED_OP_NUM), item.get(H.REASON, {}).get("S", ""))
            )
    checkpoint = checkpoint_item(source)
    if checkpoint.get(C.STARTED_FROM, {}).get("S") == "LATEST":
        capture.started_from_latest = True
    return capture


__all__ = [
    "Batch",
    "Capture",
    "Source",
    "element_records",
    "has_records_after",
    "history_items",
    "read_capture",
    "scan_pages",
]
