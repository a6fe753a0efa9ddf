"""Turns stream events into the DynamoDB transactions that capture them. Pure: no I/O, no clock.

A batch is up to 98 record puts and one history item (keyed by the batch's first event). Batches are cut
greedily (as many events as fit by count and by bytes), across page boundaries: where a batch ends
depends only on the events from its first one on, so a writer that resumes at any batch end cuts the
batches that follow exactly as before (invariant I2, docs/exactly-once.md#i2). Three kinds of transaction carry them:

- a *data* transaction: a batch and a ConditionCheck on one of the lease's fence slots. Several are in
  flight at once, each on its own slot, so no two of them touch a shared item (DynamoDB cancels a
  transaction that touches an item another ongoing transaction holds; I3, I5);
- an *advance*: the checkpoint update alone, to the end of the batches that have all committed;
- a *self-checkpointing* transaction: a batch and the checkpoint update to its own last event, sent when
  nothing else is in flight (the serial protocol, and the short tail of a page that caught up).

Every checkpoint update is conditioned on the version it read and the lease (owner and id), so a stale or
second writer cannot move it. The history put is conditioned on the item not existing: a batch written
before (by an attempt whose response was lost, or by an invocation that died with it in flight) is not
written again, and nothing downstream of the tables sees a rewrite."""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import schema
from .contract import StartFrom
from .events import EventId, StreamEvent
from .items import Item, item_size, sized_record_item
from .schema import CheckpointAttr as C
from .schema import HistoryAttr as H
from .schema import TableNames

MAX_ACTIONS = 100
MAX_RECORDS_PER_TRANSACTION = MAX_ACTIONS - 2  # + history item + (fence check or checkpoint update)
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
# Room kept for the history item and the checkpoint update, both well under 2 KB.
RESERVED_BYTES = 8 * 1024
BATCH_BYTES = MAX_TRANSACTION_BYTES - RESERVED_BYTES
TOKEN_NAMESPACE = uuid.UUID("6f1c3f0e-3c0b-4b53-9a4c-6e2e1d1f0a77")
# The history put's condition: the batch's item must not exist yet.
HISTORY_NOT_WRITTEN = "attribute_not_exists(#pos)"
HISTORY_PUT_CONDITION: dict[str, Any] = {
    "ConditionExpression": HISTORY_NOT_WRITTEN,
    "ExpressionAttributeNames": {"#pos": schema.POSITION},
}
# Every checkpoint update's condition: only the lease holder, and only from the version it read.
LEASE_GUARD = f"{C.VERSION} = :expected AND {C.LEASE_OWNER} = :owner AND {C.LEASE_ID} = :lease"


@dataclass(frozen=True)
class Lease:
    owner: str
    expires_at_ms: int
    # Unique per acquisition: two invocations of one execution (a retry while the first still runs) are
    # different writers, and the later one fences the earlier out.
    id: str = ""


@dataclass(frozen=True)
class Checkpoint:
    stream_id: str
    position: EventId | None  # None: nothing captured yet, start at TRIM_HORIZON
    version: int
    commit_timestamp: int | None = None
    lease_owner: str | None = None
    lease_id: str | None = None
    # The capture generation (docs/reset-and-generations.md): 0 until the graph is first reset.
    generation: int = 0
    generation_started_at: int | None = None

    def after(self, txn: Transaction, owner: str) -> Checkpoint:
        """The checkpoint once `txn` has committed under `owner`'s lease."""
        if txn.checkpoint_update is None:
            return self
        return Checkpoint(
            self.stream_id,
            txn.last,
            txn.new_version,
            txn.last_commit_timestamp,
            owner,
            self.lease_id,
            self.generation,
            self.generation_started_at,
        )


@dataclass(frozen=True)
class Batch:
    """Events that go into one transaction, with their record items and the items' total size."""

    events: tuple[StreamEvent, ...]
    records: tuple[Item, ...]
    size_bytes: int
    generation: int = 0  # of every event in it: its record items and its history item are keyed with it

    @property
    def first(self) -> EventId:
        return self.events[0].event_id

    @property
    def last(self) -> EventId:
        return self.events[-1].event_id


