"""One stream-handler invocation: the state machine's state in, the next state out.

The Poll state passes {state, executionId, executionStartTime, iterationsPerExecution} (contract.Key);
the returned dict becomes the execution's state: {status, checkpoint, records, iteration,
continueAsNew, waitSeconds, ...}. Operator flags (resumeFromTrimHorizon, forceLease) act on the
invocation that receives them and are not carried on."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .contract import Key, Status
from .poller import Poller, PollResult
from .settings import HandlerSettings


def execution_age_days(start: str | None, now_ms: int) -> float:
    if not start:
        return 0.0
    started = datetime.fromisoformat(start.replace("Z", "+00:00"))
    return max(0.0, (now_ms / 1000 - started.timestamp()) / 86_400)


def deadline_for(settings: HandlerSettings, remaining_ms: int, monotonic_now: float) -> float:
    budget = remaining_ms / 1000 - settings.safety_margin_seconds
    if settings.time_budget_seconds is not None:
        budget = min(budget, settings.time_budget_seconds)
    return monotonic_now + max(0.0, budget)


def run_invocation(event: dict[str, Any], poller: Poller, settings: HandlerSettings, remaining_ms: int) -> dict[str, Any]:
    state = event.get(Key.STATE) or {}
    owner = str(event.get(Key.EXECUTION_ID) or state.get(Key.EXECUTION_ID) or "manual")
    iteration = int(state.get(Key.ITERATION, 0))
    parent = state.get(Key.PARENT_EXECUTION_ID)
    result = poller.run(
        owner,
        deadline=deadline_for(settings, remaining_ms, poller.clock.monotonic()),
        parent=parent,
        resume_from_trim_horizon=bool(state.get(Key.RESUME_FROM_TRIM_HORIZON, False)),
        force_lease=bool(state.get(Key.FORCE_LEASE, False)),
    )
    limit = int(event.get(Key.ITERATIONS_PER_EXECUTION) or 0)
    too_old = execution_age_days(event.get(Key.EXECUTION_START_TIME), poller.clock.now_ms()) >= settings.max_execution_age_days
    return next_state(result, iteration + 1, parent, settings, continue_as_new=(limit > 0 and iteration + 1 >= limit) or too_old)


def next_state(
    result: PollResult, iteration: int, parent: str | None, settings: HandlerSettings, *, continue_as_new: bool
) -> dict[str, Any]:
    return {
        Key.STREAM_ID: settings.stream_id,
        Key.STATUS: str(result.status),
        Key.CHECKPOINT: result.checkpoint.as_dict() if result.checkpoint else None,
        Key.RECORDS: result.records,
        Key.TRANSACTIONS: result.transactions,
        Key.PAGES: result.pages,
        Key.MAX_IN_FLIGHT: result.max_in_flight,
        Key.LAG_MS: result.lag_ms,
        Key.DETAIL: result.message,
        Key.GAP_RECORDED: result.gap_recorded,
        Key.ITERATION: iteration,
        Key.PARENT_EXECUTION_ID: parent,
        Key.CONTINUE_AS_NEW: continue_as_new and result.status != Status.FENCED,
        Key.WAIT_SECONDS: settings.idle_pause_seconds,
    }


__all__ = ["execution_age_days", "next_state", "run_invocation"]
