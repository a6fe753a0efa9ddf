"""`status`: the pipeline at a glance. Each part is read on its own, so one that fails (Neptune down, a
permission missing) is shown as such beside the others, and the command then ends with that problem."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from neptune_capture import schema
from neptune_capture.contract import ExecutionStatus
from neptune_capture.preconditions import ENABLE_STREAMS, engine_facts, streams_problem
from neptune_capture.schema import CheckpointAttr as C
from neptune_capture.schema import HistoryAttr as H
from neptune_entry.errors import CliError
from neptune_ops import schedule as schedules
from neptune_ops.explain import explain
from neptune_ops.render import Row, duration, when
from neptune_ops.target import Target

T = TypeVar("T")
HISTORY_LOOKBACK = 5  # newest history items read to find the last batch (GAP items sort beside batches)


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    """A DynamoDB item with its type tags dropped (strings, numbers as int, maps as dicts)."""

    def value(tagged: dict[str, Any]) -> Any:
        kind, raw = next(iter(tagged.items()))
        if kind == "N":
            return int(raw) if raw.lstrip("-").isdigit() else float(raw)
        if kind == "M":
            return {k: value(v) for k, v in raw.items()}
        return raw

    return {k: value(v) for k, v in item.items()}


@dataclass
class StatusReport:
    target: str
    checkpoint: dict[str, Any] | None = None
    last_batch: dict[str, Any] | None = None
    gap: dict[str, Any] | None = None
    start: dict[str, Any] | None = None  # where the first capture began, when it began from LATEST
    # The capture generation (0 until the graph's first reset), when it began and why (docs/reset-and-generations.md).
    generation: dict[str, Any] = field(default_factory=lambda: {"number": 0})
    lease: dict[str, Any] | None = None
    # The execution `stop` stopped last (its lease released): Step Functions may list it RUNNING a moment
    # more, while its last invocation ends (StopExecution does not say it stops one under way:
    # https://docs.aws.amazon.com/step-functions/latest/apireference/API_StopExecution.html).
    stopped_by_stop: str | None = None
    running: list[dict[str, Any]] | None = None  # None: could not be read
    last_failure: dict[str, Any] | None = None
    neptune: dict[str, Any] = field(default_factory=dict)
    cluster: dict[str, Any] | None = None  # its configuration from the management API (a deployed stack only)
    schedule: dict[str, Any] = field(default_factory=lambda: {"state": "none"})
    problems: list[CliError] = field(default_factory=list)

    def as_dict(self, now_ms: int) -> dict[str, Any]:
        checkpoint = dict(self.checkpoint) if self.checkpoint else None
        if checkpoint and C.COMMIT_TIMESTAMP in checkpoint:
            checkpoint["ageSeconds"] = round((now_ms - checkpoint[C.COMMIT_TIMESTAMP]) / 1000, 3)
        lease = dict(self.lease) if self.lease else None
        if lease and "expiresAt" in lease:
            lease["expiresInSeconds"] = round((lease["expiresAt"] - now_ms) / 1000, 3)
        return {
            "target": self.target,
            "checkpoint": checkpoint,
            "lastBatch": self.last_batch,
            "gap": self.gap,
            "start": self.start,
            "generation": self.generation,
            "lease": lease,
            "runningExecutions": self.running,
            "lastFailure": self.last_failure,
            "neptune": self.neptune,
            "cluster": self.cluster,
            "schedule": self.schedule,
            "problems": [p.problem for p in self.problems],
        }


def gather(target: Target) -> StatusReport:
    report = StatusReport(target=target.place.title)

    def part(read: Callable[[], T]) -> T | None:
        try:
            return read()
        except Exception as error:
            problem = explain(error, target.place)
            if problem is None:
                raise
            report.problems.append(problem)
            return None

    item = part(lambda: _checkpoint_item(target))
    if item is not None:
        _from_checkpoint(report, item)
    part(lambda: _history(report, target))
    report.running = part(lambda: _running(target))
    report.neptune = part(lambda: _neptune(target)) or {"error": report.problems[-1].problem}
    report.cluster = part(target.cluster_configuration)
    report.schedule = part(lambda: _schedule(target)) or {"error": report.problems[-1].problem}
    return report


def _checkpoint_item(target: Target) -> dict[str, Any]:
    response = target.dynamodb.get_item(
        TableName=target.tables.checkpoint, Key={schema.STREAM_ID: {"S": target.stream_id}}, ConsistentRead=True
    )
    return _plain(dict(response.get("Item", {})))


def _from_checkpoint(report: StatusReport, item: dict[str, Any]) -> None:
    report.generation = {
        "number": item.get(C.GENERATION, 0),
        **({"startedAt": item[C.GENERATION_STARTED_AT]} if C.GENERATION_STARTED_AT in item else {}),
        **({"reason": item[C.GENERATION_REASON]} if C.GENERATION_REASON in item else {}),
    }
    if C.COMMIT_NUM in item:
        shown = (C.COMMIT_NUM, C.OP_NUM, C.VERSION, C.COMMIT_TIMESTAMP, C.UPDATED_AT)
        report.checkpoint = {k: item[k] for k in shown if k in item}
    if C.STARTED_FROM in item:
        report.start = {k: item[k] for k in (C.STARTED_FROM, C.STARTED_AT, C.STARTED_AFTER) if k in item}
    report.stopped_by_stop = item.get(C.LEASE_RELEASED_FROM)
    if C.LEASE_OWNER in item:
        report.lease = {
            "owner": item[C.LEASE_OWNER],
            **({"expiresAt": item[C.LEASE_EXPIRES_AT]} if C.LEASE_EXPIRES_AT in item else {}),
        }
    if C.LAST_FAILURE in item:
        report.last_failure = {
            "error": item[C.LAST_FAILURE],
            "cause": item.get(C.LAST_FAILURE_CAUSE, ""),
            "execution": item.get(C.LAST_FAILURE_EXECUTION, ""),
            "at": item.get(C.LAST_FAILURE_AT, ""),
        }


def _history(report: StatusReport, target: Target) -> None:
    response = target.dynamodb.query(
        TableName=target.tables.history,
        KeyConditionExpression="#s = :s",
        ExpressionAttributeNames={"#s": schema.STREAM_ID},
        ExpressionAttributeValues={":s": {"S": target.stream_id}},
        ScanIndexForward=False,  # newest first
        Limit=HISTORY_LOOKBACK,
        ConsistentRead=True,
    )
    items = [_plain(dict(i)) for i in response.get("Items", [])]
    batch = next((i for i in items if i.get("kind") == "BATCH"), None)
    if batch:
        report.last_batch = {
            k: batch[k] for k in (H.LAG_MS, H.PROCESSED_AT, H.RECORD_COUNT, H.LAST_COMMIT_TIMESTAMP) if k in batch
        }
    if items and items[0].get("kind") == "GAP":
        report.gap = {k: items[0][k] for k in (H.REASON, H.PROCESSED_AT) if k in items[0]}


def _running(target: Target) -> list[dict[str, Any]]:
    paginator = target.sfn.get_paginator("list_executions")
    return [
        {"executionArn": e["executionArn"], "name": e["name"], "startDate": int(e["startDate"].timestamp() * 1000)}
        for page in paginator.paginate(stateMachineArn=target.state_machine_arn, statusFilter=ExecutionStatus.RUNNING.value)
        for e in page["executions"]
    ]


def _neptune(target: Target) -> dict[str, Any]:
    facts = engine_facts(target.engine_status())
    return {
        "status": facts.status,
        "role": facts.role,
        "dbEngineVersion": facts.engine_version,
        "streams": facts.streams,
        "iamAuthentication": facts.iam_authentication,
        "problem": streams_problem(facts),
    }


def _schedule(target: Target) -> dict[str, Any]:
    name = target.schedule
    if name is None:
        return {"state": "none"}
    return schedules.read(target.scheduler, name).as_dict()


def rows(report: StatusReport, now_ms: int) -> list[Row]:
    """The table, in the order an operator reads it: is it capturing, how far behind, who polls, what broke."""
    out = [Row("target", report.target)]
    c = report.checkpoint
    if c:
        out.append(Row("checkpoint", f"commit {c[C.COMMIT_NUM]} op {c[C.OP_NUM]} (version {c.get(C.VERSION, 0)})"))
        if C.COMMIT_TIMESTAMP in c:
            out.append(Row("last captured change", f"committed {when(c[C.COMMIT_TIMESTAMP], now_ms)}"))
    else:
        out.append(Row("checkpoint", "none: nothing captured yet", "warn"))
    out.append(_generation_row(report.generation, now_ms))
    if report.start:
        after = report.start.get(C.STARTED_AFTER)
        skipped = f"after event {_event(after)}: it and earlier changes were not captured" if after else "on an empty stream"
        began = when(report.start[C.STARTED_AT], now_ms) if C.STARTED_AT in report.start else "at an unknown time"
        out.append(Row("start", f"from {report.start[C.STARTED_FROM]} {skipped} (began {began})", "warn" if after else "ok"))
    if report.gap:
        out.append(
            Row("gap", f"recorded {when(report.gap.get(H.PROCESSED_AT, now_ms), now_ms)}: {report.gap.get(H.REASON, '')}", "warn")
        )
    b = report.last_batch
    if b:
        out.append(
            Row(
                "lag",
                f"{duration(b.get(H.LAG_MS, 0) / 1000)} for the last batch, "
                f"captured {when(b.get(H.PROCESSED_AT, now_ms), now_ms)}",
            )
        )
    else:
        out.append(Row("lag", "no batch captured yet"))
    out.append(_lease_row(report, now_ms))
    out.append(_executions_row(report, now_ms))
    f = report.last_failure
    out.append(
        Row("last failure", f"{f['error']} at {f['at']} ({f['execution']}): {f['cause'][:300]}", "bad")
        if f
        else Row("last failure", "none")
    )
    out.append(_neptune_row(report.neptune))
    if report.cluster is not None:
        out.append(_cluster_row(report.cluster, report.neptune))
    out.append(_schedule_row(report.schedule))
    return out


def _generation_row(generation: dict[str, Any], now_ms: int) -> Row:
    number = generation.get("number", 0)
    if not number:
        return Row("generation", "0 (the graph has not been reset since capture began)")
    began = when(generation["startedAt"], now_ms) if "startedAt" in generation else "at an unknown time"
    return Row("generation", f"{number}, began {began}: {generation.get('reason', 'reason not recorded')}")


def _event(position: str) -> str:
    """A history position ("00000000000000000042:0000000003") as the CLI writes event ids (42:3)."""
    commit, _, op = position.partition(":")
    return f"{int(commit)}:{int(op)}" if commit.isdigit() and op.isdigit() else position


def _lease_row(report: StatusReport, now_ms: int) -> Row:
    lease = report.lease
    if not lease:
        return Row("lease", "free: the next execution takes the stream at once")
    owner = str(lease["owner"]).rsplit(":", 1)[-1]
    expires = lease.get("expiresAt")
    if expires is None:
        return Row("lease", f"held by {owner}")
    if expires < now_ms:
        return Row(
            "lease",
            f"held by {owner}, expired {duration((now_ms - expires) / 1000)} ago: the next execution takes it over",
            "warn",
        )
    if report.running is not None and lease["owner"] not in {e["executionArn"] for e in report.running}:
        return Row(
            "lease",
            f"held by {owner}, which is not running, for {duration((expires - now_ms) / 1000)} more: the next "
            "execution (the start schedule's next firing, or `./neptune-stream start`) finds it not running and "
            "takes it over",
            "warn",
        )
    return Row("lease", f"held by {owner}, expires in {duration((expires - now_ms) / 1000)} unless renewed")


def _executions_row(report: StatusReport, now_ms: int) -> Row:
    if report.running is None:
        return Row("executions", "unavailable (see below)", "bad")
    running = [e for e in report.running if e["executionArn"] != report.stopped_by_stop]
    stopping = len(report.running) - len(running)
    tail = f" ({stopping} stopped by `stop`, ending its last invocation)" if stopping else ""
    if not running:
        return Row("executions", f"none running: capture is stopped (`./neptune-stream start`){tail}", "bad")
    described = ", ".join(f"{e['name']} (started {duration((now_ms - e['startDate']) / 1000)} ago)" for e in running)
    level = "warn" if len(running) > 1 else "ok"
    return Row("executions", f"{len(running)} running: {described}{tail}", level)


def _neptune_row(neptune: dict[str, Any]) -> Row:
    if "error" in neptune:
        return Row("neptune", f"unavailable: {neptune['error']}", "bad")
    streams = neptune.get("streams")
    level = "ok" if neptune.get("status") == "healthy" and streams == "enabled" else "bad"
    text = (
        f"{neptune.get('status')}, {neptune.get('role')}, engine {neptune.get('dbEngineVersion')}, "
        f"streams {streams or 'not reported'}, IAM authentication {neptune.get('iamAuthentication') or 'not reported'}"
    )
    return Row("neptune", text + (f". {neptune['problem']}" if neptune.get("problem") else ""), level)


def _cluster_row(cluster: dict[str, Any], neptune: dict[str, Any]) -> Row:
    """The parameter group beside what the engine runs: a parameter set but not yet in effect means the
    instances have not rebooted since (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-enabling.html)."""
    value = cluster.get("neptune_streams")
    text = (
        f"{cluster.get('identifier')}: parameter group {cluster.get('parameterGroup')} has neptune_streams="
        f"{value if value is not None else '(not set: the engine default)'}; IAM authentication "
        f"{'on' if cluster.get('iamAuthentication') else 'off'}; engine {cluster.get('engineVersion')}"
    )
    instances = cluster.get("instances") or {}
    if instances:
        text += "; parameter group status " + ", ".join(f"{k} {v}" for k, v in instances.items())
    if value != "1":
        return Row("cluster", f"{text}: Streams is off, or goes off at the next reboot; {ENABLE_STREAMS}", "bad")
    if neptune.get("streams") == "disabled":
        return Row("cluster", f"{text}: set but not in effect yet, reboot every instance of the cluster", "bad")
    return Row("cluster", text)


def _schedule_row(schedule: dict[str, Any]) -> Row:
    if "error" in schedule:
        return Row("schedule", f"unavailable: {schedule['error']}", "bad")
    if schedule.get("state") == "none":
        return Row("schedule", "no schedule: nothing restarts a stopped pipeline")
    state = schedule["state"]
    detail = "on: it restarts capture" if state == schedules.ENABLED else "paused (by `stop`): `start` resumes it"
    return Row(
        "schedule",
        f"{state} {schedule.get('expression', '')} ({schedule['name']}), {detail}",
        "ok" if state == schedules.ENABLED else "warn",
    )
