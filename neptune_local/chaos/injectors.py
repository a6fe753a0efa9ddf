"""Faults the emulator cannot inject itself: in DynamoDB (transaction conflicts, on the client side) and in
the Lambda execution environment (the handler's process dying or hanging between two transactions)."""

from __future__ import annotations

import contextvars
import json
import random
import threading
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse, HTTPHeaders
from botocore.model import OperationModel
from botocore.parsers import create_parser

from neptune_local.lambda_runtime import THREAD_PREFIX, ProcessExit


class Injected:
    """How many faults of each kind a scenario really applied (a scenario that applied none proves nothing)."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def add(self, kind: str) -> None:
        with self._lock:
            self.counts[kind] += 1

    @property
    def total(self) -> int:
        return sum(self.counts.values())


class TransactionConflicts:
    """Cancels a share of TransactWriteItems calls with TransactionConflict, as a concurrent writer on one of
    their items would, on the client side: a botocore `before-call` hook that answers in the server's stead,
    so the scenario means the same whichever DynamoDB serves the tables. The answer is the error DynamoDB
    sends (HTTP 400, TransactionCanceledException with one reason per item, in order: TransactionConflict
    for the item in conflict, None for the others,
    https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_TransactWriteItems.html), parsed by
    botocore's own JSON parser, so the caller sees exactly what a real cancellation gives it.

    The hook is registered on boto3's default session before the local run makes its clients (`installed()`):
    a client copies the session's hooks when it is made, and the stream handler makes its client when its
    module loads, at the run's start. It cancels nothing until `armed()`."""

    EVENT = "before-call.dynamodb.TransactWriteItems"

    def __init__(self) -> None:
        self.injected = Injected()
        self._rate = 0.0
        self._rng = random.Random(0)
        self._lock = threading.Lock()

    def __call__(self, model: OperationModel, params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]] | None:
        with self._lock:
            if self._rate <= 0 or self._rng.random() >= self._rate:
                return None
            # The request as serialized for the wire (JSON bytes): one reason per item it names.
            items = len(json.loads(params.get("body") or b"{}").get("TransactItems", [])) or 1
            conflicting = self._rng.randrange(items)
        self.injected.add("TransactionConflict")
        return cancelled(model, [("TransactionConflict" if i == conflicting else "None") for i in range(items)])

    @contextmanager
    def armed(self, rate: float, seed: int) -> Iterator[Injected]:
        with self._lock:
            self._rate, self._rng = rate, random.Random(seed)
        try:
            yield self.injected
        finally:
            with self._lock:
                self._rate = 0.0

    @contextmanager
    def installed(self) -> Iterator[TransactionConflicts]:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        assert boto3.DEFAULT_SESSION is not None
        events = boto3.DEFAULT_SESSION.events
        unique_id = f"chaos-transaction-conflicts-{id(self)}"
        # botocore uses a before-call handler's answer in place of the server's (its stubs type it as None).
        events.register(self.EVENT, self.__call__, unique_id=unique_id)  # type: ignore[arg-type]
        try:
            yield self
        finally:
            events.unregister(self.EVENT, unique_id=unique_id)


# The message DynamoDB gives a conflicting item's reason, as the API reference lists it (TransactWriteItems,
# "TransactionCanceledException").
CONFLICT_MESSAGE = "Transaction is ongoing for the item"


def cancelled(model: OperationModel, reasons: list[str]) -> tuple[AWSResponse, dict[str, Any]]:
    """A TransactionCanceledException response with these reasons, as DynamoDB sends it and botocore parses it."""
    body = {
        "__type": "com.amazonaws.dynamodb.v20120810#TransactionCanceledException",
        "Message": f"Transaction cancelled, please refer cancellation reasons for specific reasons [{', '.join(reasons)}]",
        "CancellationReasons": [
            {"Code": r, "Message": CONFLICT_MESSAGE} if r == "TransactionConflict" else {"Code": r} for r in reasons
        ],
    }
    raw = json.dumps(body).encode()
    headers = {"content-type": "application/x-amz-json-1.0", "x-amzn-requestid": str(uuid.uuid4())}
    http_headers = HTTPHeaders()
    for name, value in headers.items():
        http_headers[name] = value
    http = AWSResponse("http://chaos.invalid/", 400, http_headers, _Raw(raw))
    # As botocore's endpoint parses an error: the generic fields, then the error shape's (CancellationReasons).
    parser, response = create_parser("json"), {"status_code": 400, "headers": headers, "body": raw}
    parsed: dict[str, Any] = parser.parse(response, model.output_shape)  # type: ignore[arg-type]
    error_shape = model.service_model.shape_for_error_code(parsed["Error"]["Code"])
    assert error_shape is not None, "TransactionCanceledException is a modelled error of DynamoDB's"
    parsed.update(parser.parse(response, error_shape))
    return http, parsed


