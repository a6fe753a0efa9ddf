"""The records of the current capture, in order: for one element (the records table's `byElement` index,
keyed by element id and stream position) or for everything (the history table's batches, one partition per
stream in position order, name the commits; each commit is one Query on the records table's partition key,
`commitNum`). And the facts that say whether the capture holds the graph from its first change on.

Every table read of `history --as-of` and `export` goes through this module, so that what "the current
capture" means (a stream id today; a capture generation as well, once a fast reset starts a new one) is
decided in one place."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from neptune_capture import schema
from neptune_capture.events import EventId
from neptune_capture.items import element_key
from neptune_capture.schema import CheckpointAttr as C
from neptune_capture.schema import TableNames

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

Item = dict[str, Any]


@dataclass(frozen=True)
class Source:
    """Where the current capture's records are."""

    client: DynamoDBClient
    tables: TableNames
    stream_id: str


def _pages(client: DynamoDBClient, request: dict[str, Any]) -> Iterator[Item]:
    while True:
        response = client.query(**request)
        yield from response.get("Items", [])
        if "LastEvaluatedKey" not in response:
            return
        request = {**request, "ExclusiveStartKey": response["LastEvaluatedKey"]}


def element_records(source: Source, element_id: str, *, up_to: str | None = None, after: str | None = None) -> Iterator[Item]:
    """One element's records in stream order: all, those at positions up to `up_to`, or after `after`. (The
    index is eventually consistent, as every GSI: a record written a moment ago may not be in it yet.)"""
    names = {"#e": schema.ELEMENT_ID, "#p": schema.POSITION}
    values: dict[str, Any] = {":e": {"S": element_key(element_id)}}
    condition = "#e = :e"
    if up_to is not None:
        condition += " AND #p <= :p"
        values[":p"] = {"S": up_to}
    elif after is not None:
        condition += " AND #p > :p"
        values[":p"] = {"S": after}
    else:
        del names["#p"]
    request: dict[str, Any] = {
        "TableName": source.tables.records,
        "IndexName": schema.ELEMENT_INDEX,
        "KeyConditionExpression": condition,
        "ExpressionAttributeNames": names,
        "ExpressionAttributeValues": values,
    }
    yield from _pages(source.client, request)


def has_records_after(source: Source, element_id: str, position: str) -> bool:
    response = source.client.query(
        TableName=source.tables.records,
        IndexName=schema.ELEMENT_INDEX,
        KeyConditionExpression="#e = :e AND #p > :p",
        ExpressionAttributeNames={"#e": schema.ELEMENT_ID, "#p": schema.POSITION},
        ExpressionAttributeValues={":e": {"S": element_key(element_id)}, ":p": {"S": position}},
        Limit=1,
    )
    return bool(response.get("Items"))


def history_items(source: Source) -> Iterator[Item]:
    """The stream's history items in position order: batches, and the GAP and START_FROM_LATEST entries."""
    request: dict[str, Any] = {
        "TableName": source.tables.history,
        "KeyConditionExpression": "#s = :s",
        "ExpressionAttributeNames": {"#s": schema.STREAM_ID},
        "ExpressionAttributeValues": {":s": {"S": source.stream_id}},
        "ConsistentRead": True,
    }
    yield from _pages(source.client, request)


def commit_records(source: Source, commit_num: int) -> list[Item]:
    """One commit's records, in opNum order. Read consistently: a batch's records were written in the same
    transaction as its history item, so every record a batch names is there."""
    request: dict[str, Any] = {
        "TableName": source.tables.records,
        "KeyConditionExpression": "#c = :c",
        "ExpressionAttributeNames": {"#c": schema.RECORD_PK},
        "ExpressionAttributeValues": {":c": {"N": str(commit_num)}},
        "ConsistentRead": True,
    }
    return list(_pages(source.client, request))


def scan_pages(source: Source, segment: int, segments: int) -> Iterator[list[Item]]:
    """One segment of a parallel Scan of the records table (Segment/TotalSegments:
    https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/Scan.html#Scan.ParallelScan), a page at a
    time, strongly consistent. Every record, whatever the point: the caller keeps those up to it."""
    request: dict[str, Any] = {
        "TableName": source.tables.records,
        "Segment": segment,
        "TotalSegments": segments,
        "ConsistentRead": True,
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
            first, last = _event(item, "firstCommitNum", "firstOpNum"), _event(item, "lastCommitNum", "lastOpNum")
            assert first is not None and last is not None
            capture.batches.append(Batch(first, last, int(item["recordCount"]["N"]), int(item["firstCommitTimestamp"]["N"])))
        elif kind == schema.HistoryKind.START_FROM_LATEST:
            capture.started_from_latest = True
            capture.started_after = _event(item, "startedAfterCommitNum", "startedAfterOpNum")
        elif kind == schema.HistoryKind.GAP:
            capture.gaps.append((_event(item, "lastCapturedCommitNum", "lastCapturedOpNum"), item.get("reason", {}).get("S", "")))
    checkpoint = checkpoint_item(source)
    if checkpoint.get(C.STARTED_FROM, {}).get("S") == "LATEST":
        capture.started_from_latest = True
    return capture


__all__ = [
    "Batch",
    "Capture",
    "Source",
    "commit_records",
    "element_records",
    "has_records_after",
    "history_items",
    "read_capture",
    "scan_pages",
]
