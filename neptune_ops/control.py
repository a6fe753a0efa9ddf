"""`start`, `stop` and `reset`: what an operator changes. `stop` pauses the self-restart schedule before
it stops anything, so the schedule cannot start a new execution behind it; `start` resumes it."""

from __future__ import annotations

import json
import uuid
from collections.abc import Collection
from typing import Any

from neptune_capture import schema
from neptune_capture.clock import SystemClock
from neptune_capture.contract import ExecutionStatus, Key, ResetReply, StartFrom
from neptune_capture.metrics import CountingMetrics
from neptune_capture.preconditions import engine_facts, streams_problem
from neptune_capture.store import DynamoStore, checkpoint_from_item
from neptune_entry.errors import BusyError, NeptuneError, UsageError
from neptune_ops import schedule as schedules
from neptune_ops.explain import explain
from neptune_ops.target import Target

# How `start --from` names the starting points on the command line.
START_POINTS = {"trim-horizon": StartFrom.TRIM_HORIZON, "latest": StartFrom.LATEST}


def running(target: Target) -> list[str]:
    paginator = target.sfn.get_paginator("list_executions")
    return [
        e["executionArn"]
        for page in paginator.paginate(stateMachineArn=target.state_machine_arn, statusFilter=ExecutionStatus.RUNNING.value)
        for e in page["executions"]
    ]


def _set_schedule(target: Target, state: str) -> dict[str, Any] | None:
    name = target.schedule
    if name is None:
        return None
    current, changed = schedules.set_state(target.scheduler, name, state)
    return current.as_dict() | {"changed": changed}


def start(
    target: Target,
    *,
    resume_from_trim_horizon: bool,
    force_lease: bool,
    start_from: StartFrom | None = None,
    stopped: Collection[str] = (),
) -> dict[str, Any]:
    """`stopped`: executions just stopped (by `reset`), which Step Functions may still list as running for a
    moment: they do not count as capture running."""
    payload: dict[str, Any] = {}
    if resume_from_trim_horizon:
        payload[Key.RESUME_FROM_TRIM_HORIZON] = True
    if force_lease:
        payload[Key.FORCE_LEASE] = True
    if start_from is not None:
        payload[Key.START_FROM] = str(start_from)
    already = [arn for arn in running(target) if arn not in stopped]
    if already and (resume_from_trim_horizon or start_from) and not force_lease:
        # The running execution holds the lease: a second one would be fenced and the flag lost.
        raise BusyError(
            f"an execution is already running ({already[0].rsplit(':', 1)[-1]}): a second one would be fenced",
            "stop it first (`./neptune-stream stop`), or take the stream over with --force-lease",
        )
    if start_from is not None:
        _refuse_if_started(target, start_from)
    if already and not force_lease:
        schedule = _set_schedule(target, schedules.ENABLED)
        return {"started": None, "alreadyRunning": already, "input": payload, "schedule": schedule, "neptune": None}
    neptune = _streams_check(target)  # before anything changes: a cluster without Streams is refused here
    schedule = _set_schedule(target, schedules.ENABLED)
    arn = target.sfn.start_execution(stateMachineArn=target.state_machine_arn, name=str(uuid.uuid4()), input=json.dumps(payload))
    return {"started": arn["executionArn"], "alreadyRunning": already, "input": payload, "schedule": schedule, "neptune": neptune}


def _refuse_if_started(target: Target, start_from: StartFrom) -> None:
    """`--from` chooses where the first capture begins; once the checkpoint has moved (a batch, a gap, a
    start), it alone decides, and the handler would ignore the flag: say so instead of pretending."""
    item = target.dynamodb.get_item(
        TableName=target.tables.checkpoint, Key={schema.STREAM_ID: {"S": target.stream_id}}, ConsistentRead=True
    ).get("Item")
    checkpoint = checkpoint_from_item(target.stream_id, dict(item) if item else None)
    if checkpoint.position is not None or checkpoint.version > 0:
        where = f"checkpoint {checkpoint.position}" if checkpoint.position else "its checkpoint cleared by a gap"
        raise UsageError(
            f"--from {start_from.name.lower().replace('_', '-')} applies to the first capture only: stream "
            f"{target.stream_id} was started already ({where}, version {checkpoint.version})",
            "leave --from out: capture carries on from its checkpoint",
        )


def _streams_check(target: Target) -> dict[str, Any]:
    """Neptune's own status, asked before anything starts: a cluster without Streams is refused with what to
    set. When the status cannot be read, capture starts anyway and its first invocation checks again."""
    try:
        facts = engine_facts(target.engine_status())
    except Exception as error:
        problem = explain(error, target.place)
        if problem is None:
            raise
        return {"checked": False, "problem": problem.problem}
    refusal = streams_problem(facts)
    if refusal is not None:
        raise NeptuneError(refusal, "then start again; `./neptune-stream status` shows the parameter and what the engine runs")
    return {"checked": True, "streams": facts.streams, "engineVersion": facts.engine_version}


