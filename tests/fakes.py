"""Test doubles for the capture core's ports: a scripted Neptune stream, a controllable clock, a
DynamoDB client wrapper that injects crashes and transient failures, and scripted lanes that decide in
which order the transactions in flight land."""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Collection
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, TypeVar

from botocore.exceptions import ClientError, EndpointConnectionError

from neptune_capture.errors import StreamExpiredError
from neptune_capture.events import EMPTY_PAGE, EventId, StreamEvent, StreamPage, parse_page


def make_record(
    commit: int, op: int, *, ts: int = 1_700_000_000_000, last: bool = False, value: Any = "v", kind: str = "vp"
) -> dict[str, Any]:
    data: dict[str, Any] = {"id": f"v{commit % 7}", "type": kind, "key": "name", "value": {"value": value, "dataType": "String"}}
    if kind == "e":
        data.update({"from": "a", "to": "b", "key": "knows"})
        del data["value"]
    record: dict[str, Any] = {
        "commitTimestamp": ts + commit,
        "eventId": {"commitNum": commit, "opNum": op},
        "data": data,
        "op": "ADD",
    }
    if last:
        record["isLastOp"] = True
    return record


def make_stream(transaction_sizes: list[int], value_size: int = 1) -> list[dict[str, Any]]:
    records = []
    for commit, size in enumerate(transaction_sizes, start=1):
        for op in range(1, size + 1):
            records.append(make_record(commit, op, last=op == size, value="x" * value_size))
    return records


@dataclass
class FakeStream:
    """Serves pages of a list of documented-shape records the way Neptune does."""

    records: list[dict[str, Any]]
    limit: int = 100
    horizon: EventId | None = None  # positions before this are expired
    calls: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def ids(self) -> list[EventId]:
        return [EventId(r["eventId"]["commitNum"], r["eventId"]["opNum"]) for r in self.records]

    def fetch(self, after: EventId | None) -> StreamPage:
        with self.lock:
            self.calls += 1
            ids = self.ids()
            if after is not None and self.horizon is not None and after < self.horizon:
                raise StreamExpiredError(f"position {after} is older than the stream's retention")
            start = 0 if after is None else next((i for i, e in enumerate(ids) if e > after), len(ids))
            if after is None and self.horizon is not None:
                start = next((i for i, e in enumerate(ids) if e >= self.horizon), len(ids))
            page = self.records[start : start + self.limit]
            if not page:
                return EMPTY_PAGE
            body = {
                "lastEventId": page[-1]["eventId"],
                "lastTrxTimestamp": page[-1]["commitTimestamp"],
                "format": "PG_JSON",
                "records": page,
                "totalRecords": len(page),
            }
        return parse_page(body, after)

    def latest(self) -> StreamEvent | None:
        """LATEST: the newest record alone, or None on an empty stream (Neptune's 404)."""
        with self.lock:
            self.calls += 1
            if not self.records:
                return None
            newest = self.records[-1]
            body = {"lastEventId": newest["eventId"], "format": "PG_JSON", "records": [newest], "totalRecords": 1}
        return parse_page(body, None).events[-1]

    def at(self, position: EventId) -> StreamEvent | None:
        """AT_SEQUENCE_NUMBER, one record: the first at or after `position`, None when there is none (404)."""
        with self.lock:
            self.calls += 1
            ids = self.ids()
            if self.horizon is not None and position < self.horizon:
                raise StreamExpiredError(f"position {position} is older than the stream's retention")
            index = next((i for i, e in enumerate(ids) if e >= position), None)
            if index is None:
                return None
            record = self.records[index]
            body = {"lastEventId": record["eventId"], "format": "PG_JSON", "records": [record], "totalRecords": 1}
        return parse_page(body, None).events[0]

    def reset(self, records: list[dict[str, Any]]) -> None:
        """A fast reset, then `records`: the stream starts again (its commit numbers too)."""
        with self.lock:
            self.records = list(records)
            self.horizon = None


class FakeClock:
    """Wall and monotonic time that move only when the code under test sleeps (or a test advances it)."""

    def __init__(self, start_ms: int = 1_700_000_100_000) -> None:
        self.ms = start_ms
        self.mono = 0.0
        self.sleeps: list[float] = []
        self.lock = threading.Lock()

    def now_ms(self) -> int:
        return self.ms

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.sleeps.append(seconds)
            self.advance(seconds)

    def advance(self, seconds: float) -> None:
        self.mono += seconds
        self.ms += int(seconds * 1000)


class SimulatedCrashError(Exception):
    """A simulated Lambda crash (timeout, OOM, kill): nothing in the code under test catches it."""