@dataclass(frozen=True)
class Transaction:
    first: EventId | None  # None: an advance, which holds no batch
    last: EventId  # the batch's last event; for an advance, the position it moves the checkpoint to
    records: tuple[Item, ...]
    history: Item | None
    checkpoint_update: dict[str, Any] | None  # present: moves the checkpoint to `last`
    token: str
    expected_version: int
    size_bytes: int
    fence: dict[str, Any] | None = None  # present: a data transaction, checked against a fence slot
    last_commit_timestamp: int | None = None

    @property
    def new_version(self) -> int:
        return self.expected_version + (1 if self.checkpoint_update is not None else 0)

    @property
    def history_index(self) -> int | None:
        return len(self.records) if self.history is not None else None

    @property
    def guard_index(self) -> int:
        """Index of the fence check or the checkpoint update: the last action."""
        return len(self.records) + (1 if self.history is not None else 0)

    def transact_items(self, tables: TableNames) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = [{"Put": {"TableName": tables.records, "Item": r}} for r in self.records]
        if self.history is not None:
            items.append(
                {
                    "Put": {
                        "TableName": tables.history,
                        "Item": self.history,
                        **HISTORY_PUT_CONDITION,
                        # The stored batch comes back in the cancellation reason: it tells a batch
                        # written before (same events) from a batch cut differently.
                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
                    }
                }
            )
        if self.fence is not None:
            items.append({"ConditionCheck": {"TableName": tables.checkpoint, **self.fence}})
        if self.checkpoint_update is not None:
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


@dataclass
class Batcher:
    """Cuts events into batches greedily, across pages: `add` returns the batches a page closed (one is
    closed when the next event does not fit), `flush` the open tail when no more events are coming."""

    stream_id: str
    generation: int = 0
    _events: list[StreamEvent] = field(default_factory=list)
    _items: list[Item] = field(default_factory=list)
    _size: int = 0

    @property
    def open(self) -> bool:
        return bool(self._events)

    @property
    def open_events(self) -> int:
        return len(self._events)

    def add(self, events: Sequence[StreamEvent]) -> list[Batch]:
        return list(self.feed(events))

    def feed(self, events: Sequence[StreamEvent]) -> Iterator[Batch]:
        """The batches `events` close, each as soon as it is closed: a writer can send the first while
        the rest of a large page is still being cut."""
        stream_id, generation = self.stream_id, self.generation
        for event in events:
            item, item_bytes = sized_record_item(event, stream_id, generation)
            if self._items and (len(self._items) == MAX_RECORDS_PER_TRANSACTION or self._size + item_bytes > BATCH_BYTES):
                yield self._close()
            self._events.append(event)
            self._items.append(item)
            self._size += item_bytes

    def flush(self) -> Batch | None:
        return self._close() if self._events else None

    def _close(self) -> Batch:
        batch = Batch(tuple(self._events), tuple(self._items), self._size, self.generation)
        self._events, self._items, self._size = [], [], 0
        return batch


def token_for(stream_id: str, version: int, first: EventId, last: EventId, lease_id: str = "", *, generation: int = 0) -> str:
    # Same transaction, same token: a retried TransactWriteItems within 10 minutes is a no-op. The lease
    # id keeps another invocation's transaction over the same events from reusing it with other content,
    # the generation one over the same event ids of the stream after a reset.
    return str(
        uuid.uuid5(
            TOKEN_NAMESPACE, f"{stream_id}|{lease_id}|{version}|{first}|{last}" + (f"|g{generation}" if generation else "")
        )
    )


def plan(events: Sequence[StreamEvent], checkpoint: Checkpoint, context: BatchContext) -> list[Transaction]:
    return list(plan_lazily(events, checkpoint, lambda: context))