def stop(target: Target) -> dict[str, Any]:
    schedule = _set_schedule(target, schedules.DISABLED)
    stopped = running(target)
    store = DynamoStore(target.dynamodb, target.tables, target.stream_id, clock=SystemClock(), metrics=CountingMetrics())
    released = []
    for arn in stopped:
        target.sfn.stop_execution(executionArn=arn, cause="stopped with neptune-stream stop")
        # A stopped execution never releases its lease itself: give it up, so the next start polls at once.
        if store.release_lease(arn):
            released.append(arn)
    return {"stopped": stopped, "leaseReleased": released, "schedule": schedule}


def confirm_reset(yes: bool) -> None:
    if not yes:
        raise UsageError(
            "reset erases the whole Neptune graph and its stream, and cannot be undone",
            "repeat with --yes to do it (capture is stopped for the reset and started again after it)",
        )


def reset(target: Target, *, discard_uncaptured: bool = False) -> dict[str, Any]:
    """Stops capture (if it runs), resets the graph and opens the next capture generation (the reset function
    refuses while the stream holds changes capture has not stored), then starts capture again if it ran.
    A refused reset changes nothing: capture is started again as it was, and the refusal raised."""
    was_running = bool(running(target))
    stopped = stop(target) if was_running else None
    gone = stopped["stopped"] if stopped else []
    try:
        result = target.reset(discard_uncaptured=discard_uncaptured)
    except BaseException:
        if was_running:
            start(target, resume_from_trim_horizon=False, force_lease=False, stopped=gone)
        raise
    restarted = start(target, resume_from_trim_horizon=False, force_lease=False, stopped=gone) if was_running else None
    return result | {"stopped": stopped, "restarted": restarted}


def reset_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    if result.get("stopped"):
        lines.append(f"capture stopped for the reset ({_executions(len(result['stopped']['stopped']))})")
    lines.append(f"Neptune fast reset done: {result.get('status')}")
    if result.get(ResetReply.DISCARDED):
        lines.append(f"discarded on purpose: {result[ResetReply.DISCARDED]}")
    lines.append(
        f"capture generation {result[ResetReply.GENERATION]} began at {_utc(result[ResetReply.GENERATION_STARTED_AT])} "
        f"(generation {result[ResetReply.PREVIOUS_GENERATION]} ended at {_event(result.get(ResetReply.LAST_CAPTURED))}, "
        "its records and history kept)"
    )
    if result.get("restarted"):
        lines += start_lines(result["restarted"])
    else:
        lines.append("capture was not running: start it with `./neptune-stream start`")
    return lines


def _executions(n: int) -> str:
    from neptune_ops.render import plural

    return plural(n, "execution")


def _event(event: dict[str, int] | None) -> str:
    return f"{event['commitNum']}:{event['opNum']}" if event else "nothing captured"


def _utc(ms: int | None) -> str:
    from neptune_ops.render import utc

    return utc(ms) if ms is not None else "?"


def start_lines(result: dict[str, Any]) -> list[str]:
    lines = []
    if result["started"]:
        lines.append(
            f"started execution {result['started'].rsplit(':', 1)[-1]}"
            + (f" with {json.dumps(result['input'])}" if result["input"] else "")
        )
    else:
        lines.append(
            f"capture is already running ({', '.join(a.rsplit(':', 1)[-1] for a in result['alreadyRunning'])}): nothing started"
        )
    neptune = result.get("neptune")
    if neptune and neptune["checked"]:
        lines.append(f"Neptune Streams {neptune['streams'] or 'not reported'} (engine {neptune['engineVersion']})")
    elif neptune:
        lines.append(f"Neptune Streams not checked ({neptune['problem']}): the execution checks it itself")
    lines.append(_schedule_line(result["schedule"], "resumed"))
    return lines


def stop_lines(result: dict[str, Any]) -> list[str]:
    lines = [_schedule_line(result["schedule"], "paused")]
    if result["stopped"]:
        names = ", ".join(a.rsplit(":", 1)[-1] for a in result["stopped"])
        lines.append(f"stopped {_executions(len(result['stopped']))}: {names}; lease released by {len(result['leaseReleased'])}")
    else:
        lines.append("no execution was running")
    return lines


def _schedule_line(schedule: dict[str, Any] | None, verb: str) -> str:
    if schedule is None:
        return "no schedule"
    if schedule["changed"]:
        return f"schedule {schedule['name']} {verb} ({schedule['state']})"
    return f"schedule {schedule['name']} was already {schedule['state']}"
