"""Turns a page of events into the DynamoDB transactions that capture it. Pure: no I/O, no clock.

Each transaction holds up to 98 record puts, one history item and the checkpoint update, which is
conditioned on the version and lease the writer holds. A page larger than one transaction becomes several,
in order, each advancing the checkpoint to its own last event, so a crash between them loses nothing and
duplicates nothing: the next run resumes after the last committed one."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from . import schema
from .contract import StartFrom
from .events import EventId, StreamEvent
from .items import Item, item_size, sized_record_item
from .schema import TableNames

MAX_ACTIONS = 100
MAX_RECORDS_PER_TRANSACTION = MAX_ACTIONS - 2  # + history item + checkpoint update
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
# Room kept for the history item and the checkpoint update, both well under 2 KB.
RESERVED_BYTES = 8 * 1024
TOKEN_NAMESPACE = uuid.UUID("6f1c3f0e-3c0b-4b53-9a4c-6e2e1d1f0a77")


@dataclass(frozen=True)
class Lease:
    owner: str
    expires_at_ms: int


@dataclass(frozen=True)
class Checkpoint:
    stream_id: str
    position: EventId | None  # None: nothing captured yet, start at TRIM_HORIZON
    version: int
    commit_timestamp: int | None = None
    lease_owner: str | None = None

    def after(self, txn: Transaction, owner: str) -> Checkpoint:
        """The checkpoint once `txn` has committed under `owner`'s lease."""
        return Checkpoint(self.stream_id, txn.last, txn.new_version, None, owner)


@dataclass(frozen=True)
class Transaction:
    first: EventId
    last: EventId
    records: tuple[Item, ...]
    history: Item
    checkpoint_update: dict[str, Any]
    token: str
    expected_version: int
    size_bytes: int

    @property
    def new_version(self) -> int:
        return self.expected_version + 1

    def transact_items(self, tables: TableNames) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = [{"Put": {"TableName": tables.records, "Item": r}} for r in self.records]
        items.append({"Put": {"TableName": tables.history, "Item": self.history}})
        items.append({"Update": {"TableName": tables.checkpoint, **self.checkpoint_update}})
        return items


@dataclass(frozen=True)
class BatchContext:
    """What a writer knows when it plans: whose lease, what time, and the page's commit horizon."""

    stream_id: str
    lease: Lease
    now_ms: int
    last_trx_timestamp: int | None
    execution_id: str | None = None


def split(events: Sequence[StreamEvent], stream_id: str) -> list[tuple[list[StreamEvent], list[Item], int]]:
    """Groups events, in order, into batches that fit one transaction by count and by bytes."""
    batches: list[tuple[list[StreamEvent], list[Item], int]] = []
    current_events: list[StreamEvent] = []
    current_items: list[Item] = []
    size = 0
    budget = MAX_TRANSACTION_BYTES - RESERVED_BYTES
    for event in events:
        item, item_bytes = sized_record_item(event, stream_id)
        if current_items and (len(current_items) == MAX_RECORDS_PER_TRANSACTION or size + item_bytes > budget):
            batches.append((current_events, current_items, size))
            current_events, current_items, size = [], [], 0
        current_events.append(event)
        current_items.append(item)
        size += item_bytes
    if current_items:
        batches.append((current_events, current_items, size))
    return batches


def token_for(stream_id: str, version: int, first: EventId, last: EventId) -> str:
    # Same transaction, same token: a retried TransactWriteItems within 10 minutes is a no-op.
    return str(uuid.uuid5(TOKEN_NAMESPACE, f"{stream_id}|{version}|{first}|{last}"))


def plan(events: Sequence[StreamEvent], checkpoint: Checkpoint, context: BatchContext) -> list[Transaction]:
    return list(plan_lazily(events, checkpoint, lambda: context))


