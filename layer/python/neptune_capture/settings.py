"""The stream handler's settings and their environment variables: `to_env()` is what the CDK stack and
the local run give the function, `from_env()` what the handler reads back. Standard library only, so
the CDK app can import it without the Lambda's dependencies."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from .contract import DEFAULT_STREAM_ID, METRICS_NAMESPACE, GraphModel, StartFrom, service_name
from .schema import TableNames
from .tuning import (
    DEFAULT_IDLE_BASE_SECONDS,
    DEFAULT_IN_FLIGHT,
    DEFAULT_MAX_IDLE_WAIT_SECONDS,
    DEFAULT_PAGE_LIMIT,
    MAX_IN_FLIGHT,
)

# The tuning bounds and defaults live with the tuning dataclass; this module re-exports them for its readers.
__all__ = [
    "DEFAULT_IDLE_BASE_SECONDS",
    "DEFAULT_IN_FLIGHT",
    "DEFAULT_LEASE_TTL_SECONDS",
    "DEFAULT_MAX_IDLE_WAIT_SECONDS",
    "DEFAULT_PAGE_LIMIT",
    "MAX_IN_FLIGHT",
    "REQUIRED",
    "Env",
    "HandlerSettings",
    "parse_graph_model",
    "parse_start_from",
    "powertools_env",
]

# Longer than one invocation plus Step Functions' retry backoff, so a live poller never loses it.
DEFAULT_LEASE_TTL_SECONDS = 1200


class Env(StrEnum):
    NEPTUNE_ENDPOINT = "NEPTUNE_ENDPOINT"
    DYNAMODB_ENDPOINT = "DYNAMODB_ENDPOINT"  # local run only: DynamoDB from moto
    STREAM_ID = "STREAM_ID"
    RECORDS_TABLE = "RECORDS_TABLE"
    HISTORY_TABLE = "HISTORY_TABLE"
    CHECKPOINT_TABLE = "CHECKPOINT_TABLE"
    PAGE_LIMIT = "PAGE_LIMIT"
    IN_FLIGHT = "IN_FLIGHT"
    IDLE_BASE_SECONDS = "IDLE_BASE_SECONDS"
    MAX_IDLE_WAIT_SECONDS = "MAX_IDLE_WAIT_SECONDS"
    SAFETY_MARGIN_SECONDS = "SAFETY_MARGIN_SECONDS"
    TIME_BUDGET_SECONDS = "TIME_BUDGET_SECONDS"
    IDLE_PAUSE_SECONDS = "IDLE_PAUSE_SECONDS"
    LEASE_TTL_SECONDS = "LEASE_TTL_SECONDS"
    MAX_EXECUTION_AGE_DAYS = "MAX_EXECUTION_AGE_DAYS"
    # Where the first capture on the stream begins unless the execution says (TRIM_HORIZON or LATEST).
    START_FROM = "START_FROM"
    # Which stream the handler reads: propertygraph (PG_JSON) or rdf (NQUADS).
    GRAPH_MODEL = "GRAPH_MODEL"
    # Read by Powertools itself.
    POWERTOOLS_SERVICE_NAME = "POWERTOOLS_SERVICE_NAME"
    POWERTOOLS_METRICS_NAMESPACE = "POWERTOOLS_METRICS_NAMESPACE"


def powertools_env(stream_id: str = DEFAULT_STREAM_ID) -> dict[str, str]:
    """Every function's Powertools identity: the metrics namespace and service the alarms read."""
    return {Env.POWERTOOLS_SERVICE_NAME: service_name(stream_id), Env.POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE}


REQUIRED = (Env.RECORDS_TABLE, Env.HISTORY_TABLE, Env.CHECKPOINT_TABLE, Env.NEPTUNE_ENDPOINT)


