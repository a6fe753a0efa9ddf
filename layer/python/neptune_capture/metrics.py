"""Metric names the pipeline emits and the sink it emits them to (powertools in Lambda)."""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable
from typing import Protocol

from .clock import Clock

RECORDS = "RecordsCaptured"
BATCHES = "Batches"
LAG_MS = "StreamLagMs"
THROTTLES = "Throttles"
FENCED = "FencedWrites"
EXPIRED = "ExpiredCheckpoint"
RETRIES = "Retries"
TRUNCATED = "TruncatedRecords"
MALFORMED = "MalformedPages"
# A capture generation the handler opened because the stream restarted under its checkpoint (a reset made
# outside neptune-stream): docs/reset-and-generations.md.
GENERATIONS = "GenerationsOpened"
# One per invocation that holds the lease and polls: a scheduled start turned away (fenced) counts nothing,
# so "no polling invocation for 30 minutes" means nothing captures, however often the schedule fires.
POLLING_INVOCATIONS = "PollingInvocations"


class MetricsSink(Protocol):
    def add(self, name: str, value: float, unit: str = "Count") -> None: ...


class CountingMetrics:
    """Keeps totals in memory: for tests, the local run and benchmarks."""

    def __init__(self) -> None:
        self.totals: defaultdict[str, float] = defaultdict(float)
        self.last: dict[str, float] = {}

    def add(self, name: str, value: float, unit: str = "Count") -> None:
        self.totals[name] += value
        self.last[name] = value


class PeriodicallyFlushed:
    """Emits through `add` and publishes with `flush` at most `interval_seconds` apart. An invocation
    polls for ~14 minutes: metrics published only at its end would reach the lag alarm far too late.
    Thread-safe: the prefetch thread adds metrics too."""

    def __init__(
        self, add: Callable[[str, float, str], None], flush: Callable[[], None], clock: Clock, interval_seconds: float = 60.0
    ) -> None:
        self._add, self._flush, self._clock, self._interval = add, flush, clock, interval_seconds
        self._lock = threading.Lock()
        self._last_flush = clock.monotonic()

    def add(self, name: str, value: float, unit: str = "Count") -> None:
        with self._lock:
            self._add(name, value, unit)
            now = self._clock.monotonic()
            if now - self._last_flush >= self._interval:
                self._flush()
                self._last_flush = now