def plan_lazily(
    events: Sequence[StreamEvent], checkpoint: Checkpoint, context_now: Callable[[], BatchContext]
) -> Iterator[Transaction]:
    """The same transactions, each built when the writer asks for it, so its history item carries the
    time it is written (processed-at, lag), not the time the page arrived."""
    if checkpoint.position is not None and events and events[0].event_id <= checkpoint.position:
        raise ValueError(f"event {events[0].event_id} is not after the checkpoint {checkpoint.position}")
    version = checkpoint.version
    for batch_events, records, size in split(events, checkpoint.stream_id):
        context = context_now()
        first, last = batch_events[0].event_id, batch_events[-1].event_id
        last_event = batch_events[-1]
        history = history_item(batch_events, context)
        update = checkpoint_update(context, version, last, last_event.commit_timestamp)
        yield Transaction(
            first=first,
            last=last,
            records=tuple(records),
            history=history,
            checkpoint_update=update,
            token=token_for(context.stream_id, version, first, last),
            expected_version=version,
            size_bytes=size + item_size(history),
        )
        version += 1


def history_item(events: Sequence[StreamEvent], context: BatchContext) -> Item:
    first, last = events[0], events[-1]
    by_op = Counter(e.op for e in events)
    by_type = Counter(e.type for e in events)
    item: Item = {
        schema.STREAM_ID: {"S": context.stream_id},
        schema.POSITION: {"S": schema.position(first.event_id.commit_num, first.event_id.op_num)},
        schema.KIND: {"S": schema.HistoryKind.BATCH},
        "firstCommitNum": {"N": str(first.event_id.commit_num)},
        "firstOpNum": {"N": str(first.event_id.op_num)},
        "lastCommitNum": {"N": str(last.event_id.commit_num)},
        "lastOpNum": {"N": str(last.event_id.op_num)},
        "lastPosition": {"S": schema.position(last.event_id.commit_num, last.event_id.op_num)},
        "recordCount": {"N": str(len(events))},
        "countsByOp": {"M": {k: {"N": str(v)} for k, v in sorted(by_op.items())}},
        "countsByType": {"M": {k: {"N": str(v)} for k, v in sorted(by_type.items())}},
        "firstCommitTimestamp": {"N": str(first.commit_timestamp)},
        "lastCommitTimestamp": {"N": str(last.commit_timestamp)},
        "processedAt": {"N": str(context.now_ms)},
        # Commit-to-capture lag of the batch's newest change.
        "lagMs": {"N": str(max(0, context.now_ms - last.commit_timestamp))},
    }
    if context.last_trx_timestamp is not None:
        item["lastTrxTimestamp"] = {"N": str(context.last_trx_timestamp)}
    if context.execution_id:
        item["executionId"] = {"S": context.execution_id}
    return item


