"""How hard and how often capture works: one frozen dataclass that the CDK construct takes (as its `tuning`
prop), the stack reads from context, and the functions' settings are built from. Standard library only, so
the CDK app imports it without the Lambda's dependencies.

Each bound is checked once, here, by `check`, which names a wrong field the way its caller spells it (the
construct's `tuning.in_flight`, the context key `neptune-stream:inFlight`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass

# An idle poller waits 0.1 s, then twice as long each time up to the max: the first change after a
# quiet spell waits at most that long. Waiting less costs nothing but Streams reads (the Lambda is
# billed for the whole invocation either way).
DEFAULT_IDLE_BASE_SECONDS = 0.1
DEFAULT_MAX_IDLE_WAIT_SECONDS = 1.0
DEFAULT_PAGE_LIMIT = 10_000
# Transactions of one backlog written at once (each one DynamoDB round trip). `make bench` sweeps 1..32
# against the latency model of DynamoDB: the figure grows until the handler's CPU is the limit, which 16
# reaches (16 x 98 records per ~60 ms round trip is more than one vCPU's ~15,000 records/s), and levels off
# beyond (README "Benchmarks"). 1 writes one transaction at a time.
DEFAULT_IN_FLIGHT = 16
# Fence slots the lease writes (one per transaction in flight, see plan.fence_key): the bound on in_flight.
MAX_IN_FLIGHT = 32
# Neptune's GetPropertygraphStream/GetSparqlStream take a `limit` of 1 to 100,000 records
# (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html).
MAX_PAGE_LIMIT = 100_000
# A loop iteration writes at most ~10 history events; 500 keeps an execution far below Step Functions'
# 25,000-event history quota (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html).
DEFAULT_ITERATIONS_PER_EXECUTION = 500
MAX_ITERATIONS_PER_EXECUTION = 2_000


@dataclass(frozen=True)
class CaptureTuning:
    """Every setting that trades throughput, latency and cost; the defaults are the measured ones."""

    # Records asked of Neptune per stream read.
    page_limit: int = DEFAULT_PAGE_LIMIT
    # Transactions of a backlog in flight at once.
    in_flight: int = DEFAULT_IN_FLIGHT
    # An idle poller's first wait and the longest it waits between two empty reads.
    idle_base_seconds: float = DEFAULT_IDLE_BASE_SECONDS
    max_idle_wait_seconds: float = DEFAULT_MAX_IDLE_WAIT_SECONDS
    # Poll iterations before an execution hands over to a fresh one (continue-as-new).
    iterations_per_execution: int = DEFAULT_ITERATIONS_PER_EXECUTION
    # The start schedule's period: how soon capture resumes by itself after it stopped.
    start_schedule_minutes: int = 5
    # The StreamLag alarm's threshold.
    lag_alarm_seconds: int = 300

    def __post_init__(self) -> None:
        check(asdict(self), lambda field: f"tuning.{field}")


def check(values: Mapping[str, float], name: Callable[[str], str]) -> None:
    """Raises ValueError naming the first value out of its bounds (`name` spells the field for the caller)."""
    v = values
    if not 1 <= v["page_limit"] <= MAX_PAGE_LIMIT:
        raise ValueError(f"{name('page_limit')} must be 1..{MAX_PAGE_LIMIT}, got {v['page_limit']}")
    if not 1 <= v["in_flight"] <= MAX_IN_FLIGHT:
        raise ValueError(f"{name('in_flight')} must be 1..{MAX_IN_FLIGHT}, got {v['in_flight']}")
    if not 1 <= v["iterations_per_execution"] <= MAX_ITERATIONS_PER_EXECUTION:
        raise ValueError(
            f"{name('iterations_per_execution')} must be 1..{MAX_ITERATIONS_PER_EXECUTION} to stay under the "
            f"25,000-event history limit, got {v['iterations_per_execution']}"
        )
    if not 0 < v["idle_base_seconds"] <= v["max_idle_wait_seconds"] <= 60:
        raise ValueError(
            f"{name('idle_base_seconds')} and {name('max_idle_wait_seconds')} must satisfy 0 < base <= max <= 60, "
            f"got {v['idle_base_seconds']} and {v['max_idle_wait_seconds']}"
        )
    if not 1 <= v["start_schedule_minutes"] <= 60:
        raise ValueError(f"{name('start_schedule_minutes')} must be 1..60, got {v['start_schedule_minutes']}")
    if not v["lag_alarm_seconds"] >= 1:
        raise ValueError(f"{name('lag_alarm_seconds')} must be 1 or more, got {v['lag_alarm_seconds']}")
