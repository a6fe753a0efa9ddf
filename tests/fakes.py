"""Test doubles for the capture core's ports: a scripted Neptune stream, a controllable clock, and
a DynamoDB client wrapper that injects crashes and transient failures."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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

    def __init__(self, client: Any, plan: dict[int, str] | None = None, on_call: Callable[[int], None] | None = None) -> None:
        self.client = client
        self.plan = plan or {}
        self.transacts = 0
        self.on_call = on_call

    def __getattr__(self, name: str) -> Any:
        return getattr(self.client, name)

    def transact_write_items(self, **kwargs: Any) -> Any:
        self.transacts += 1
        if self.on_call:
            self.on_call(self.transacts)
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
