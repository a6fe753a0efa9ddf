"""What a DynamoDB call costs in time and capacity, for the DynamoDB model (dynamo_model.py).

Latency. AWS publishes no latency figures for TransactWriteItems (the USENIX ATC 2023 paper on DynamoDB
transactions plots latency without values on its axis). The published measurement used here is Alex
DeBrie's, from Lambda, 400 calls per configuration
(https://github.com/alexdebrie/dynamodb-performance-testing, written up at
https://www.alexdebrie.com/posts/dynamodb-transactions-performance/): TransactWriteItems of 5 items p50
25.3 ms, p99 92.5 ms; of 25 items p50 32.1 ms, p99 97.5 ms; PutItem p50 7.55 ms, p99 16.2 ms. Those were
taken when a transaction held at most 25 items; for ~100 items the model extends the same straight line:
p50 57.6 ms, p99 116.3 ms. Each call's latency is drawn from a log-normal distribution with the p50 and
p99 of its item count; `--p50-ms/--p99-ms` (bench) set the ~100-item figures and scale the line.

Capacity. A transactional write of an item up to 1 KB takes 2 write units, rounded up per KB
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html), and an
on-demand table serves at most 40,000 write request units per second by default
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/ServiceQuotas.html). The docs do not say
which unit a ConditionCheck consumes beyond "two underlying reads or writes of every item in the
transaction" (https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/transaction-apis.html):
the model charges it as a transactional write of the item it checks, the dearer reading. A newly created
on-demand table serves up to 4,000 write request units at first and grows with its traffic
(https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/on-demand-capacity-mode.html); the
model gives the table its default maximum from the start (a knob sets another)."""

from __future__ import annotations

import math
import random
import threading
from dataclasses import dataclass, field

from neptune_capture.clock import Clock

Z99 = 2.3263478740408408  # the standard normal's 99th percentile
# DeBrie's TransactWriteItems measurements, (items, p50 ms, p99 ms), and PutItem's.
MEASURED_TRANSACTIONS = ((5, 25.3, 92.5), (25, 32.1, 97.5))
MEASURED_SINGLE_ITEM = (7.55, 16.2)
TRANSACTION_ITEMS = 100
WRITE_UNITS_PER_KB_TRANSACTIONAL = 2
KB = 1024
DEFAULT_TABLE_WRITE_UNITS_PER_S = 40_000.0


def _line(items: float, column: int) -> float:
    (n1, *a), (n2, *b) = MEASURED_TRANSACTIONS
    slope = (b[column] - a[column]) / (n2 - n1)
    return a[column] + slope * (items - n1)


# p50 and p99 of a 100-item transaction on DeBrie's line: 57.6 and 116.25 ms.
EXTRAPOLATED_P50_MS = _line(TRANSACTION_ITEMS, 0)
EXTRAPOLATED_P99_MS = _line(TRANSACTION_ITEMS, 1)


@dataclass(frozen=True)
class LogNormal:
    median_ms: float
    p99_ms: float

    @property
    def sigma(self) -> float:
        return math.log(self.p99_ms / self.median_ms) / Z99

    @property
    def mean_ms(self) -> float:
        return self.median_ms * math.exp(self.sigma**2 / 2)

    def sample_ms(self, rng: random.Random) -> float:
        return rng.lognormvariate(math.log(self.median_ms), self.sigma)


@dataclass
class LatencyModel:
    """Per-call latency: `p50_ms`/`p99_ms` for a transaction of ~100 items, other sizes on the measured line."""

    p50_ms: float = EXTRAPOLATED_P50_MS
    p99_ms: float = EXTRAPOLATED_P99_MS
    seed: int = 0
    _rng: random.Random = field(init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if not 0 < self.p50_ms < self.p99_ms:
            raise ValueError(f"latency needs 0 < p50 < p99, got p50 {self.p50_ms} ms and p99 {self.p99_ms} ms")
        self._rng = random.Random(self.seed)

    def transaction(self, items: int) -> LogNormal:
        scale50, scale99 = self.p50_ms / EXTRAPOLATED_P50_MS, self.p99_ms / EXTRAPOLATED_P99_MS
        return LogNormal(_line(items, 0) * scale50, _line(items, 1) * scale99)

    def single_item(self) -> LogNormal:
        return LogNormal(*MEASURED_SINGLE_ITEM)

    def sample_seconds(self, distribution: LogNormal) -> float:
        with self._lock:
            return distribution.sample_ms(self._rng) / 1000

    def serial_bound_records_per_s(self, records_per_transaction: int) -> float:
        """The most one writer waiting for each transaction before the next can reach."""
        return records_per_transaction / (self.transaction(TRANSACTION_ITEMS).mean_ms / 1000)


def write_units(item_bytes: int) -> int:
    return WRITE_UNITS_PER_KB_TRANSACTIONAL * max(1, math.ceil(item_bytes / KB))


@dataclass
class Throughput:
    """A table's write request units per second: a bucket that holds one second of them."""

    units_per_s: float
    clock: Clock
    _available: float = field(init=False)
    _at: float = field(init=False)

    def __post_init__(self) -> None:
        if self.units_per_s <= 0:
            raise ValueError(f"a table's write units per second must be positive, got {self.units_per_s}")
        self._available, self._at = self.units_per_s, self.clock.monotonic()

    def take(self, units: float) -> bool:
        """Consumes `units` if the table has them now; False (throttled) otherwise. Not thread-safe: the
        model calls it under its lock."""
        now = self.clock.monotonic()
        self._available = min(self.units_per_s, self._available + (now - self._at) * self.units_per_s)
        self._at = now
        if units > self._available:
            return False
        self._available -= units
        return True
