"""Faults the emulator cannot inject itself: in DynamoDB (moto's backend, server side) and in the Lambda
execution environment (the handler's process dying or hanging between two transactions)."""

from __future__ import annotations

import contextvars
import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

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


@contextmanager
def dynamodb_conflicts(rate: float, seed: int) -> Iterator[Injected]:
    """Cancels a share of TransactWriteItems with TransactionConflict, as concurrent writers would."""
    from moto.dynamodb import models
    from moto.dynamodb.exceptions import TransactionCanceledException

    rng, injected = random.Random(seed), Injected()
    original = models.DynamoDBBackend.transact_write_items

    def conflicting(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if rng.random() < rate:
            injected.add("TransactionConflict")
            raise TransactionCanceledException([("TransactionConflict", "injected conflict", None)] * len(transact_items))
        original(self, transact_items)

    models.DynamoDBBackend.transact_write_items = conflicting  # type: ignore[method-assign]
    try:
        yield injected
    finally:
        models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


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
