"""The ports of the capture core: what it asks of the world (a stream to read, a store to write, and the
writer's answer), as Protocols the adapters satisfy (stream_source.NeptuneStreamSource, store.DynamoStore)
and the tests' fakes satisfy too. Standard library and the pure core only: importing the core
(plan, pipeline, poller, events, items) loads neither boto3 nor botocore (tests/unit/test_import_rules.py).

The clock, the lanes and the metrics sink are ports as well; they live beside their default
implementation (clock.Clock, lanes.Lanes, metrics.MetricsSink) and are named here for one place to look."""

from __future__ import annotations

from enum import StrEnum
from typing import Protocol

from .clock import Clock
from .events import EventId, StreamEvent, StreamPage
from .lanes import Lanes
from .metrics import MetricsSink
from .plan import BatchContext, Checkpoint, Lease, Transaction
from .schema import GenerationReason

__all__ = ["Clock", "Lanes", "MetricsSink", "Outcome", "Store", "StreamSource", "Writer"]


class Outcome(StrEnum):
    WRITTEN = "written"
    ALREADY_STORED = "already stored"  # the batch was in the tables already: nothing was written


class Writer(Protocol):
    def write(self, txn: Transaction, lease: Lease) -> Outcome: ...


class StreamSource(Protocol):
    def fetch(self, after: EventId | None) -> StreamPage: ...
    def latest(self) -> StreamEvent | None: ...
    def at(self, position: EventId) -> StreamEvent | None: ...


class Store(Protocol):
    def acquire_lease(
        self, owner: str, parent: str | None, ttl_ms: int, *, force: bool = False, take_over_from: str | None = None
    ) -> tuple[Checkpoint, Lease]: ...
    def write(self, txn: Transaction, lease: Lease) -> Outcome: ...
    def record_gap(self, checkpoint: Checkpoint, context: BatchContext, reason: str) -> Checkpoint: ...
    def record_start_from_latest(
        self, checkpoint: Checkpoint, context: BatchContext, latest: StreamEvent | None
    ) -> Checkpoint: ...
    def open_generation(
        self, checkpoint: Checkpoint, reason: GenerationReason, detail: str, context: BatchContext | None
    ) -> Checkpoint: ...
