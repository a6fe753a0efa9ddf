"""One stream-handler invocation: the state machine's state in, the next state out.

The Poll state passes {state, executionId, executionStartTime, iterationsPerExecution} (contract.Key);
the returned dict becomes the execution's state: {status, checkpoint, records, iteration,
continueAsNew, waitSeconds, ...}. Operator flags (resumeFromTrimHorizon, forceLease) act on the
invocation that receives them and are not carried on, except past an invocation that could not take the
lease (it used nothing): then `leaseHolder` names the holder, for the state machine to check whether it
still runs, and `resumeFromTrimHorizon` waits for the invocation that takes the lease over."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .contract import Key, StartFrom, Status
from .errors import InvalidInputError
from .events import EventId
from .poller import Poller, PollResult
from .settings import HandlerSettings, parse_start_from


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
    take_over_from = state.get(Key.TAKE_OVER_FROM) or None
    resume = bool(state.get(Key.RESUME_FROM_TRIM_HORIZON, False))
    start_from = requested_start(state)
    result = poller.run(
        owner,
        deadline=deadline_for(settings, remaining_ms, poller.clock.monotonic()),
        parent=parent,
        resume_from_trim_horizon=resume,
        force_lease=bool(state.get(Key.FORCE_LEASE, False)),
        take_over_from=take_over_from,
        start_from=start_from,
    )
    limit = int(event.get(Key.ITERATIONS_PER_EXECUTION) or 0)
    too_old = execution_age_days(event.get(Key.EXECUTION_START_TIME), poller.clock.now_ms()) >= settings.max_execution_age_days
    hand_over = (limit > 0 and iteration + 1 >= limit) or too_old
    state_out = next_state(result, iteration + 1, parent, settings, continue_as_new=hand_over)
    if not result.lease_taken:
        # One liveness check per execution: after a take-over attempt that failed, the holder is someone
        # who took the lease meanwhile, and the execution ends (the schedule tries again later).
        state_out[Key.LEASE_HOLDER] = None if take_over_from else result.lease_holder
        if resume:
            state_out[Key.RESUME_FROM_TRIM_HORIZON] = True
        if start_from is not None:  # for the invocation that takes the lease over
            state_out[Key.START_FROM] = str(start_from)
    return state_out


def requested_start(state: dict[str, Any]) -> StartFrom | None:
    """The execution's `startFrom`, if it gives one; an unknown value fails the execution, saying so."""
    value = state.get(Key.START_FROM)
    if value is None:
        return None
    try:
        return parse_start_from(value, f"the execution input's {Key.START_FROM}")
    except ValueError as error:
        raise InvalidInputError(str(error)) from None


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
        Key.LEASE_HOLDER: None,  # always there: the Route state's IsString test reads it
        # Only in the state of the invocation that began the stream from LATEST (None: the stream was empty).
        **({Key.STARTED_AFTER: _as_dict(result.started_after)} if result.started_from_latest else {}),
        # Only in the state of the invocation that found the stream restarted and opened a generation.
        **({Key.GENERATION: result.generation, Key.RESTARTED: result.restarted} if result.restarted else {}),
    }


def _as_dict(event: EventId | None) -> dict[str, int] | None:
    return event.as_dict() if event is not None else None


__all__ = ["execution_age_days", "next_state", "requested_start", "run_invocation"]