class FaultyDynamo:
    """Wraps a real DynamoDB client; `plan` maps the n-th transact call (1-based) to a fault:
    'crash-before', 'crash-after' (applied, then the process dies), 'lost-response' (applied, then a
    connection error: the store retries), 'conflict' or 'throttle' (cancelled, retryable)."""

    def __init__(
        self,
        client: Any,
        plan: dict[int, str] | None = None,
        on_call: Callable[[int], None] | None = None,
        observe: Callable[[list[dict[str, Any]]], None] | None = None,
    ) -> None:
        self.client = client
        self.plan = plan or {}
        self.transacts = 0
        self.on_call = on_call
        self.observe = observe  # sees every TransactItems list, faulted or not

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.transacts += 1
        if self.on_call:
            self.on_call(self.transacts)
        if self.observe:
            self.observe(kwargs["TransactItems"])
        fault = self.plan.get(self.transacts)
        if fault == "crash-before":
            raise SimulatedCrashError(f"crash before transaction {self.transacts}")
        if fault in ("conflict", "throttle"):
            reason = "TransactionConflict" if fault == "conflict" else "ThrottlingError"
            reasons = [{"Code": "None"}] * (len(kwargs["TransactItems"]) - 1) + [{"Code": reason}]
            response: Any = {"Error": {"Code": "TransactionCanceledException", "Message": reason}, "CancellationReasons": reasons}
            raise ClientError(response, "TransactWriteItems")
        response = self.client.transact_write_items(**kwargs)
        if fault == "crash-after":
            raise SimulatedCrashError(f"crash after transaction {self.transacts}")
        if fault == "lost-response":
            raise EndpointConnectionError(endpoint_url="http://dynamodb.local")
        return response


T = TypeVar("T")


def item_keys(transact_items: list[dict[str, Any]], key_names: dict[str, tuple[str, ...]]) -> set[tuple[str, str]]:
    """(table, key) of every item a transaction touches; `key_names` maps a table to its key attributes."""
    keys = set()
    for action in transact_items:
        (_, body), *_ = action.items()
        attributes = body.get("Key") or body["Item"]
        keys.add((body["TableName"], repr([attributes[k] for k in key_names[body["TableName"]]])))
    return keys


@dataclass
class _Job:
    run: Callable[[], Any]
    future: Future[Any]
    sent: int  # the tick it was handed to the lanes
    items: set[tuple[str, str]] = field(default_factory=set)


class ScriptedLanes:
    """The pipeline's lanes, deterministic: a transaction handed over stays in flight until the poller
    waits and `rng` picks it among those in flight, so examples decide the order transactions land in.

    A SimulatedCrashError in one (the process dying) ends the others: each is either lost (it never
    reached DynamoDB) or put on `late`, to land at a random point of the next invocation, as a request
    already on its way would. `windows` keeps, per transaction, the ticks from when it was sent until it
    landed and the items it touched: two whose windows overlap were in flight together."""

    def __init__(self, rng: random.Random, late: list[Callable[[], Any]], key_names: dict[str, tuple[str, ...]]) -> None:
        self.rng, self.late, self.key_names = rng, late, key_names
        self.pending: list[_Job] = []
        self.windows: list[tuple[int, int, set[tuple[str, str]]]] = []
        self.tick = 0
        self.crashed = False
        self._running: _Job | None = None

    def submit(self, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        self.pending.append(_Job(fn, future, self.tick))
        self.tick += 1
        return future

    def wait_any(self, futures: Collection[Future[Any]]) -> None:
        while not any(f.done() for f in futures):
            if self.crashed:
                self._abandon()
                continue
            if self.late and self.rng.random() < 0.3:
                self._land_late()
                continue
            self._run(self.pending.pop(self.rng.randrange(len(self.pending))))

    def observe(self, transact_items: list[dict[str, Any]]) -> None:
        if self._running is not None:
            self._running.items |= item_keys(transact_items, self.key_names)

    def close(self) -> None:
        while self.late and self.rng.random() < 0.5:
            self._land_late()

    def _run(self, job: _Job) -> None:
        self._running = job
        try:
            job.future.set_result(job.run())
        except SimulatedCrashError as crash:
            job.future.set_exception(crash)
            self.crashed = True
        except BaseException as error:  # the poller reads it from the future
            job.future.set_exception(error)
        finally:
            self._running = None
            self.windows.append((job.sent, self.tick, job.items))
            self.tick += 1

    def _abandon(self) -> None:
        for job in self.pending:
            if self.rng.random() < 0.5:
                self.late.append(job.run)
            job.future.set_exception(SimulatedCrashError("the process died with this transaction in flight"))
        self.pending.clear()

    def _land_late(self) -> None:
        job = self.late.pop(self.rng.randrange(len(self.late)))
        with contextlib.suppress(Exception):  # its invocation is gone: nobody reads the outcome
            job()

    def shared_items_in_flight(self) -> list[tuple[str, str]]:
        """Items touched by two transactions that were in flight together (DynamoDB would cancel one)."""
        shared = []
        for i, (sent_a, landed_a, items_a) in enumerate(self.windows):
            for sent_b, landed_b, items_b in self.windows[i + 1 :]:
                if sent_a < landed_b and sent_b < landed_a:
                    shared += sorted(items_a & items_b)
        return shared


def drop_scanned_items(client: Any, keep_every: int) -> list[int]:
    """Makes every Scan answer lose items as a faulty server would (the page's other fields untouched);
    returns a list that receives how many each answer lost."""
    dropped: list[int] = []

    def lose(parsed: dict[str, Any], **_: Any) -> None:
        items = parsed.get("Items", [])
        kept = items[::keep_every]
        dropped.append(len(items) - len(kept))
        parsed["Items"], parsed["Count"] = kept, len(kept)

    client.meta.events.register("after-call.dynamodb.Scan", lose)
    return dropped
