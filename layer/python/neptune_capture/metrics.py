"""Metric names the pipeline emits and the sink it emits them to (powertools in Lambda)."""

from __future__ import annotations

from collections import defaultdict
from typing import Protocol

RECORDS = "RecordsCaptured"
BATCHES = "Batches"
LAG_MS = "StreamLagMs"
THROTTLES = "Throttles"
FENCED = "FencedWrites"
EXPIRED = "ExpiredCheckpoint"
RETRIES = "Retries"
TRUNCATED = "TruncatedRecords"
MALFORMED = "MalformedPages"


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
