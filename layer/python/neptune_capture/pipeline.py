"""Writes batches with several transactions in flight, and moves the checkpoint only over batches that
have all committed.

- A closed batch goes out at once as a data transaction on a free fence slot: up to `in_flight` of them
  are in flight together, on distinct slots, touching distinct items.
- When every batch up to some point has committed and the checkpoint is behind it, one advance moves
  the checkpoint there (one at a time: the checkpoint item is only ever in one transaction at once;
  invariant I4, docs/exactly-once.md#i4).
- The last batch before the stream catches up (an empty page) is sent alone, once everything before it
  has committed, with the checkpoint update to its own last event. At the end of an invocation the open
  tail is not written at all: the next invocation reads it again.

So after a crash anywhere, the checkpoint is at a point where everything before it is stored; batches
committed beyond it are cut again exactly the same way by the next writer (plan.Batcher), which finds
their history items and does not write them again."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from enum import Enum

from . import metrics as m
from .events import EventId
from .lanes import Lanes
from .metrics import MetricsSink
from .plan import Batch, BatchContext, Checkpoint, Lease, Transaction, advance, data_transaction, self_checkpointing
from .ports import Outcome, Writer
from .schema import RecordAttr as R

log = logging.getLogger(__name__)


class Kind(Enum):
    DATA = "data"
    FINAL = "final"  # a batch with the checkpoint update to its own end
    ADVANCE = "advance"


@dataclass
class _Entry:
    batch: Batch
    committed: bool = False


@dataclass
class _Job:
    kind: Kind
    txn: Transaction
    entry: _Entry | None = None
    slot: int | None = None


@dataclass
class Progress:
    records: int = 0  # written by this pipeline (a batch found already stored is not counted again)
    transactions: int = 0
    max_in_flight: int = 0


@dataclass
class Pipeline:
    writer: Writer
    lanes: Lanes
    checkpoint: Checkpoint
    lease: Lease
    in_flight: int
    context_now: Callable[[], BatchContext]
    metrics: MetricsSink
    progress: Progress = field(default_factory=Progress)
    _order: deque[_Entry] = field(default_factory=deque)
    _jobs: dict[Future[Outcome], _Job] = field(default_factory=dict)
    _free_slots: list[int] = field(default_factory=list)
    _committed_to: tuple[EventId, int] | None = None  # end of the batches that have all committed
    _checkpoint_busy: bool = False  # an advance or a final batch is in flight
    _failure: BaseException | None = None

    def __post_init__(self) -> None:
        if self.in_flight < 1:
            raise ValueError(f"in_flight must be at least 1, got {self.in_flight}")
        self._free_slots = list(range(self.in_flight - 1, -1, -1))

    # -- what the poller calls
    def send(self, batch: Batch) -> None:
        """Sends a closed batch as soon as a fence slot is free. Completions are taken in only when the
        window is full (or at the end of a page), so `max_in_flight` counts the transactions sent before
        any earlier one was known to have committed."""
        while not self._free_slots and self._failure is None:
            self._await()
        self._raise_if_failed()
        self._advance_if_due()
        slot = self._free_slots.pop()
        entry = _Entry(batch)
        self._order.append(entry)
        self._submit(_Job(Kind.DATA, data_transaction(batch, slot, self.context_now()), entry, slot))
        data = sum(1 for job in self._jobs.values() if job.kind is Kind.DATA)
        self.progress.max_in_flight = max(self.progress.max_in_flight, data)

    def send_final(self, batch: Batch) -> None:
        """Sends `batch` with the checkpoint update to its own end, once everything before it has
        committed, and waits for it: nothing after it is sent before it commits."""
        self._settle(advance_checkpoint=False)
        entry = _Entry(batch)
        self._order.append(entry)
        self._submit(_Job(Kind.FINAL, self_checkpointing(batch, self.checkpoint.version, self.context_now()), entry))
        self._settle(advance_checkpoint=True)

    def drain(self) -> Checkpoint:
        """Waits for every transaction in flight and moves the checkpoint over all that committed."""
        self._settle(advance_checkpoint=True)
        return self.checkpoint

    def restart_at(self, checkpoint: Checkpoint) -> None:
        """Carries on from a checkpoint moved outside the pipeline (a recorded gap clears it): what had
        committed before is behind it and must never be advanced to again."""
        if self._jobs or self._order:
            raise RuntimeError("the pipeline restarts only once everything sent has landed (drain first)")
        self.checkpoint, self._committed_to = checkpoint, None

    # -- bookkeeping
    def _settle(self, *, advance_checkpoint: bool) -> None:
        while True:
            if advance_checkpoint:
                self._advance_if_due()
            if not self._jobs:
                break
            self._await()
        self._raise_if_failed()

    def _submit(self, job: _Job) -> None:
        if job.kind is not Kind.DATA:
            self._checkpoint_busy = True
        txn = job.txn
        self._jobs[self.lanes.submit(lambda: self.writer.write(txn, self.lease))] = job

    def _await(self) -> None:
        self.lanes.wait_any(list(self._jobs))
        self._harvest()

    def _harvest(self) -> None:
        for future in [f for f in self._jobs if f.done()]:
            self._complete(future, self._jobs.pop(future))

    def _complete(self, future: Future[Outcome], job: _Job) -> None:
        if job.slot is not None:
            self._free_slots.append(job.slot)
        if job.kind is not Kind.DATA:
            self._checkpoint_busy = False
        try:
            outcome = future.result()
        except BaseException as error:  # kept, and re-raised once nothing is in flight
            if self._failure is None:
                self._failure = error
            return
        txn = job.txn
        if job.kind is not Kind.DATA and outcome is Outcome.WRITTEN:
            self.checkpoint = self.checkpoint.after(txn, self.lease.owner)
        if job.entry is None:
            return
        job.entry.committed = True
        if outcome is Outcome.WRITTEN:
            self.progress.records += len(txn.records)
            self.progress.transactions += 1
            self.metrics.add(m.RECORDS, len(txn.records))
            self.metrics.add(m.BATCHES, 1)
            truncated = sum(1 for r in txn.records if R.TRUNCATED in r)
            if truncated:
                self.metrics.add(m.TRUNCATED, truncated)
        while self._order and self._order[0].committed:
            done = self._order.popleft().batch
            self._committed_to = (done.last, done.events[-1].commit_timestamp)

    def _advance_if_due(self) -> None:
        if self._failure is not None or self._checkpoint_busy or self._committed_to is None:
            return
        last, commit_timestamp = self._committed_to
        if self.checkpoint.position is not None and last <= self.checkpoint.position:
            return
        self._submit(
            _Job(
                Kind.ADVANCE,
                advance(last, commit_timestamp, self.checkpoint.version, self.context_now(), self.checkpoint.generation),
            )
        )

    def _raise_if_failed(self) -> None:
        if self._failure is None:
            return
        while self._jobs:  # nothing more is sent; what is in flight lands (or fails) first
            self._await()
        raise self._failure
