"""DynamoDB side: the checkpoint lease and its fence slots, fenced transactions and their retries.

Every write is one TransactWriteItems guarded by the lease: a checkpoint update conditioned on (version,
lease owner, lease id), or a ConditionCheck on one of the lease's fence slots. TransactionCanceledException
is read reason by reason: a failed guard means another poller holds the stream (fenced: stop), a failed
history condition means the batch was written before (not written again); conflicts and throttling are
retried with the same ClientRequestToken, which makes a retry of an already-applied transaction a no-op
(invariants I6, I7 and I8, docs/exactly-once.md).
Reasons are listed per action, in request order, "None" for an action without error:
https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar, cast

from botocore.exceptions import BotoCoreError, ClientError

from . import metrics as m
from . import schema
from .backoff import RetryPolicy
from .clock import Clock
from .errors import FencedError, HistoryConflictError, TransientCaptureError
from .events import EventId, StreamEvent
from .metrics import MetricsSink
from .plan import (
    HISTORY_PUT_CONDITION,
    BatchContext,
    Checkpoint,
    Lease,
    Transaction,
    fence_item,
    gap_items,
    generation_items,
    same_batch,
    start_items,
)
from .ports import Outcome
from .schema import CheckpointAttr as C
from .schema import HistoryAttr as H
from .schema import TableNames
from .settings import MAX_IN_FLIGHT

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

log = logging.getLogger(__name__)
T = TypeVar("T")

RETRYABLE_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
        "TransactionInProgressException",
        "TransactionConflictException",
        "LimitExceededException",
    }
)
RETRYABLE_REASONS = frozenset({"TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded", "RequestLimitExceeded"})
NO_PARENT = "-"
CONDITION_FAILED = "ConditionalCheckFailed"


def checkpoint_from_item(stream_id: str, item: dict[str, Any] | None) -> Checkpoint:
    if not item:
        return Checkpoint(stream_id=stream_id, position=None, version=0)
    position = None
    if C.COMMIT_NUM in item and C.OP_NUM in item:
        position = EventId(int(item[C.COMMIT_NUM]["N"]), int(item[C.OP_NUM]["N"]))
    return Checkpoint(
        stream_id=stream_id,
        position=position,
        version=int(item.get(C.VERSION, {"N": "0"})["N"]),
        commit_timestamp=int(item[C.COMMIT_TIMESTAMP]["N"]) if C.COMMIT_TIMESTAMP in item else None,
        lease_owner=item.get(C.LEASE_OWNER, {}).get("S"),
        lease_id=item.get(C.LEASE_ID, {}).get("S"),
        generation=int(item.get(C.GENERATION, {"N": "0"})["N"]),
        generation_started_at=int(item[C.GENERATION_STARTED_AT]["N"]) if C.GENERATION_STARTED_AT in item else None,
    )


class DynamoStore:
    def __init__(
        self,
        client: DynamoDBClient,
        tables: TableNames,
        stream_id: str,
        *,
        clock: Clock,
        metrics: MetricsSink,
        retry: RetryPolicy | None = None,
        lease_ids: Callable[[], str] = lambda: uuid.uuid4().hex,
    ) -> None:
        self.client, self.tables, self.stream_id, self.clock, self.metrics = client, tables, stream_id, clock, metrics
        self.retry = retry or RetryPolicy()
        self.lease_ids = lease_ids

    @property
    def key(self) -> dict[str, Any]:
        return {schema.STREAM_ID: {"S": self.stream_id}}

    def read_checkpoint(self) -> Checkpoint:
        response = self._call(lambda: self.client.get_item(TableName=self.tables.checkpoint, Key=self.key, ConsistentRead=True))
        return checkpoint_from_item(self.stream_id, response.get("Item"))

    def acquire_lease(
        self, owner: str, parent: str | None, ttl_ms: int, *, force: bool = False, take_over_from: str | None = None
    ) -> tuple[Checkpoint, Lease]:
        """Takes the stream for `owner` if nobody holds it, it holds it already, its parent execution
        (continue-as-new) holds it, the holder's lease ran out, or the holder is `take_over_from` (an
        execution the state machine found not running). Raises FencedError naming the holder otherwise.
        Each alternative is part of one conditional update: if someone else took the lease meanwhile,
        the condition fails and this owner is fenced, whatever it was told about the holder before.

        The lease gets a fresh id, then every fence slot is rewritten with it: from then on a data
        transaction of any earlier holder (or an earlier invocation of the same execution) fails its fence
        check. Two steps, not one transaction: an earlier writer still sending a backlog keeps up to
        `inFlight` data transactions in flight, each on a fence slot, and DynamoDB cancels a transaction
        that touches an item of another one in progress
        (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling),
        so a take-over naming every slot would be cancelled again and again while that writer goes on. The
        lease update touches the checkpoint item alone; the earlier writer's next checkpoint update then
        fails its lease condition and it stops, and the fences follow. A data transaction of its that lands
        in between holds a batch cut greedily from a checkpoint, which the new holder cuts the same way and
        finds stored; its short tail batch travels with a checkpoint update, which fails."""
        now = self.clock.now_ms()
        lease = Lease(owner=owner, expires_at_ms=now + ttl_ms, id=self.lease_ids())
        request: dict[str, Any] = {
            "TableName": self.tables.checkpoint,
            "Key": self.key,
            "UpdateExpression": f"SET {C.LEASE_OWNER} = :me, {C.LEASE_ID} = :lease, {C.LEASE_EXPIRES_AT} = :exp, "
            f"{C.LEASE_ACQUIRED_AT} = :now, {C.VERSION} = if_not_exists({C.VERSION}, :zero)",
            "ExpressionAttributeValues": {
                ":me": {"S": owner},
                ":lease": {"S": lease.id},
                ":exp": {"N": str(lease.expires_at_ms)},
                ":now": {"N": str(now)},
                ":zero": {"N": "0"},
            },
            "ReturnValues": "ALL_NEW",
        }
        if not force:
            # Not an execution whose lease `stop` released: an invocation of it already under way when it was
            # stopped would otherwise find the lease free and take it again (the StopExecution page does not
            # say an invocation under way is stopped, and the local run shows one going on:
            # https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html).
            request["ConditionExpression"] = (
                f"(attribute_not_exists({C.LEASE_OWNER}) OR {C.LEASE_OWNER} = :me OR {C.LEASE_OWNER} = :parent "
                f"OR {C.LEASE_OWNER} = :dead OR {C.LEASE_EXPIRES_AT} < :now) "
                f"AND NOT ({C.LEASE_RELEASED_FROM} = :me)"
            )
            request["ExpressionAttributeValues"][":parent"] = {"S": parent or NO_PARENT}
            request["ExpressionAttributeValues"][":dead"] = {"S": take_over_from or NO_PARENT}
        try:
            response = self._call(lambda: self.client.update_item(**request))
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                self.metrics.add(m.FENCED, 1)
                holder = self.read_checkpoint().lease_owner
                log.warning("fenced: stream %s is leased to %s; %s stops", self.stream_id, holder, owner)
                raise FencedError(f"stream {self.stream_id} is leased to {holder}; {owner} stops", holder=holder) from error
            raise
        self._write_fences(lease)
        return checkpoint_from_item(self.stream_id, response["Attributes"]), lease

    def _write_fences(self, lease: Lease) -> None:
        # Only while the lease is still ours: a poller that took it over meanwhile keeps its own fences.
        items = [
            *self._fence_puts(lease),
            {
                "ConditionCheck": {
                    "TableName": self.tables.checkpoint,
                    "Key": self.key,
                    "ConditionExpression": f"{C.LEASE_ID} = :lease",
                    "ExpressionAttributeValues": {":lease": {"S": lease.id}},
                }
            },
        ]
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"fences|{self.stream_id}|{lease.id}"))
        try:
            self._transact(items, token)
        except ClientError as error:
            if CONDITION_FAILED in _reasons(error):
                self.metrics.add(m.FENCED, 1)
                holder = self.read_checkpoint().lease_owner
                raise FencedError(
                    f"the lease of stream {self.stream_id} was taken over by {holder} while {lease.owner} took it",
                    holder=holder,
                ) from error
            raise

    def release_lease(self, owner: str) -> bool:
        """Gives the lease up if `owner` still holds it (a stopped execution), so a new one can start at
        once. The owner is removed, not just expired, and the lease id replaced by one no writer holds;
        then every fence slot is rewritten with that id, in two steps for the reason acquire_lease gives:
        an invocation of the stopped execution still running fails its next checkpoint update at once and
        its next data transaction once the fences follow, instead of going on writing."""
        released = Lease(owner=owner, expires_at_ms=0, id=f"released-{self.lease_ids()}")
        request: dict[str, Any] = {
            "TableName": self.tables.checkpoint,
            "Key": self.key,
            "UpdateExpression": f"REMOVE {C.LEASE_OWNER}, {C.LEASE_EXPIRES_AT} "
            f"SET {C.LEASE_ID} = :released, {C.LEASE_RELEASED_FROM} = :owner",
            "ConditionExpression": f"{C.LEASE_OWNER} = :owner",
            "ExpressionAttributeValues": {":owner": {"S": owner}, ":released": {"S": released.id}},
        }
        try:
            self._call(lambda: self.client.update_item(**request))
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        with contextlib.suppress(FencedError):  # taken meanwhile: the new holder wrote its own fences
            self._write_fences(released)
        return True

    def _fence_puts(self, lease: Lease) -> list[dict[str, Any]]:
        # Every slot, whatever this poller's in_flight: an earlier holder may have used more of them.
        return [
            {"Put": {"TableName": self.tables.checkpoint, "Item": fence_item(self.stream_id, slot, lease)}}
            for slot in range(MAX_IN_FLIGHT)
        ]

    def write(self, txn: Transaction, lease: Lease) -> Outcome:
        """Commits `txn` (retrying what DynamoDB says to retry); ALREADY_STORED when its batch was in the
        tables already. Raises FencedError when the lease no longer guards it."""
        try:
            self._transact(txn.transact_items(self.tables), txn.token)
            return Outcome.WRITTEN
        except ClientError as error:
            reasons = cast("list[dict[str, Any]]", error.response.get("CancellationReasons", []))
            failed = {i for i, r in enumerate(reasons) if r.get("Code") == CONDITION_FAILED}
            if not failed:
                raise
            return self._resolve(txn, lease, reasons, failed, error)

    def _resolve(
        self, txn: Transaction, lease: Lease, reasons: list[dict[str, Any]], failed: set[int], error: ClientError
    ) -> Outcome:
        if txn.guard_index in failed:
            if txn.checkpoint_update is not None and self._already_applied(lease, txn.new_version, txn.last):
                log.info("transaction %s had already committed (its response was lost): not written again", txn.token)
                return Outcome.WRITTEN
            self._fenced(lease, error)
        history = txn.history_index
        if history is None or txn.history is None or history not in failed:
            raise error  # a condition this store does not set failed: nothing to decide on
        stored = reasons[history].get("Item")
        if stored is None or not same_batch(stored, txn.history):
            raise HistoryConflictError(_conflict_message(txn, stored)) from error
        log.info("events %s..%s were captured before (history item present): not written again", txn.first, txn.last)
        return Outcome.ALREADY_STORED

    def _fenced(self, lease: Lease, error: Exception) -> NoReturn:
        self.metrics.add(m.FENCED, 1)
        log.warning(
            "fenced: checkpoint of stream %s moved or its lease is no longer %s; this poller stops", self.stream_id, lease.owner
        )
        raise FencedError(
            f"checkpoint of stream {self.stream_id} moved or its lease is no longer {lease.owner}: this poller stops"
        ) from error

    def record_gap(self, checkpoint: Checkpoint, context: BatchContext, reason: str) -> Checkpoint:
        history, update = gap_items(checkpoint, context, reason)
        items = [
            # Never over an earlier entry: a history item, once written, stays as it was.
            {"Put": {"TableName": self.tables.history, "Item": history, **HISTORY_PUT_CONDITION}},
            {"Update": {"TableName": self.tables.checkpoint, **update}},
        ]
        token = str(
            uuid.uuid5(uuid.NAMESPACE_URL, f"gap|{self.stream_id}|{context.lease.id}|{checkpoint.version}|{checkpoint.position}")
        )
        try:
            self._transact(items, token)
        except ClientError as error:
            reasons = _reasons(error)
            if CONDITION_FAILED not in reasons:
                raise
            if not self._already_applied(context.lease, checkpoint.version + 1, None):
                if reasons[0] == CONDITION_FAILED and reasons[1] != CONDITION_FAILED:
                    raise HistoryConflictError(
                        f"a GAP after {checkpoint.position} is already in the history of stream {self.stream_id} "
                        "but the checkpoint does not show it: check the history item and the checkpoint item"
                    ) from error
                self._fenced(context.lease, error)
        log.warning("gap recorded in stream %s after %s: %s", self.stream_id, checkpoint.position or "the start", reason)
        return Checkpoint(
            self.stream_id,
            None,
            checkpoint.version + 1,
            None,
            context.lease.owner,
            context.lease.id,
            checkpoint.generation,
            checkpoint.generation_started_at,
        )

    def open_generation(
        self, checkpoint: Checkpoint, reason: schema.GenerationReason, detail: str, context: BatchContext | None
    ) -> Checkpoint:
        """Generation N+1 begins (plan.generation_items): under the lease of `context`'s holder, or, with no
        context, only while nobody holds the lease. One transaction: the RESET history item and the cleared
        checkpoint. Raises FencedError when the checkpoint moved or the lease is held (by someone else)."""
        now = self.clock.now_ms()
        history, update = generation_items(checkpoint, reason, now, detail, context)
        items = [
            {"Put": {"TableName": self.tables.history, "Item": history, **HISTORY_PUT_CONDITION}},
            {"Update": {"TableName": self.tables.checkpoint, **update}},
        ]
        new = checkpoint.generation + 1
        # A token of this call's own: its retries inside _transact are no-ops once applied, and no other opener
        # can reuse it. One derived from (stream, version, generation) alone is the same for the reset function
        # and a handler that both see the restart, or for two stacks' tables in one DynamoDB within the token's
        # 10 minutes, and a second request with other content (its time, its reason) is then refused with
        # IdempotentParameterMismatchException rather than a condition failure
        # (https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html, seen on
        # DynamoDB Local in the chaos run). The version condition keeps the opening single.
        token = str(uuid.uuid4())
        try:
            self._transact(items, token)
        except ClientError as error:
            if CONDITION_FAILED not in _reasons(error):
                raise
            current = self.read_checkpoint()
            if current.generation == new and current.version == checkpoint.version + 1:
                log.info("generation %d of stream %s was opened by this same request before", new, self.stream_id)
            elif context is not None:
                self._fenced(context.lease, error)
            else:
                raise FencedError(
                    f"generation {new} of stream {self.stream_id} not opened: the checkpoint moved (version "
                    f"{current.version}, expected {checkpoint.version}) or capture holds the lease ({current.lease_owner})",
                    holder=current.lease_owner,
                ) from error
        log.warning("stream %s: capture generation %d begins (%s): %s", self.stream_id, new, reason, detail)
        owner, lease_id = (context.lease.owner, context.lease.id) if context else (None, checkpoint.lease_id)
        return Checkpoint(self.stream_id, None, checkpoint.version + 1, None, owner, lease_id, new, now)

    def record_start_from_latest(self, checkpoint: Checkpoint, context: BatchContext, latest: StreamEvent | None) -> Checkpoint:
        """A first capture from LATEST: the START_FROM_LATEST history item and the checkpoint moved onto the
        newest record, in one fenced transaction (a retry with the same token is a no-op)."""
        history, update = start_items(checkpoint, context, latest)
        items = [
            {"Put": {"TableName": self.tables.history, "Item": history}},
            {"Update": {"TableName": self.tables.checkpoint, **update}},
        ]
        after = latest.event_id if latest else None
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"start|{self.stream_id}|{context.lease.id}|{checkpoint.version}|{after}"))
        try:
            self._transact(items, token)
        except ClientError as error:
            if CONDITION_FAILED not in _reasons(error):
                raise
            if not self._already_applied(context.lease, checkpoint.version + 1, after):
                self._fenced(context.lease, error)
        log.warning(
            "capture of stream %s begins from LATEST, after %s: earlier changes are not captured",
            self.stream_id,
            after or "nothing (the stream was empty)",
        )
        stamp = latest.commit_timestamp if latest else None
        return Checkpoint(self.stream_id, after, checkpoint.version + 1, stamp, context.lease.owner, context.lease.id)

    def _transact(self, items: list[dict[str, Any]], token: str) -> None:
        """One TransactWriteItems, retried while DynamoDB says it may succeed; raises the ClientError of a
        cancellation by a failed condition (the caller reads its reasons)."""
        delays = self.retry.delays()
        while True:
            try:
                self.client.transact_write_items(
                    TransactItems=cast("list[TransactWriteItemTypeDef]", items), ClientRequestToken=token
                )
                return
            except ClientError as error:
                code = _code(error)
                reasons = _reasons(error)
                if CONDITION_FAILED in reasons:
                    raise
                retryable = code in RETRYABLE_CODES or (
                    code == "TransactionCanceledException" and any(r in RETRYABLE_REASONS for r in reasons)
                )
                if not retryable:
                    raise
                if code in ("ThrottlingException", "ProvisionedThroughputExceededException") or "ThrottlingError" in reasons:
                    self.metrics.add(m.THROTTLES, 1)
                else:
                    self.metrics.add(m.RETRIES, 1)
                self._wait(delays, error, f"TransactWriteItems {code} {','.join(r for r in reasons if r != 'None')}".rstrip())
            except BotoCoreError as error:
                # The request may or may not have been applied: the same token makes the retry safe.
                self.metrics.add(m.RETRIES, 1)
                self._wait(delays, error, f"TransactWriteItems {type(error).__name__} (same token)")

    def _already_applied(self, lease: Lease, version: int, position: EventId | None) -> bool:
        # A retry after the token's 10-minute window (or from a fresh client) fails its own condition
        # because its first attempt did commit: the checkpoint then shows exactly that commit.
        current = self.read_checkpoint()
        return current.version == version and current.position == position and current.lease_id == lease.id

    def _wait(self, delays: Iterator[float], error: Exception, what: str) -> None:
        delay = next(delays, None)
        if delay is None:
            log.error("%s: giving up after %d attempts: %s", what, self.retry.max_attempts, error)
            raise TransientCaptureError(f"DynamoDB still failing after {self.retry.max_attempts} attempts: {error}") from error
        log.info("%s: retrying in %.3f s", what, delay)
        self.clock.sleep(delay)

    def _call(self, fn: Callable[[], T]) -> T:
        delays = self.retry.delays()
        while True:
            try:
                return fn()
            except ClientError as error:
                if _code(error) not in RETRYABLE_CODES:
                    raise
                self._wait(delays, error, f"DynamoDB {_code(error)}")
            except BotoCoreError as error:
                self._wait(delays, error, f"DynamoDB {type(error).__name__}")


def _code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _reasons(error: ClientError) -> list[str]:
    return [str(r.get("Code", "None")) for r in error.response.get("CancellationReasons", [])]


def _conflict_message(txn: Transaction, stored: dict[str, Any] | None) -> str:
    assert txn.history is not None
    key = txn.history[schema.POSITION]["S"]
    if stored is None:
        return (
            f"the history item at {key} exists but DynamoDB did not return it: "
            f"cannot tell whether it holds events {txn.first}..{txn.last}"
        )
    return (
        f"the history item at {key} holds {stored.get(H.RECORD_COUNT, {}).get('N')} events up to "
        f"{stored.get(H.LAST_POSITION, {}).get('S')}, but this batch holds {len(txn.records)} events up to "
        f"{txn.history[H.LAST_POSITION]['S']}: the batches were cut differently (a resume from TRIM_HORIZON after "
        "transactions committed beyond the checkpoint). Check the records of both ranges, delete that history "
        "item, and start a new execution."
    )