def plan_lazily(
    events: Sequence[StreamEvent], checkpoint: Checkpoint, context_now: Callable[[], BatchContext]
) -> Iterator[Transaction]:
    """The serial protocol: one self-checkpointing transaction per batch, in order, each built when the
    writer asks for it, so its history item carries the time it is written (processed-at, lag)."""
    if checkpoint.position is not None and events and events[0].event_id <= checkpoint.position:
        raise ValueError(f"event {events[0].event_id} is not after the checkpoint {checkpoint.position}")
    version = checkpoint.version
    batcher = Batcher(checkpoint.stream_id, checkpoint.generation)
    batches = batcher.add(events)
    tail = batcher.flush()
    for batch in [*batches, *([tail] if tail else [])]:
        yield self_checkpointing(batch, version, context_now())
        version += 1


def data_transaction(batch: Batch, slot: int, context: BatchContext) -> Transaction:
    """A batch checked against the lease's fence slot `slot`: sent while other transactions are in flight."""
    history = history_item(batch.events, context, batch.generation)
    kind = f"data|{slot}" + (f"|g{batch.generation}" if batch.generation else "")
    return Transaction(
        first=batch.first,
        last=batch.last,
        records=batch.records,
        history=history,
        checkpoint_update=None,
        token=_token(context, kind, batch.first, batch.last),
        expected_version=0,
        size_bytes=batch.size_bytes + item_size(history),
        fence=fence_check(context.stream_id, slot, context.lease),
        last_commit_timestamp=batch.events[-1].commit_timestamp,
    )


def self_checkpointing(batch: Batch, expected_version: int, context: BatchContext) -> Transaction:
    """A batch and the checkpoint update to its own last event: everything before it has committed."""
    history = history_item(batch.events, context, batch.generation)
    last_event = batch.events[-1]
    return Transaction(
        first=batch.first,
        last=batch.last,
        records=batch.records,
        history=history,
        checkpoint_update=checkpoint_update(context, expected_version, batch.last, last_event.commit_timestamp, batch.generation),
        token=token_for(
            context.stream_id, expected_version, batch.first, batch.last, context.lease.id, generation=batch.generation
        ),
        expected_version=expected_version,
        size_bytes=batch.size_bytes + item_size(history),
        last_commit_timestamp=last_event.commit_timestamp,
    )


def advance(to: EventId, commit_timestamp: int, expected_version: int, context: BatchContext, generation: int = 0) -> Transaction:
    """The checkpoint alone, moved to `to`: every batch up to it has committed."""
    return Transaction(
        first=None,
        last=to,
        records=(),
        history=None,
        checkpoint_update=checkpoint_update(context, expected_version, to, commit_timestamp, generation),
        token=_token(context, f"advance|{expected_version}", to, to),
        expected_version=expected_version,
        size_bytes=0,
        last_commit_timestamp=commit_timestamp,
    )


def _token(context: BatchContext, kind: str, first: EventId, last: EventId) -> str:
    return str(uuid.uuid5(TOKEN_NAMESPACE, f"{context.stream_id}|{context.lease.id}|{kind}|{first}|{last}"))


def fence_key(stream_id: str, slot: int) -> dict[str, Any]:
    """A fence slot: an item of the checkpoint table beside the stream's checkpoint item."""
    return {schema.STREAM_ID: {"S": schema.fence_id(stream_id, slot)}}


def fence_item(stream_id: str, slot: int, lease: Lease) -> Item:
    return {**fence_key(stream_id, slot), C.LEASE_OWNER: {"S": lease.owner}, C.LEASE_ID: {"S": lease.id}}


def fence_check(stream_id: str, slot: int, lease: Lease) -> dict[str, Any]:
    return {
        "Key": fence_key(stream_id, slot),
        "ConditionExpression": f"{C.LEASE_ID} = :lease",
        "ExpressionAttributeValues": {":lease": {"S": lease.id}},
    }


