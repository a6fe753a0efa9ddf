"""Faults the emulator cannot inject itself: in DynamoDB (moto's backend, server side) and in the Lambda
execution environment (the handler's process dying or hanging between two transactions)."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
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


@contextmanager
def handler_process_faults(
    share: float, seed: int, *, hang: bool = False, within: int = 4, first_after_commit: bool = False
) -> Iterator[Injected]:
    """The stream handler's process dies at a random point of an invocation: at its n-th transaction
    (n from 1 to `within`), just before or just after the commit (Runtime.ExitError); or, with `hang`,
    it stops responding there until the Lambda times out (Sandbox.Timedout), writing nothing more.

    The first invocation that writes is always hit, at its first transaction (after the commit with
    `first_after_commit`: mid-page when the page needs several), then a `share` of the others: per
    invocation, not per transaction, so Step Functions' retries (reset by every invocation that
    succeeds) are not exhausted by a run of unlucky ones, as a real crash now and then would not be."""
    from neptune_capture.plan import Lease, Transaction
    from neptune_capture.store import DynamoStore

    rng, injected, lock = random.Random(seed), Injected(), threading.Lock()
    released = threading.Event()
    invocation = threading.local()  # each local invocation runs in its own thread
    original = DynamoStore.write
    what = "hang" if hang else "crash"

    def faulty(self: DynamoStore, txn: Transaction, lease: Lease) -> None:
        if not threading.current_thread().name.startswith(THREAD_PREFIX):  # only inside a local invocation
            original(self, txn, lease)
            return
        if not hasattr(invocation, "writes"):
            with lock:
                first = injected.total == 0
                hit = first or rng.random() < share
                invocation.fault_at = (1 if first else rng.randint(1, within)) if hit else 0
                invocation.after = (first and first_after_commit) or rng.random() < 0.5
            invocation.writes = 0
        invocation.writes += 1
        if invocation.writes != invocation.fault_at:
            original(self, txn, lease)
            return
        where = "after" if invocation.after else "before"
        injected.add(f"{what} {where} commit")
        if invocation.after:
            original(self, txn, lease)
        if hang:
            released.wait()
        raise ProcessExit(f"injected {what} {where} committing events {txn.first}..{txn.last}")

    DynamoStore.write = faulty  # type: ignore[method-assign]
    try:
        yield injected
    finally:
        released.set()
        DynamoStore.write = original  # type: ignore[method-assign]