def checkpoint_update(context: BatchContext, expected_version: int, last: EventId, commit_timestamp: int) -> dict[str, Any]:
    return {
        "Key": {schema.STREAM_ID: {"S": context.stream_id}},
        "UpdateExpression": (
            "SET commitNum = :c, opNum = :o, #pos = :p, commitTimestamp = :t, version = :next, "
            "updatedAt = :now, leaseExpiresAt = :exp"
        ),
        # Fenced: only the lease holder, and only from the version it read, may advance the checkpoint.
        "ConditionExpression": "version = :expected AND leaseOwner = :owner",
        "ExpressionAttributeNames": {"#pos": schema.POSITION},
        "ExpressionAttributeValues": {
            ":c": {"N": str(last.commit_num)},
            ":o": {"N": str(last.op_num)},
            ":p": {"S": schema.position(last.commit_num, last.op_num)},
            ":t": {"N": str(commit_timestamp)},
            ":next": {"N": str(expected_version + 1)},
            ":expected": {"N": str(expected_version)},
            ":owner": {"S": context.lease.owner},
            ":now": {"N": str(context.now_ms)},
            ":exp": {"N": str(context.lease.expires_at_ms)},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def gap_items(checkpoint: Checkpoint, context: BatchContext, reason: str) -> tuple[Item, dict[str, Any]]:
    """The operator's explicit choice after an expired checkpoint: a GAP entry in the history, and the
    checkpoint cleared so reading resumes at TRIM_HORIZON. Records between are gone from Neptune."""
    after = checkpoint.position
    position = schema.position(after.commit_num, after.op_num) if after else schema.position(0, 0)
    history: Item = {
        schema.STREAM_ID: {"S": context.stream_id},
        schema.POSITION: {"S": position + "#gap"},
        schema.KIND: {"S": schema.HistoryKind.GAP},
        "reason": {"S": reason},
        "processedAt": {"N": str(context.now_ms)},
    }
    if after is not None:
        history["lastCapturedCommitNum"] = {"N": str(after.commit_num)}
        history["lastCapturedOpNum"] = {"N": str(after.op_num)}
    if context.execution_id:
        history["executionId"] = {"S": context.execution_id}
    update = {
        "Key": {schema.STREAM_ID: {"S": context.stream_id}},
        "UpdateExpression": "REMOVE commitNum, opNum, #pos, commitTimestamp SET version = :next, updatedAt = :now, gapAt = :now",
        "ConditionExpression": "version = :expected AND leaseOwner = :owner",
        "ExpressionAttributeNames": {"#pos": schema.POSITION},
        "ExpressionAttributeValues": {
            ":next": {"N": str(checkpoint.version + 1)},
            ":expected": {"N": str(checkpoint.version)},
            ":owner": {"S": context.lease.owner},
            ":now": {"N": str(context.now_ms)},
        },
    }
    return history, update


def start_items(checkpoint: Checkpoint, context: BatchContext, latest: StreamEvent | None) -> tuple[Item, dict[str, Any]]:
    """A first capture that begins from LATEST: a START_FROM_LATEST entry in the history naming the record
    it starts after (None: the stream was empty, so nothing is skipped), and the checkpoint moved onto that
    record, so reading resumes right after it. Only a checkpoint that never moved (version 0) is started."""
    after = latest.event_id if latest else None
    history: Item = {
        schema.STREAM_ID: {"S": context.stream_id},
        schema.POSITION: {"S": (schema.position(after.commit_num, after.op_num) if after else schema.position(0, 0)) + "#start"},
        schema.KIND: {"S": schema.HistoryKind.START_FROM_LATEST},
        "reason": {
            "S": f"capture began from LATEST: the changes up to and including event {after} are not captured"
            if after
            else "capture began from LATEST on an empty stream: nothing was skipped"
        },
        "processedAt": {"N": str(context.now_ms)},
    }
    values: dict[str, Any] = {
        ":next": {"N": str(checkpoint.version + 1)},
        ":expected": {"N": str(checkpoint.version)},
        ":owner": {"S": context.lease.owner},
        ":now": {"N": str(context.now_ms)},
        ":from": {"S": StartFrom.LATEST.value},
    }
    assignments = "version = :next, updatedAt = :now, startedFrom = :from, startedAt = :now"
    names: dict[str, str] = {}
    if latest is not None:
        after = latest.event_id
        history["startedAfterCommitNum"] = {"N": str(after.commit_num)}
        history["startedAfterOpNum"] = {"N": str(after.op_num)}
        history["startedAfterCommitTimestamp"] = {"N": str(latest.commit_timestamp)}
        # startedAfter stays on the item once the checkpoint moves on: `status` shows where capture began.
        assignments += ", commitNum = :c, opNum = :o, #pos = :p, commitTimestamp = :t, startedAfter = :p"
        names["#pos"] = schema.POSITION
        values |= {
            ":c": {"N": str(after.commit_num)},
            ":o": {"N": str(after.op_num)},
            ":p": {"S": schema.position(after.commit_num, after.op_num)},
            ":t": {"N": str(latest.commit_timestamp)},
        }
    if context.execution_id:
        history["executionId"] = {"S": context.execution_id}
    update: dict[str, Any] = {
        "Key": {schema.STREAM_ID: {"S": context.stream_id}},
        "UpdateExpression": "SET " + assignments,
        "ConditionExpression": "version = :expected AND leaseOwner = :owner",
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return history, update
