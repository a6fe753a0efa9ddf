"""A fast in-memory DynamoDB for the three tables' writes, behind a real boto3 client.

moto costs about half a millisecond of CPU per record, which caps any local figure near 2,000 records/s
whatever the design; this model costs a few microseconds. It implements exactly what the stream handler
relies on, as the TransactWriteItems reference documents it
(https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html):

- Put, Update and ConditionCheck actions with the condition and update expressions the handler uses
  (dynamo_expressions.py); GetItem, UpdateItem, CreateTable and ListTables beside them. Any other operation
  or expression is an error naming it.
- At most 100 actions, no two on one item, no item over 400 KB, at most 4 MB in all (the code DynamoDB
  returns for the 4 MB case is not documented: the model answers ValidationException).
- A cancelled transaction changes nothing and lists one reason per action, in request order: "None", or
  ConditionalCheckFailed (with the item when ReturnValuesOnConditionCheckFailure is ALL_OLD),
  TransactionConflict, ThrottlingError.
- ClientRequestToken: a repeat within 10 minutes of the first call's completion succeeds without changing
  anything; with other parameters it is IdempotentParameterMismatchException; while the first call is still
  running it is TransactionInProgressException. (Whether a cancelled call's token is remembered is not
  documented: the model remembers successful calls only, so a retry after a conflict runs again.)
- Conflicts: while a transaction runs (for its whole modelled latency) it holds its items; another
  transaction touching one of them is cancelled with TransactionConflict on it, and an UpdateItem of one
  fails with TransactionConflictException, as "Transaction conflict handling"
  (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html#transaction-conflict-handling)
  describes: a conflict arises when an item of a TransactWriteItems request "is part of another ongoing
  TransactWriteItems request", whatever the action (a ConditionCheck included). A GetItem does not conflict.
- Latency and capacity come from dynamo_latency.py: each call waits its modelled latency on the model's
  clock (a real sleep only in `make bench`; tests pass a fake clock), and a table's write units per
  second are bounded (ThrottlingError beyond them).

tests/unit/test_dynamo_model.py runs the same requests through this model and through moto and compares
the outcomes and the tables item for item."""

from __future__ import annotations

import hashlib
import itertools
import json
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

import boto3
from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders
from botocore.config import Config

from neptune_capture.clock import Clock
from neptune_capture.items import MAX_ITEM_BYTES, item_size
from neptune_local.dynamo_expressions import ExpressionError, Item, parse_condition, parse_update
from neptune_local.dynamo_latency import DEFAULT_TABLE_WRITE_UNITS_PER_S, LatencyModel, Throughput, write_units

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

TOKEN_WINDOW_MS = 10 * 60 * 1000
MAX_TRANSACTION_ACTIONS = 100
MAX_TRANSACTION_BYTES = 4 * 1024 * 1024
ERROR_PREFIX = "com.amazonaws.dynamodb.v20120810#"
ENDPOINT = "https://dynamodb.model.invalid"
CONDITION_FAILED_MESSAGE = "The conditional request failed"
CONFLICT_MESSAGE = "Transaction is ongoing for the item."
THROTTLED_MESSAGE = "Throughput exceeds the current capacity of your table or index."
ACTIONS = ("Put", "Update", "ConditionCheck")

Key = tuple[str, Any, Any]  # (table, hash value, range value)


class ModelError(Exception):
    """An error response: its code, message, and any modelled fields (CancellationReasons)."""

    def __init__(self, code: str, message: str, **fields: Any) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.fields = code, message, fields


def _validation(message: str) -> ModelError:
    return ModelError("ValidationException", message)


def _key_value(value: Mapping[str, Any]) -> Any:
    kind, inner = next(iter(value.items()))
    return (kind, Decimal(inner)) if kind == "N" else (kind, inner)


@dataclass
class Table:
    name: str
    hash_key: str
    range_key: str | None
    key_types: dict[str, str]
    throughput: Throughput
    # Items are kept as their JSON text: one object each instead of a tree of dicts, so a table of a
    # hundred thousand records does not make every collection of the garbage collector walk it.
    stored: dict[Key, str] = field(default_factory=dict)

    def get(self, key: Key) -> Item | None:
        text = self.stored.get(key)
        return None if text is None else cast("Item", json.loads(text))

    def put(self, key: Key, item: Item) -> bool:
        """Stores `item`; True if it replaced one."""
        replaced = key in self.stored
        self.stored[key] = json.dumps(item)
        return replaced

    def key_of(self, attributes: Mapping[str, Any]) -> Key:
        values: list[Any] = []
        for name in (self.hash_key, self.range_key):
            if name is None:
                values.append(None)
                continue
            value = attributes.get(name)
            if value is None:
                raise _validation(f"One or more parameter values were invalid: Missing the key {name} in the item")
            if next(iter(value)) != self.key_types[name]:
                raise _validation(
                    f"One or more parameter values were invalid: Type mismatch for key {name} expected: "
                    f"{self.key_types[name]} actual: {next(iter(value))}"
                )
            values.append(_key_value(value))
        return (self.name, values[0], values[1])

    def key_attributes(self, attributes: Mapping[str, Any]) -> Item:
        return {k: attributes[k] for k in (self.hash_key, self.range_key) if k is not None}


