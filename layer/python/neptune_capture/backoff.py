"""Exponential backoff with full jitter, pure: the delay before each retry, and the idle schedule."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    base_seconds: float = 0.1
    cap_seconds: float = 5.0

    def delays(self, rng: random.Random | None = None) -> Iterator[float]:
        """max_attempts - 1 delays: full jitter keeps concurrent retriers from retrying in step."""
        r = rng or random.Random()
        for attempt in range(self.max_attempts - 1):
            yield r.uniform(0, min(self.cap_seconds, self.base_seconds * 2**attempt))


def idle_waits(base_seconds: float, max_seconds: float) -> Iterator[float]:
    """base, 2 x base, 4 x base ... seconds up to the max, for as long as the stream stays idle."""
    wait = base_seconds
    while True:
        yield min(wait, max_seconds)
        wait = min(wait * 2, max_seconds)