def history_item(events: Sequence[StreamEvent], context: BatchContext, generation: int = 0) -> Item:
    first, last = events[0], events[-1]
    by_op = Counter(e.op for e in events)
    by_type = Counter(e.type for e in events)
    item: Item = {
        schema.STREAM_ID: {"S": context.stream_id},
        schema.POSITION: {"S": schema.position(first.event_id.commit_num, first.event_id.op_num, generation)},
        schema.KIND: {"S": schema.HistoryKind.BATCH},
        schema.GENERATION: {"N": str(generation)},
        H.FIRST_COMMIT_NUM: {"N": str(first.event_id.commit_num)},
        H.FIRST_OP_NUM: {"N": str(first.event_id.op_num)},
        H.LAST_COMMIT_NUM: {"N": str(last.event_id.commit_num)},
        H.LAST_OP_NUM: {"N": str(last.event_id.op_num)},
        H.LAST_POSITION: {"S": schema.position(last.event_id.commit_num, last.event_id.op_num, generation)},
        H.RECORD_COUNT: {"N": str(len(events))},
        H.COUNTS_BY_OP: {"M": {k: {"N": str(v)} for k, v in sorted(by_op.items())}},
        H.COUNTS_BY_TYPE: {"M": {k: {"N": str(v)} for k, v in sorted(by_type.items())}},
        H.FIRST_COMMIT_TIMESTAMP: {"N": str(first.commit_timestamp)},
        H.LAST_COMMIT_TIMESTAMP: {"N": str(last.commit_timestamp)},
        # When the batch was first written: a batch is never written twice, so this never changes.
        H.PROCESSED_AT: {"N": str(context.now_ms)},
        # Commit-to-capture lag of the batch's newest change.
        H.LAG_MS: {"N": str(max(0, context.now_ms - last.commit_timestamp))},
    }
    if context.last_trx_timestamp is not None:
        item[H.LAST_TRX_TIMESTAMP] = {"N": str(context.last_trx_timestamp)}
    if context.execution_id:
        item[H.EXECUTION_ID] = {"S": context.execution_id}
    return item


def same_batch(stored: Item, history: Item) -> bool:
    """Whether a stored history item holds the same events as `history` (the same first, last, count)."""
    return all(stored.get(k) == history.get(k) for k in (schema.POSITION, H.LAST_POSITION, H.RECORD_COUNT))


def _guarded_values(context: BatchContext, expected_version: int) -> dict[str, Any]:
    """The values of LEASE_GUARD, of the version an update moves the checkpoint to, and of the time it does."""
    return {
        ":next": {"N": str(expected_version + 1)},
        ":expected": {"N": str(expected_version)},
        ":owner": {"S": context.lease.owner},
        ":lease": {"S": context.lease.id},
        ":now": {"N": str(context.now_ms)},
    }


def checkpoint_update(
    context: BatchContext, expected_version: int, last: EventId, commit_timestamp: int, generation: int = 0
) -> dict[str, Any]:
    return {
        "Key": {schema.STREAM_ID: {"S": context.stream_id}},
        "UpdateExpression": (
            f"SET {C.COMMIT_NUM} = :c, {C.OP_NUM} = :o, #pos = :p, {C.COMMIT_TIMESTAMP} = :t, {C.VERSION} = :next, "
            f"{C.UPDATED_AT} = :now, {C.LEASE_EXPIRES_AT} = :exp"
        ),
        # Fenced: only the lease holder, and only from the version it read, may advance the checkpoint.
        "ConditionExpression": LEASE_GUARD,
        "ExpressionAttributeNames": {"#pos": schema.POSITION},
        "ExpressionAttributeValues": {
            ":c": {"N": str(last.commit_num)},
            ":o": {"N": str(last.op_num)},
            ":p": {"S": schema.position(last.commit_num, last.op_num, generation)},
            ":t": {"N": str(commit_timestamp)},
            **_guarded_values(context, expected_version),
            ":exp": {"N": str(context.lease.expires_at_ms)},
        },
        "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
    }