class _Raw:
    """The stream an AWSResponse reads its content from."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._data


@dataclass
class _Invocation:
    writes: int = 0
    fault_at: int | None = None  # None: not decided yet; 0: no fault in this invocation
    after: bool = False


@contextmanager
def handler_process_faults(
    share: float, seed: int, *, hang: bool = False, within: int = 4, first_after_commit: bool = False
) -> Iterator[Injected]:
    """The stream handler's process dies at a random point of an invocation: at its n-th transaction
    (n from 1 to `within`, counted in the order they are sent, several being in flight at once), just
    before or just after the commit (Runtime.ExitError); or, with `hang`, it stops responding there until
    the Lambda times out (Sandbox.Timedout), writing nothing more.

    The first invocation that writes is always hit, at its first transaction (after the commit with
    `first_after_commit`: mid-page when the page needs several), then a `share` of the others: per
    invocation, not per transaction, so Step Functions' retries (reset by every invocation that
    succeeds) are not exhausted by a run of unlucky ones, as a real crash now and then would not be."""
    from neptune_capture.plan import Lease, Transaction
    from neptune_capture.poller import Poller, PollResult
    from neptune_capture.ports import Outcome
    from neptune_capture.store import DynamoStore

    rng, injected, lock = random.Random(seed), Injected(), threading.Lock()
    released = threading.Event()
    # Set by each invocation's Poller.run; its transactions' threads run in a copy of its context.
    current: contextvars.ContextVar[_Invocation | None] = contextvars.ContextVar("chaos_invocation", default=None)
    original_write, original_run = DynamoStore.write, Poller.run
    what = "hang" if hang else "crash"

    def run(self: Poller, owner: str, **kwargs: Any) -> PollResult:
        if not threading.current_thread().name.startswith(THREAD_PREFIX):  # only inside a local invocation
            return original_run(self, owner, **kwargs)
        token = current.set(_Invocation())
        try:
            return original_run(self, owner, **kwargs)
        finally:
            current.reset(token)

    def faulty(self: DynamoStore, txn: Transaction, lease: Lease) -> Outcome:
        invocation = current.get()
        if invocation is None:
            return original_write(self, txn, lease)
        with lock:
            if invocation.fault_at is None:
                first = injected.total == 0
                hit = first or rng.random() < share
                invocation.fault_at = (1 if first else rng.randint(1, within)) if hit else 0
                invocation.after = (first and first_after_commit) or rng.random() < 0.5
            invocation.writes += 1
            mine = invocation.writes == invocation.fault_at
            if mine:
                injected.add(f"{what} {'after' if invocation.after else 'before'} commit")
        if not mine:
            return original_write(self, txn, lease)
        if invocation.after:
            original_write(self, txn, lease)
        if hang:
            released.wait()
        where = "after" if invocation.after else "before"
        raise ProcessExit(f"injected {what} {where} committing events {txn.first}..{txn.last}")

    DynamoStore.write = faulty  # type: ignore[method-assign]
    Poller.run = run  # type: ignore[method-assign]
    try:
        yield injected
    finally:
        released.set()
        DynamoStore.write = original_write  # type: ignore[method-assign]
        Poller.run = original_run  # type: ignore[method-assign]


@contextmanager
def transactions_in_flight() -> Iterator[list[int]]:
    """Observes the pipelines of the local invocations: the most transactions any had in flight at once
    (its own count, kept as it sends them), in a one-element list."""
    from neptune_capture.pipeline import Pipeline
    from neptune_capture.plan import Batch

    most = [0]
    original = Pipeline.send

    def send(self: Pipeline, batch: Batch) -> None:
        original(self, batch)
        most[0] = max(most[0], self.progress.max_in_flight)

    Pipeline.send = send  # type: ignore[method-assign]
    try:
        yield most
    finally:
        Pipeline.send = original  # type: ignore[method-assign]
