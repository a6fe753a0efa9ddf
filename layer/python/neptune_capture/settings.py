"""Stream handler settings from its environment (set by the CDK stack, or by the local run)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from .plan import TableNames
from .poller import PollSettings


@dataclass(frozen=True)
class HandlerSettings:
    stream_id: str
    tables: TableNames
    neptune_endpoint: str
    dynamodb_endpoint: str | None
    page_limit: int
    idle_base_seconds: float
    max_idle_wait_seconds: float
    safety_margin_seconds: float
    time_budget_seconds: float | None
    idle_pause_seconds: int
    lease_ttl_seconds: int
    max_execution_age_days: float

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> HandlerSettings:
        e = os.environ if env is None else env
        missing = [k for k in ("RECORDS_TABLE", "HISTORY_TABLE", "CHECKPOINT_TABLE", "NEPTUNE_ENDPOINT") if not e.get(k)]
        if missing:
            raise ValueError(f"stream handler is missing environment variables: {', '.join(missing)}")
        budget = e.get("TIME_BUDGET_SECONDS")
        return cls(
            stream_id=e.get("STREAM_ID", "neptune"),
            tables=TableNames(records=e["RECORDS_TABLE"], history=e["HISTORY_TABLE"], checkpoint=e["CHECKPOINT_TABLE"]),
            neptune_endpoint=e["NEPTUNE_ENDPOINT"],
            dynamodb_endpoint=e.get("DYNAMODB_ENDPOINT") or None,
            page_limit=int(e.get("PAGE_LIMIT", "10000")),
            idle_base_seconds=float(e.get("IDLE_BASE_SECONDS", PollSettings.idle_base_seconds)),
            max_idle_wait_seconds=float(e.get("MAX_IDLE_WAIT_SECONDS", PollSettings.max_idle_wait_seconds)),
            safety_margin_seconds=float(e.get("SAFETY_MARGIN_SECONDS", "60")),
            time_budget_seconds=float(budget) if budget else None,
            idle_pause_seconds=int(e.get("IDLE_PAUSE_SECONDS", "0")),
            # Longer than one invocation plus Step Functions' retry backoff, so a live poller never loses it.
            lease_ttl_seconds=int(e.get("LEASE_TTL_SECONDS", "1200")),
            # Hand over long before Step Functions' one-year limit, whatever the iteration count.
            max_execution_age_days=float(e.get("MAX_EXECUTION_AGE_DAYS", "30")),
        )