def gap_items(checkpoint: Checkpoint, context: BatchContext, reason: str) -> tuple[Item, dict[str, Any]]:
    """The operator's explicit choice after an expired checkpoint: a GAP entry in the history, and the
    checkpoint cleared so reading resumes at TRIM_HORIZON. Records between are gone from Neptune."""
    after, generation = checkpoint.position, checkpoint.generation
    position = schema.position(after.commit_num, after.op_num, generation) if after else schema.position(0, 0, generation)
    history: Item = {
        schema.STREAM_ID: {"S": context.stream_id},
        schema.POSITION: {"S": position + "#gap"},
        schema.KIND: {"S": schema.HistoryKind.GAP},
        schema.GENERATION: {"N": str(generation)},
        H.REASON: {"S": reason},
        H.PROCESSED_AT: {"N": str(context.now_ms)},
    }
    if after is not None:
        history[H.LAST_CAPTURED_COMMIT_NUM] = {"N": str(after.commit_num)}
        history[H.LAST_CAPTURED_OP_NUM] = {"N": str(after.op_num)}
    if context.execution_id:
        history[H.EXECUTION_ID] = {"S": context.execution_id}
    update = {
        "Key": {schema.STREAM_ID: {"S": context.stream_id}},
        "UpdateExpression": (
            f"REMOVE {C.COMMIT_NUM}, {C.OP_NUM}, #pos, {C.COMMIT_TIMESTAMP} "
            f"SET {C.VERSION} = :next, {C.UPDATED_AT} = :now, {C.GAP_AT} = :now"
        ),
        "ConditionExpression": LEASE_GUARD,
        "ExpressionAttributeNames": {"#pos": schema.POSITION},
        "ExpressionAttributeValues": _guarded_values(context, checkpoint.version),
    }
    return history, update


def start_items(checkpoint: Checkpoint, context: BatchContext, latest: StreamEvent | None) -> tuple[Item, dict[str, Any]]:
    """A first capture that begins from LATEST: a START_FROM_LATEST entry in the history naming the record
    it starts after (None: the stream was empty, so nothing is skipped), and the checkpoint moved onto that
    record, so reading resumes right after it. Only a checkpoint that never moved (version 0) is started."""
    after = latest.event_id if latest else None
    # Only a checkpoint that never moved is started, so this is always generation 0.
    at = schema.position(after.commit_num, after.op_num, 0) if after else schema.position(0, 0, 0)
    history: Item = {
        schema.STREAM_ID: {"S": context.stream_id},
        schema.POSITION: {"S": at + "#start"},
        schema.KIND: {"S": schema.HistoryKind.START_FROM_LATEST},
        H.REASON: {
            "S": f"capture began from LATEST: the changes up to and including event {after} are not captured"
            if after
            else "capture began from LATEST on an empty stream: nothing was skipped"
        },
        H.PROCESSED_AT: {"N": str(context.now_ms)},
    }
    values: dict[str, Any] = {**_guarded_values(context, checkpoint.version), ":from": {"S": StartFrom.LATEST.value}}
    assignments = f"{C.VERSION} = :next, {C.UPDATED_AT} = :now, {C.STARTED_FROM} = :from, {C.STARTED_AT} = :now"
    names: dict[str, str] = {}
    if latest is not None:
        after = latest.event_id
        history[H.STARTED_AFTER_COMMIT_NUM] = {"N": str(after.commit_num)}
        history[H.STARTED_AFTER_OP_NUM] = {"N": str(after.op_num)}
        history[H.STARTED_AFTER_COMMIT_TIMESTAMP] = {"N": str(latest.commit_timestamp)}
        # The docs do not say that LATEST's record ends its transaction: whether it did is kept, as read.
        history[H.STARTED_AFTER_IS_LAST_OP] = {"BOOL": latest.is_last_op}
        # startedAfter stays on the item once the checkpoint moves on: `status` shows where capture began.
        assignments += f", {C.COMMIT_NUM} = :c, {C.OP_NUM} = :o, #pos = :p, {C.COMMIT_TIMESTAMP} = :t, {C.STARTED_AFTER} = :p"
        names["#pos"] = schema.POSITION
        values |= {
            ":c": {"N": str(after.commit_num)},
            ":o": {"N": str(after.op_num)},
            ":p": {"S": schema.position(after.commit_num, after.op_num, 0)},
            ":t": {"N": str(latest.commit_timestamp)},
        }
    if context.execution_id:
        history[H.EXECUTION_ID] = {"S": context.execution_id}
    update: dict[str, Any] = {
        "Key": {schema.STREAM_ID: {"S": context.stream_id}},
        "UpdateExpression": "SET " + assignments,
        # Fenced like every checkpoint update: only this lease's holder, from the version it read.
        "ConditionExpression": LEASE_GUARD,
        "ExpressionAttributeValues": values,
    }
    if names:
        update["ExpressionAttributeNames"] = names
    return history, update