@dataclass
class Stats:
    transactions: int = 0  # committed
    cancelled: Counter[str] = field(default_factory=Counter)  # by reason
    write_units: Counter[str] = field(default_factory=Counter)  # by table
    rewrites: Counter[str] = field(default_factory=Counter)  # by table: writes to an item that existed
    max_concurrent: int = 0  # transactions running at once


@dataclass
class _Token:
    digest: str
    completed_ms: int | None  # None: the first call is still running


@dataclass
class _Planned:
    """A transaction after its conditions were evaluated: what it would write, and why it would not."""

    keys: list[Key]
    writes: list[tuple[Table, Key, Item | None]]  # item None: a ConditionCheck (nothing written)
    reasons: list[dict[str, Any]]
    units: Counter[str]


class DynamoModel:
    def __init__(
        self,
        *,
        clock: Clock,
        latency: LatencyModel | None = None,
        write_units_per_s: float = DEFAULT_TABLE_WRITE_UNITS_PER_S,
        token_window_ms: int = TOKEN_WINDOW_MS,
    ) -> None:
        """`latency` None: calls take no modelled time (tests of semantics). `token_window_ms` 0: every
        repeated token is past its window (how a retry after 10 minutes is seen)."""
        self.clock, self.latency, self.write_units_per_s = clock, latency, write_units_per_s
        self.token_window_ms = token_window_ms
        self.tables: dict[str, Table] = {}
        self.stats = Stats()
        self._tokens: dict[str, _Token] = {}
        self._held: Counter[Key] = Counter()
        self._running = 0
        self._request_ids = itertools.count(1)
        # Reentrant: a cancellation is raised both with and without the lock held.
        self._lock = threading.RLock()

    # -- the boto3 side
    def attach(self, client: DynamoDBClient) -> DynamoDBClient:
        """Routes every request of `client` to this model instead of the network: botocore still builds,
        signs and parses everything, as it would for DynamoDB."""
        # botocore sends no request when a before-send handler returns a response (moto works the same
        # way); the stubs type handlers as returning None.
        client.meta.events.register_first("before-send.dynamodb", cast("Callable[..., None]", self._on_send))
        return client

    def client(self, config: Config | None = None) -> DynamoDBClient:
        client = boto3.client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=ENDPOINT,
            aws_access_key_id="model",
            aws_secret_access_key="model",  # placeholders: nothing leaves the process
            config=config or Config(retries={"total_max_attempts": 1}),
        )
        return self.attach(client)

    def _on_send(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        target = request.headers.get("X-Amz-Target", "")
        operation = (target.decode() if isinstance(target, bytes) else str(target)).rsplit(".", 1)[-1]
        raw = request.body or b"{}"
        data = raw if isinstance(raw, bytes | bytearray | str) else raw.read()
        body = json.loads(data)
        # botocore writes the same parameters as the same bytes: a repeated call is recognised by them.
        digest = hashlib.sha256(data.encode() if isinstance(data, str) else data).hexdigest()
        try:
            status, payload = 200, self.handle(operation, body, digest)
        except ModelError as error:
            status, payload = 400, {"__type": ERROR_PREFIX + error.code, "message": error.message, **error.fields}
        headers = HTTPHeaders()
        headers["Content-Type"] = "application/x-amz-json-1.0"
        headers["x-amzn-RequestId"] = f"model-{next(self._request_ids)}"
        return AWSResponse(request.url, status, headers, _Body(json.dumps(payload).encode()))

    # -- the service side
    def handle(self, operation: str, body: dict[str, Any], digest: str | None = None) -> dict[str, Any]:
        """One request. `digest` identifies its parameters (for ClientRequestToken); computed if absent."""
        if operation == "TransactWriteItems":
            return self._guarded(lambda: self._transact_write_items(body, digest))
        handler: Callable[[dict[str, Any]], dict[str, Any]] | None = {
            "CreateTable": self._create_table,
            "ListTables": self._list_tables,
            "GetItem": self._get_item,
            "UpdateItem": self._update_item,
        }.get(operation)
        if handler is None:
            raise ModelError("UnknownOperationException", f"the DynamoDB model does not implement {operation}")
        return self._guarded(lambda: handler(body))

    @staticmethod
    def _guarded(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        try:
            return call()
        except ExpressionError as error:
            raise _validation(f"Invalid expression: {error}") from error

    def items(self, table: str) -> list[Item]:
        with self._lock:
            return [cast("Item", json.loads(text)) for text in self._table(table).stored.values()]

    def get(self, table: str, key: Mapping[str, Any]) -> Item | None:
        with self._lock:
            t = self._table(table)
            return t.get(t.key_of(key))

    def _table(self, name: str) -> Table:
        table = self.tables.get(name)
        if table is None:
            raise ModelError("ResourceNotFoundException", "Requested resource not found")
        return table

    def _create_table(self, body: dict[str, Any]) -> dict[str, Any]:
        name = body["TableName"]
        keys = {k["KeyType"]: k["AttributeName"] for k in body["KeySchema"]}
        types = {a["AttributeName"]: a["AttributeType"] for a in body["AttributeDefinitions"]}
        with self._lock:
            if name in self.tables:
                raise ModelError("ResourceInUseException", f"Table already exists: {name}")
            throughput = Throughput(self.write_units_per_s, self.clock)
            self.tables[name] = Table(name, keys["HASH"], keys.get("RANGE"), types, throughput)
        description = {k: body[k] for k in ("TableName", "KeySchema", "AttributeDefinitions")}
        return {"TableDescription": {**description, "TableStatus": "ACTIVE"}}

    def _list_tables(self, _: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return {"TableNames": sorted(self.tables)}

    def _get_item(self, body: dict[str, Any]) -> dict[str, Any]:
        self._wait_single_item()
        with self._lock:
            table = self._table(body["TableName"])
            item = table.get(table.key_of(body["Key"]))
        return {"Item": item} if item is not None else {}

    def _update_item(self, body: dict[str, Any]) -> dict[str, Any]:
        self._wait_single_item()
        names, values = body.get("ExpressionAttributeNames", {}), body.get("ExpressionAttributeValues", {})
        update = parse_update(body["UpdateExpression"], names)
        condition = parse_condition(body["ConditionExpression"], names) if body.get("ConditionExpression") else None
        with self._lock:
            table = self._table(body["TableName"])
            key = table.key_of(body["Key"])
            if self._held[key]:
                raise ModelError("TransactionConflictException", CONFLICT_MESSAGE)
            current = table.get(key)
            if condition is not None and not condition(current or {}, values):
                raise ModelError("ConditionalCheckFailedException", CONDITION_FAILED_MESSAGE)
            updated = update.apply(current or table.key_attributes(body["Key"]), values, names)
            self._check_size(updated)
            units = write_units(max(item_size(current or {}), item_size(updated))) // 2  # a standard write
            if not table.throughput.take(units):
                raise ModelError("ThrottlingException", THROTTLED_MESSAGE)
            self.stats.write_units[table.name] += units
            table.put(key, updated)
        return {"Attributes": updated} if body.get("ReturnValues") == "ALL_NEW" else {}

    def _transact_write_items(self, body: dict[str, Any], digest: str | None) -> dict[str, Any]:
        actions = body.get("TransactItems") or []
        if len(actions) > MAX_TRANSACTION_ACTIONS:
            raise _validation(
                "1 validation error detected at 'transactItems' failed to satisfy constraint: "
                f"Member must have length less than or equal to {MAX_TRANSACTION_ACTIONS}."
            )
        token = body.get("ClientRequestToken")
        if token is not None and digest is None:
            digest = hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()
        with self._lock:
            planned = self._plan(actions)  # validation errors before anything else
            if token is not None and digest is not None and self._repeat(token, digest):
                return {}
            conflicting = [i for i, key in enumerate(planned.keys) if self._held[key]]
            if conflicting:
                self._cancel(planned, {i: ("TransactionConflict", CONFLICT_MESSAGE) for i in conflicting})
            throttled = self._throttled(planned)
            if throttled:
                self._cancel(planned, {i: ("ThrottlingError", THROTTLED_MESSAGE) for i in throttled})
            self._held.update(planned.keys)
            self._running += 1
            self.stats.max_concurrent = max(self.stats.max_concurrent, self._running)
            if token is not None and digest is not None:
                self._tokens[token] = _Token(digest, None)
        failed = any(r["Code"] != "None" for r in planned.reasons)
        try:
            if self.latency is not None:
                self.clock.sleep(self.latency.sample_seconds(self.latency.transaction(len(actions))))
        except BaseException:
            failed = True  # the caller went away mid-call: nothing is applied
            raise
        finally:
            with self._lock:
                self._held.subtract(planned.keys)
                self._held = +self._held
                self._running -= 1
                if token is not None:
                    if failed:
                        self._tokens.pop(token, None)
                    else:
                        self._tokens[token].completed_ms = self.clock.now_ms()
                if not failed:
                    for table, key, item in planned.writes:
                        if item is not None and table.put(key, item):
                            self.stats.rewrites[table.name] += 1
                    self.stats.transactions += 1
        if failed:
            self._cancel(planned, {})
        return {}

    def _plan(self, actions: list[dict[str, Any]]) -> _Planned:
        planned = _Planned([], [], [], Counter())
        seen: set[Key] = set()
        total = 0
        for entry in actions:
            if len(entry) != 1 or next(iter(entry)) not in ACTIONS:
                raise _validation(f"the DynamoDB model implements {', '.join(ACTIONS)} actions only, got {sorted(entry)}")
            (kind, action), *_ = entry.items()
            table = self._table(action["TableName"])
            attributes = action["Item"] if kind == "Put" else action["Key"]
            key = table.key_of(attributes)
            if key in seen:
                raise _validation("Transaction request cannot include multiple operations on one item")
            seen.add(key)
            current = table.get(key)
            names, values = action.get("ExpressionAttributeNames", {}), action.get("ExpressionAttributeValues", {})
            expression = action.get("ConditionExpression")
            if kind == "ConditionCheck" and not expression:
                raise _validation("The ConditionCheck action needs a ConditionExpression")
            holds = expression is None or parse_condition(expression, names)(current or {}, values)
            written: Item | None = None
            if kind == "Put":
                written = attributes
            elif kind == "Update":
                written = parse_update(action["UpdateExpression"], names).apply(
                    current or table.key_attributes(attributes), values, names
                )
            current_size = item_size(current) if current is not None else 0
            size = current_size
            if written is not None:
                size = item_size(written)
                if size > MAX_ITEM_BYTES:
                    raise _validation("Item size has exceeded the maximum allowed size")
                total += size
            planned.units[table.name] += write_units(max(size, current_size))
            planned.keys.append(key)
            planned.writes.append((table, key, written))
            if holds:
                planned.reasons.append({"Code": "None"})
            else:
                reason: dict[str, Any] = {"Code": "ConditionalCheckFailed", "Message": CONDITION_FAILED_MESSAGE}
                if current is not None and action.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD":
                    reason["Item"] = current
                planned.reasons.append(reason)
        if total > MAX_TRANSACTION_BYTES:
            raise _validation(f"Transaction request size {total} bytes exceeds the maximum of {MAX_TRANSACTION_BYTES} (4 MB)")
        return planned

    def _repeat(self, token: str, digest: str) -> bool:
        """Whether this call repeats a token's successful call (then nothing is done)."""
        now = self.clock.now_ms()
        known = self._tokens.get(token)
        if known is not None and known.completed_ms is not None and now - known.completed_ms >= self.token_window_ms:
            del self._tokens[token]
            known = None
        if known is None:
            return False
        if known.completed_ms is None:
            raise ModelError("TransactionInProgressException", "The transaction with the given request token is in progress.")
        if known.digest != digest:
            raise ModelError(
                "IdempotentParameterMismatchException",
                "DynamoDB rejected the request because you retried a request with a different payload but with an "
                "idempotent token that was already used.",
            )
        return True

    def _throttled(self, planned: _Planned) -> list[int]:
        for name, units in planned.units.items():
            if not self.tables[name].throughput.take(units):
                return [i for i, (table, _, _) in enumerate(planned.writes) if table.name == name]
        for name, units in planned.units.items():
            self.stats.write_units[name] += units
        return []

    def _cancel(self, planned: _Planned, override: dict[int, tuple[str, str]]) -> None:
        reasons = [
            {"Code": override[i][0], "Message": override[i][1]} if i in override else r
            for i, r in enumerate(planned.reasons if not override else [{"Code": "None"}] * len(planned.keys))
        ]
        codes = [r["Code"] for r in reasons]
        with self._lock:
            self.stats.cancelled.update(c for c in codes if c != "None")
        message = f"Transaction cancelled, please refer cancellation reasons for specific reasons [{', '.join(codes)}]"
        raise ModelError("TransactionCanceledException", message, CancellationReasons=reasons)

    def _check_size(self, item: Item) -> None:
        if item_size(item) > MAX_ITEM_BYTES:
            raise _validation("Item size has exceeded the maximum allowed size")

    def _wait_single_item(self) -> None:
        if self.latency is not None:
            self.clock.sleep(self.latency.sample_seconds(self.latency.single_item()))


class _Body:
    """The raw HTTP body botocore reads a response from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data

    def read(self, *_: Any) -> bytes:
        return self._data
