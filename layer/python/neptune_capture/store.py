"""DynamoDB side: the checkpoint lease, fenced transactions and their retries.

Every write is one TransactWriteItems whose checkpoint update is conditioned on (version, lease owner).
TransactionCanceledException is read reason by reason: a failed checkpoint condition means another poller
holds the stream (fenced: stop); conflicts and throttling are retried with the same ClientRequestToken,
which makes a retry of an already-applied transaction a no-op."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, TypeVar, cast

from botocore.exceptions import BotoCoreError, ClientError

from . import metrics as m
from . import schema
from .backoff import RetryPolicy
from .clock import Clock
from .errors import FencedError, TransientCaptureError
from .events import EventId, StreamEvent
from .metrics import MetricsSink
from .plan import BatchContext, Checkpoint, Lease, Transaction, gap_items, start_items
from .schema import TableNames

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


def checkpoint_from_item(stream_id: str, item: dict[str, Any] | None) -> Checkpoint:
    if not item:
        return Checkpoint(stream_id=stream_id, position=None, version=0)
    position = None
    if "commitNum" in item and "opNum" in item:
        position = EventId(int(item["commitNum"]["N"]), int(item["opNum"]["N"]))
    return Checkpoint(
        stream_id=stream_id,
        position=position,
        version=int(item.get("version", {"N": "0"})["N"]),
        commit_timestamp=int(item["commitTimestamp"]["N"]) if "commitTimestamp" in item else None,
        lease_owner=item.get("leaseOwner", {}).get("S"),
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
    ) -> None:
        self.client, self.tables, self.stream_id, self.clock, self.metrics = client, tables, stream_id, clock, metrics
        self.retry = retry or RetryPolicy()

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
        the condition fails and this owner is fenced, whatever it was told about the holder before."""
        now = self.clock.now_ms()
        lease = Lease(owner=owner, expires_at_ms=now + ttl_ms)
        request: dict[str, Any] = {
            "TableName": self.tables.checkpoint,
            "Key": self.key,
            "UpdateExpression": "SET leaseOwner = :me, leaseExpiresAt = :exp, leaseAcquiredAt = :now, "
            "version = if_not_exists(version, :zero)",
            "ExpressionAttributeValues": {
                ":me": {"S": owner},
                ":exp": {"N": str(lease.expires_at_ms)},
                ":now": {"N": str(now)},
                ":zero": {"N": "0"},
            },
            "ReturnValues": "ALL_NEW",
        }
        if not force:
            request["ConditionExpression"] = (
                "attribute_not_exists(leaseOwner) OR leaseOwner = :me OR leaseOwner = :parent OR leaseOwner = :dead "
                "OR leaseExpiresAt < :now"
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
        return checkpoint_from_item(self.stream_id, response["Attributes"]), lease

    def release_lease(self, owner: str) -> bool:
        """Gives the lease up if `owner` still holds it (a stopped execution), so a new one can start at
        once. The owner is removed, not just expired: an invocation of the stopped execution still running
        is fenced at its next write instead of renewing the lease."""
        try:
            self._call(
                lambda: self.client.update_item(
                    TableName=self.tables.checkpoint,
                    Key=self.key,
                    UpdateExpression="REMOVE leaseOwner, leaseExpiresAt",
                    ConditionExpression="leaseOwner = :owner",
                    ExpressionAttributeValues={":owner": {"S": owner}},
                )
            )
        except ClientError as error:
            if _code(error) == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def write(self, txn: Transaction, lease: Lease) -> None:
        self._transact(txn.transact_items(self.tables), txn.token, lease, expect=(txn.new_version, txn.last))

    def record_gap(self, checkpoint: Checkpoint, context: BatchContext, reason: str) -> Checkpoint:
        history, update = gap_items(checkpoint, context, reason)
        items = [
            {"Put": {"TableName": self.tables.history, "Item": history}},
            {"Update": {"TableName": self.tables.checkpoint, **update}},
        ]
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"gap|{self.stream_id}|{checkpoint.version}|{checkpoint.position}"))
        self._transact(items, token, context.lease, expect=(checkpoint.version + 1, None))
        log.warning("gap recorded in stream %s after %s: %s", self.stream_id, checkpoint.position or "the start", reason)
        return Checkpoint(self.stream_id, None, checkpoint.version + 1, None, context.lease.owner)

    def record_start_from_latest(self, checkpoint: Checkpoint, context: BatchContext, latest: StreamEvent | None) -> Checkpoint:
        """A first capture from LATEST: the START_FROM_LATEST history item and the checkpoint moved onto the
        newest record, in one fenced transaction (a retry with the same token is a no-op)."""
        history, update = start_items(checkpoint, context, latest)
        items = [
            {"Put": {"TableName": self.tables.history, "Item": history}},
            {"Update": {"TableName": self.tables.checkpoint, **update}},
        ]
        after = latest.event_id if latest else None
        token = str(uuid.uuid5(uuid.NAMESPACE_URL, f"start|{self.stream_id}|{checkpoint.version}|{after}"))
        self._transact(items, token, context.lease, expect=(checkpoint.version + 1, after))
        log.warning(
            "capture of stream %s begins from LATEST, after %s: earlier changes are not captured",
            self.stream_id,
            after or "nothing (the stream was empty)",
        )
        stamp = latest.commit_timestamp if latest else None
        return Checkpoint(self.stream_id, after, checkpoint.version + 1, stamp, context.lease.owner)

    def _transact(self, items: list[dict[str, Any]], token: str, lease: Lease, expect: tuple[int, EventId | None]) -> None:
        delays = self.retry.delays()
        while True:
            try:
                self.client.transact_write_items(
                    TransactItems=cast("list[TransactWriteItemTypeDef]", items), ClientRequestToken=token
                )
                return
            except ClientError as error:
                code = _code(error)
                reasons = [r.get("Code", "None") for r in error.response.get("CancellationReasons", [])]
                if code == "TransactionCanceledException" and reasons and reasons[-1] == "ConditionalCheckFailed":
                    if self._already_applied(lease, expect):
                        log.info("transaction %s had already committed (its response was lost): not written again", token)
                        return
                    self.metrics.add(m.FENCED, 1)
                    log.warning(
                        "fenced: checkpoint of stream %s moved or its lease is no longer %s; this poller stops",
                        self.stream_id,
                        lease.owner,
                    )
                    raise FencedError(
                        f"checkpoint of stream {self.stream_id} moved or its lease is no longer {lease.owner}: this poller stops"
                    ) from error
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

    def _already_applied(self, lease: Lease, expect: tuple[int, EventId | None]) -> bool:
        # A retry after the token's 10-minute window (or from a fresh client) fails its own condition
        # because its first attempt did commit: the checkpoint then shows exactly that commit.
        current = self.read_checkpoint()
        version, position = expect
        return current.version == version and current.position == position and current.lease_owner == lease.owner

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