# A generation opened outside any lease (the project's reset, capture stopped): only from the version read,
# and only while nobody holds the lease.
UNLEASED_GUARD = f"{C.VERSION} = :expected AND attribute_not_exists({C.LEASE_OWNER})"


def _unleased_guard(version: int) -> str:
    # Version 0 is also a stream never captured: no checkpoint item, or one without a version yet.
    if version == 0:
        return f"(attribute_not_exists({C.VERSION}) OR {C.VERSION} = :expected) AND attribute_not_exists({C.LEASE_OWNER})"
    return UNLEASED_GUARD


def generation_items(
    checkpoint: Checkpoint, reason: schema.GenerationReason, now_ms: int, detail: str, context: BatchContext | None
) -> tuple[Item, dict[str, Any]]:
    """Generation N+1 begins: its first history item (RESET, naming where generation N's capture ended and
    why), and the checkpoint cleared into the new generation, so reading resumes at TRIM_HORIZON of the new
    stream. `context` is the lease holder's (the handler that detected the restart); None for the project's
    reset, which opens it with capture stopped. Either way the version moves on: any writer still holding a
    checkpoint of generation N is fenced by its next update."""
    new = checkpoint.generation + 1
    history: Item = {
        schema.STREAM_ID: {"S": checkpoint.stream_id},
        schema.POSITION: {"S": schema.position(0, 0, new) + "#reset"},
        schema.KIND: {"S": schema.HistoryKind.RESET},
        schema.GENERATION: {"N": str(new)},
        H.PREVIOUS_GENERATION: {"N": str(checkpoint.generation)},
        H.REASON: {"S": str(reason)},
        H.DETAIL: {"S": detail},
        H.PROCESSED_AT: {"N": str(now_ms)},
    }
    if checkpoint.position is not None:
        previous = checkpoint.position
        history[H.LAST_CAPTURED_COMMIT_NUM] = {"N": str(previous.commit_num)}
        history[H.LAST_CAPTURED_OP_NUM] = {"N": str(previous.op_num)}
        history[H.LAST_CAPTURED_POSITION] = {"S": schema.position(previous.commit_num, previous.op_num, checkpoint.generation)}
    if context is not None and context.execution_id:
        history[H.EXECUTION_ID] = {"S": context.execution_id}
    values: dict[str, Any] = {
        ":next": {"N": str(checkpoint.version + 1)},
        ":expected": {"N": str(checkpoint.version)},
        ":now": {"N": str(now_ms)},
        ":gen": {"N": str(new)},
        ":why": {"S": str(reason)},
    }
    if context is not None:
        values |= _guarded_values(context, checkpoint.version) | {":now": {"N": str(now_ms)}}
    update: dict[str, Any] = {
        "Key": {schema.STREAM_ID: {"S": checkpoint.stream_id}},
        "UpdateExpression": (
            f"REMOVE {C.COMMIT_NUM}, {C.OP_NUM}, #pos, {C.COMMIT_TIMESTAMP} "
            f"SET {C.VERSION} = :next, {C.UPDATED_AT} = :now, {C.GENERATION} = :gen, "
            f"{C.GENERATION_STARTED_AT} = :now, {C.GENERATION_REASON} = :why"
        ),
        "ConditionExpression": LEASE_GUARD if context is not None else _unleased_guard(checkpoint.version),
        "ExpressionAttributeNames": {"#pos": schema.POSITION},
        "ExpressionAttributeValues": values,
    }
    return history, update