@dataclass(frozen=True)
class HandlerSettings:
    tables: TableNames
    neptune_endpoint: str
    stream_id: str = DEFAULT_STREAM_ID
    dynamodb_endpoint: str | None = None
    page_limit: int = DEFAULT_PAGE_LIMIT
    in_flight: int = DEFAULT_IN_FLIGHT
    idle_base_seconds: float = DEFAULT_IDLE_BASE_SECONDS
    max_idle_wait_seconds: float = DEFAULT_MAX_IDLE_WAIT_SECONDS
    # Time the handler keeps for itself after its polling budget: one in-flight transaction and its retries.
    safety_margin_seconds: float = 60.0
    # At most this long per invocation whatever the Lambda timeout (the local run uses a few seconds).
    time_budget_seconds: float | None = None
    idle_pause_seconds: int = 0
    lease_ttl_seconds: int = DEFAULT_LEASE_TTL_SECONDS
    # Hand over long before Step Functions' one-year limit, whatever the iteration count.
    max_execution_age_days: float = 30.0
    start_from: StartFrom = StartFrom.TRIM_HORIZON
    graph_model: GraphModel = GraphModel.PROPERTY_GRAPH

    def __post_init__(self) -> None:
        if not 1 <= self.in_flight <= MAX_IN_FLIGHT:
            raise ValueError(f"{Env.IN_FLIGHT} must be 1..{MAX_IN_FLIGHT}, got {self.in_flight}")

    def to_env(self) -> dict[str, str]:
        env = {
            Env.NEPTUNE_ENDPOINT: self.neptune_endpoint,
            Env.STREAM_ID: self.stream_id,
            Env.RECORDS_TABLE: self.tables.records,
            Env.HISTORY_TABLE: self.tables.history,
            Env.CHECKPOINT_TABLE: self.tables.checkpoint,
            Env.PAGE_LIMIT: str(self.page_limit),
            Env.IN_FLIGHT: str(self.in_flight),
            Env.IDLE_BASE_SECONDS: str(self.idle_base_seconds),
            Env.MAX_IDLE_WAIT_SECONDS: str(self.max_idle_wait_seconds),
            Env.SAFETY_MARGIN_SECONDS: str(self.safety_margin_seconds),
            Env.IDLE_PAUSE_SECONDS: str(self.idle_pause_seconds),
            Env.LEASE_TTL_SECONDS: str(self.lease_ttl_seconds),
            Env.MAX_EXECUTION_AGE_DAYS: str(self.max_execution_age_days),
            Env.START_FROM: str(self.start_from),
            Env.GRAPH_MODEL: str(self.graph_model),
            **powertools_env(self.stream_id),
        }
        if self.dynamodb_endpoint is not None:
            env[Env.DYNAMODB_ENDPOINT] = self.dynamodb_endpoint
        if self.time_budget_seconds is not None:
            env[Env.TIME_BUDGET_SECONDS] = str(self.time_budget_seconds)
        return {str(k): v for k, v in env.items()}

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HandlerSettings:
        e = os.environ if env is None else env
        missing = [str(k) for k in REQUIRED if not e.get(k)]
        if missing:
            raise ValueError(f"stream handler is missing environment variables: {', '.join(missing)}")
        d = cls(tables=TableNames("", "", ""), neptune_endpoint="")
        budget = e.get(Env.TIME_BUDGET_SECONDS)
        return cls(
            stream_id=e.get(Env.STREAM_ID) or d.stream_id,
            tables=TableNames(records=e[Env.RECORDS_TABLE], history=e[Env.HISTORY_TABLE], checkpoint=e[Env.CHECKPOINT_TABLE]),
            neptune_endpoint=e[Env.NEPTUNE_ENDPOINT],
            dynamodb_endpoint=e.get(Env.DYNAMODB_ENDPOINT) or None,
            page_limit=int(e.get(Env.PAGE_LIMIT, d.page_limit)),
            in_flight=int(e.get(Env.IN_FLIGHT, d.in_flight)),
            idle_base_seconds=float(e.get(Env.IDLE_BASE_SECONDS, d.idle_base_seconds)),
            max_idle_wait_seconds=float(e.get(Env.MAX_IDLE_WAIT_SECONDS, d.max_idle_wait_seconds)),
            safety_margin_seconds=float(e.get(Env.SAFETY_MARGIN_SECONDS, d.safety_margin_seconds)),
            time_budget_seconds=float(budget) if budget else None,
            idle_pause_seconds=int(e.get(Env.IDLE_PAUSE_SECONDS, d.idle_pause_seconds)),
            lease_ttl_seconds=int(e.get(Env.LEASE_TTL_SECONDS, d.lease_ttl_seconds)),
            max_execution_age_days=float(e.get(Env.MAX_EXECUTION_AGE_DAYS, d.max_execution_age_days)),
            start_from=parse_start_from(e.get(Env.START_FROM) or d.start_from, Env.START_FROM),
            graph_model=parse_graph_model(e.get(Env.GRAPH_MODEL) or d.graph_model, Env.GRAPH_MODEL),
        )


def parse_start_from(value: object, name: str) -> StartFrom:
    """TRIM_HORIZON or LATEST (any case); anything else is refused with the name of what carried it."""
    text = str(value).strip().upper()
    if text not in StartFrom.__members__:
        raise ValueError(f"{name} must be one of {', '.join(StartFrom)}, got {value!r}")
    return StartFrom[text]


def parse_graph_model(value: object, name: str) -> GraphModel:
    """propertygraph or rdf (any case); anything else is refused with the name of what carried it."""
    text = str(value).strip().lower()
    try:
        return GraphModel(text)
    except ValueError:
        raise ValueError(f"{name} must be one of {', '.join(GraphModel)}, got {value!r}") from None
