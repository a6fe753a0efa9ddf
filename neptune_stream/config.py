"""Deployment settings read from CDK context (cdk.json, or `-c key=value` on the command line)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from constructs import Construct

from neptune_capture.contract import GraphModel, StartFrom
from neptune_capture.settings import (
    DEFAULT_IDLE_BASE_SECONDS,
    DEFAULT_IN_FLIGHT,
    DEFAULT_MAX_IDLE_WAIT_SECONDS,
    DEFAULT_PAGE_LIMIT,
    MAX_IN_FLIGHT,
    parse_graph_model,
    parse_start_from,
)
from neptune_stream import existing_spec
from neptune_stream.defaults import Defaults
from neptune_stream.existing_spec import ExistingCluster
from neptune_stream.pins import DEFAULT_INSTANCE_CLASS

PREFIX = "neptune-stream:"
MODES = ("demo", "production")
# "bundled": Powertools ships in the project's own layer (works wherever Neptune does); "public-layer": its
# publisher's layer, found through the public SSM parameter it writes in the regions it publishes to.
POWERTOOLS_SOURCES = ("bundled", "public-layer")


@dataclass(frozen=True)
class StackConfig:
    # "demo" lets `cdk destroy` remove every resource; "production" keeps data and blocks deletion.
    mode: str = "demo"
    instance_class: str = DEFAULT_INSTANCE_CLASS
    streams_expiry_days: int = 7
    # A loop iteration writes at most ~10 history events; 500 keeps an execution far below 25,000.
    iterations_per_execution: int = 500
    page_limit: int = DEFAULT_PAGE_LIMIT
    # Transactions of a backlog in flight at once (the measured best, docs/benchmarks.md).
    in_flight: int = DEFAULT_IN_FLIGHT
    # The handler's own defaults (see neptune_capture.settings).
    idle_base_seconds: float = DEFAULT_IDLE_BASE_SECONDS
    max_idle_wait_seconds: float = DEFAULT_MAX_IDLE_WAIT_SECONDS
    lag_alarm_seconds: int = 300
    log_retention_days: int = 30
    # The schedule that starts an execution (fenced at once while one runs): capture restarts by itself.
    start_schedule_minutes: int = 5
    # True: the schedule is on from the deploy, so capture begins with `cdk deploy`. False: it is created
    # paused, and capture begins with `neptune-stream start` (which resumes it).
    auto_start: bool = True
    powertools: str = "bundled"
    # An existing cluster to capture (read from the file `existingCluster` names); None: the stack creates one.
    existing_cluster: ExistingCluster | None = None
    # Whether the reset Lambda (Neptune fast reset: it erases the graph) exists. None: yes for the stack's own
    # cluster, no for an existing one, which holds someone's data.
    allow_reset: bool | None = None
    # Where capture begins the first time it starts (an execution's `startFrom` overrides it).
    start_from: StartFrom = StartFrom.TRIM_HORIZON
    # Which graph's stream the handler captures: the property graph's (PG_JSON) or the RDF graph's (NQUADS).
    graph_model: GraphModel = GraphModel.PROPERTY_GRAPH

    @property
    def production(self) -> bool:
        return self.mode == "production"

    @property
    def reset_function(self) -> bool:
        return self.allow_reset if self.allow_reset is not None else self.existing_cluster is None

    @property
    def defaults(self) -> Defaults:
        # The history captured from a cluster someone already runs cannot be captured again once its stream
        # has moved on: in that mode the tables and logs are kept (and deletion-protected) whatever the mode.
        keep = self.production or self.existing_cluster is not None
        return Defaults(production=keep, log_retention_days=self.log_retention_days)

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"{PREFIX}mode must be one of {MODES}, got {self.mode!r}")
        if not 1 <= self.streams_expiry_days <= 90:
            raise ValueError(f"{PREFIX}streamsExpiryDays must be 1..90, got {self.streams_expiry_days}")
        if not 1 <= self.page_limit <= 100_000:
            raise ValueError(f"{PREFIX}pageLimit must be 1..100000, got {self.page_limit}")
        if not 1 <= self.in_flight <= MAX_IN_FLIGHT:
            raise ValueError(f"{PREFIX}inFlight must be 1..{MAX_IN_FLIGHT}, got {self.in_flight}")
        if not 1 <= self.iterations_per_execution <= 2_000:
            raise ValueError(
                f"{PREFIX}iterationsPerExecution must be 1..2000 to stay under the "
                f"25,000-event history limit, got {self.iterations_per_execution}"
            )
        if not 0 < self.idle_base_seconds <= self.max_idle_wait_seconds <= 60:
            raise ValueError(
                f"{PREFIX}idleBaseSeconds and maxIdleWaitSeconds must satisfy 0 < base <= max <= 60, "
                f"got {self.idle_base_seconds} and {self.max_idle_wait_seconds}"
            )
        if not 1 <= self.start_schedule_minutes <= 60:
            raise ValueError(f"{PREFIX}startScheduleMinutes must be 1..60, got {self.start_schedule_minutes}")
        if self.powertools not in POWERTOOLS_SOURCES:
            raise ValueError(f"{PREFIX}powertools must be one of {POWERTOOLS_SOURCES}, got {self.powertools!r}")
        self.defaults  # noqa: B018 - validates the log retention
        if not self.instance_class.startswith("db."):
            raise ValueError(f"{PREFIX}instanceClass must look like db.r6g.large, got {self.instance_class!r}")

    @classmethod
    def from_context(cls, scope: Construct) -> StackConfig:
        def get(key: str, default: Any) -> Any:
            value = scope.node.try_get_context(PREFIX + key)
            if value is None:
                return default
            # -c on the command line always yields strings; cdk.json yields typed values.
            if isinstance(default, bool):
                return parse_bool(key, value)
            return type(default)(value)

        d = cls()
        existing = scope.node.try_get_context(PREFIX + "existingCluster")
        allow_reset = scope.node.try_get_context(PREFIX + "allowReset")
        return cls(
            mode=get("mode", d.mode),
            instance_class=get("instanceClass", d.instance_class),
            streams_expiry_days=get("streamsExpiryDays", d.streams_expiry_days),
            iterations_per_execution=get("iterationsPerExecution", d.iterations_per_execution),
            page_limit=get("pageLimit", d.page_limit),
            in_flight=get("inFlight", d.in_flight),
            idle_base_seconds=get("idleBaseSeconds", d.idle_base_seconds),
            max_idle_wait_seconds=get("maxIdleWaitSeconds", d.max_idle_wait_seconds),
            lag_alarm_seconds=get("lagAlarmSeconds", d.lag_alarm_seconds),
            log_retention_days=get("logRetentionDays", d.log_retention_days),
            start_schedule_minutes=get("startScheduleMinutes", d.start_schedule_minutes),
            auto_start=get("autoStart", d.auto_start),
            powertools=get("powertools", d.powertools),
            existing_cluster=existing_spec.load(str(existing)) if existing else None,
            allow_reset=None if allow_reset is None else parse_bool("allowReset", allow_reset),
            start_from=parse_start_from(get("startFrom", str(d.start_from)), PREFIX + "startFrom"),
            graph_model=parse_graph_model(get("graphModel", str(d.graph_model)), PREFIX + "graphModel"),
        )


def parse_bool(key: str, value: Any) -> bool:
    """`bool("false")` is True: read the words, and refuse anything else."""
    if isinstance(value, bool):
        return value
    words = {"true": True, "false": False}
    if str(value).lower() not in words:
        raise ValueError(f"{PREFIX}{key} must be true or false, got {value!r}")
    return words[str(value).lower()]
