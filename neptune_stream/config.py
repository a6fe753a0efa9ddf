"""Deployment settings read from CDK context (cdk.json, or `-c key=value` on the command line)."""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from constructs import Construct

from neptune_capture.contract import CONTEXT_PREFIX, ContextKey, GraphModel, StartFrom
from neptune_capture.settings import parse_graph_model, parse_start_from
from neptune_capture.tuning import CaptureTuning, check
from neptune_stream import existing_spec
from neptune_stream.defaults import Defaults
from neptune_stream.existing_spec import ExistingCluster
from neptune_stream.pins import DEFAULT_INSTANCE_CLASS

MODES = ("demo", "production")
# "bundled": Powertools ships in the project's own layer (works wherever Neptune does); "public-layer": its
# publisher's layer, found through the public SSM parameter it writes in the regions it publishes to.
POWERTOOLS_SOURCES = ("bundled", "public-layer")
# The context key of each CaptureTuning field (the stack's settings are flat in cdk.json).
TUNING_CONTEXT_KEYS = {
    "page_limit": ContextKey.PAGE_LIMIT,
    "in_flight": ContextKey.IN_FLIGHT,
    "idle_base_seconds": ContextKey.IDLE_BASE_SECONDS,
    "max_idle_wait_seconds": ContextKey.MAX_IDLE_WAIT_SECONDS,
    "iterations_per_execution": ContextKey.ITERATIONS_PER_EXECUTION,
    "start_schedule_minutes": ContextKey.START_SCHEDULE_MINUTES,
    "lag_alarm_seconds": ContextKey.LAG_ALARM_SECONDS,
}
_TUNING = CaptureTuning()


@dataclass(frozen=True)
class StackConfig:
    # "demo" lets `cdk destroy` remove every resource; "production" keeps data and blocks deletion.
    mode: str = "demo"
    instance_class: str = DEFAULT_INSTANCE_CLASS
    streams_expiry_days: int = 7
    # The CaptureTuning fields, flat as cdk.json holds them (`tuning` gathers them; defaults and meaning:
    # neptune_capture.tuning).
    iterations_per_execution: int = _TUNING.iterations_per_execution
    page_limit: int = _TUNING.page_limit
    in_flight: int = _TUNING.in_flight
    idle_base_seconds: float = _TUNING.idle_base_seconds
    max_idle_wait_seconds: float = _TUNING.max_idle_wait_seconds
    lag_alarm_seconds: int = _TUNING.lag_alarm_seconds
    # The schedule that starts an execution (fenced at once while one runs): capture restarts by itself.
    start_schedule_minutes: int = _TUNING.start_schedule_minutes
    log_retention_days: int = 30
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
    def tuning(self) -> CaptureTuning:
        return CaptureTuning(**{f: getattr(self, f) for f in TUNING_CONTEXT_KEYS})

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
            raise ValueError(f"{ContextKey.MODE.qualified} must be one of {MODES}, got {self.mode!r}")
        if not 1 <= self.streams_expiry_days <= 90:
            raise ValueError(f"{ContextKey.STREAMS_EXPIRY_DAYS.qualified} must be 1..90, got {self.streams_expiry_days}")
        # The tuning's own bounds, each named by its context key.
        check({f: getattr(self, f) for f in TUNING_CONTEXT_KEYS}, lambda field: TUNING_CONTEXT_KEYS[field].qualified)
        if self.powertools not in POWERTOOLS_SOURCES:
            raise ValueError(f"{ContextKey.POWERTOOLS.qualified} must be one of {POWERTOOLS_SOURCES}, got {self.powertools!r}")
        self.defaults  # noqa: B018 - validates the log retention
        if not self.instance_class.startswith("db."):
            raise ValueError(f"{ContextKey.INSTANCE_CLASS.qualified} must look like db.r6g.large, got {self.instance_class!r}")

    @classmethod
    def from_context(cls, scope: Construct) -> StackConfig:
        def get(key: ContextKey, default: Any) -> Any:
            value = scope.node.try_get_context(key.qualified)
            if value is None:
                return default
            # -c on the command line always yields strings; cdk.json yields typed values.
            if isinstance(default, bool):
                return parse_bool(key, value)
            return type(default)(value)

        refuse_unknown_keys(scope.node.get_all_context())
        d = cls()
        existing = scope.node.try_get_context(ContextKey.EXISTING_CLUSTER.qualified)
        allow_reset = scope.node.try_get_context(ContextKey.ALLOW_RESET.qualified)
        return cls(
            mode=get(ContextKey.MODE, d.mode),
            instance_class=get(ContextKey.INSTANCE_CLASS, d.instance_class),
            streams_expiry_days=get(ContextKey.STREAMS_EXPIRY_DAYS, d.streams_expiry_days),
            log_retention_days=get(ContextKey.LOG_RETENTION_DAYS, d.log_retention_days),
            # The tuning's fields, each under its one context key.
            **{field: get(key, getattr(d, field)) for field, key in TUNING_CONTEXT_KEYS.items()},
            auto_start=get(ContextKey.AUTO_START, d.auto_start),
            powertools=get(ContextKey.POWERTOOLS, d.powertools),
            existing_cluster=existing_spec.load(str(existing)) if existing else None,
            allow_reset=None if allow_reset is None else parse_bool(ContextKey.ALLOW_RESET, allow_reset),
            start_from=parse_start_from(get(ContextKey.START_FROM, str(d.start_from)), ContextKey.START_FROM.qualified),
            graph_model=parse_graph_model(get(ContextKey.GRAPH_MODEL, str(d.graph_model)), ContextKey.GRAPH_MODEL.qualified),
        )


def refuse_unknown_keys(context: Mapping[str, Any]) -> None:
    """A mistyped setting (`neptune-stream:inflight` in cdk.json) would otherwise be ignored in silence and the
    stack deployed with the default: every key under the prefix must be one the stack reads."""
    known = {k.qualified for k in ContextKey}
    for key in sorted(k for k in context if k.startswith(CONTEXT_PREFIX) and k not in known):
        # Compared without the prefix every key shares, which would make any two keys look alike.
        close = difflib.get_close_matches(key.removeprefix(CONTEXT_PREFIX), [str(k) for k in ContextKey], n=1, cutoff=0.6)
        hint = f"did you mean {ContextKey(close[0]).qualified}? " if close else ""
        raise ValueError(f"{key} is not a setting of the stack: {hint}the settings are listed in docs/configuration.md")


def parse_bool(key: ContextKey, value: Any) -> bool:
    """`bool("false")` is True: read the words, and refuse anything else."""
    if isinstance(value, bool):
        return value
    words = {"true": True, "false": False}
    if str(value).lower() not in words:
        raise ValueError(f"{key.qualified} must be true or false, got {value!r}")
    return words[str(value).lower()]
