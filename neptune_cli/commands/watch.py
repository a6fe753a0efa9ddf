"""`watch`: a live view of the capture (records/s, lag, transactions, fenced writes, throttles,
executions), refreshed every --interval seconds until Ctrl-C or --iterations views."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from neptune_capture import metrics as m
from neptune_capture.contract import ExecutionStatus, service_name
from neptune_cli.metrics_source import CloudWatchMetrics, FunctionLog, MetricSource, Totals
from neptune_ops.render import Row, duration, utc
from neptune_ops.target import Target

LOCAL_WINDOW_SECONDS = 30.0
# A stack's figures are one-minute datapoints (metrics_source.PERIOD_SECONDS): five per view.
STACK_WINDOW_SECONDS = 300.0
FAILED = frozenset({ExecutionStatus.FAILED, ExecutionStatus.TIMED_OUT, ExecutionStatus.ABORTED})


@dataclass(frozen=True)
class Executions:
    running: int
    started: int  # in the window
    failed: int  # failed, timed out or aborted, started in the window


@dataclass(frozen=True)
class Snapshot:
    at_ms: int
    window_seconds: float
    totals: Totals
    executions: Executions

    @property
    def records_per_second(self) -> float:
        return self.totals.sums.get(m.RECORDS, 0.0) / self.window_seconds

    def as_dict(self) -> dict[str, Any]:
        t = self.totals
        return {
            "at": self.at_ms,
            "windowSeconds": self.window_seconds,
            "recordsPerSecond": round(self.records_per_second, 3),
            # Counts are whole numbers: the metric sums are floats only because CloudWatch's are.
            "records": _count(t.sums.get(m.RECORDS, 0)),
            "maxLagMs": _count(t.maxima.get(m.LAG_MS)),
            "transactions": _count(t.sums.get(m.BATCHES, 0)),
            "fencedWrites": _count(t.sums.get(m.FENCED, 0)),
            "throttles": _count(t.sums.get(m.THROTTLES, 0)),
            "executions": {
                "running": self.executions.running,
                "started": self.executions.started,
                "failed": self.executions.failed,
            },
        }


def _count(value: float | None) -> int | None:
    return None if value is None else round(value)


def source_for(target: Target) -> MetricSource:
    if target.function_log is not None:
        return FunctionLog(target.function_log)
    return CloudWatchMetrics(target.cloudwatch, service_name(target.stream_id))


def executions(target: Target, since_ms: int) -> Executions:
    """Executions are listed newest first (https://docs.aws.amazon.com/goto/WebAPI/states-2016-11-23/ListExecutions):
    counting those started in the window stops at the first one started before it."""
    paginator = target.sfn.get_paginator("list_executions")
    arn = target.state_machine_arn
    running_pages = paginator.paginate(stateMachineArn=arn, statusFilter=ExecutionStatus.RUNNING.value)
    running = sum(len(page["executions"]) for page in running_pages)
    started = failed = 0
    for page in paginator.paginate(stateMachineArn=arn):
        for e in page["executions"]:
            if e["startDate"].timestamp() * 1000 < since_ms:
                return Executions(running, started, failed)
            started += 1
            failed += e["status"] in FAILED
    return Executions(running, started, failed)


def snapshot(target: Target, source: MetricSource, now_ms: int, window_seconds: float) -> Snapshot:
    start = now_ms - int(window_seconds * 1000)
    return Snapshot(now_ms, window_seconds, source.totals(start, now_ms), executions(target, start))


def rows(s: Snapshot) -> list[Row]:
    d = s.as_dict()
    lag = d["maxLagMs"]
    window = duration(s.window_seconds)
    e = s.executions
    return [
        Row("records/s", f"{d['recordsPerSecond']:,.1f} ({d['records']:,.0f} records in the last {window})"),
        Row("lag", "no batch in the window" if lag is None else f"{duration(lag / 1000)} (max over the last {window})"),
        Row("transactions", f"{d['transactions']:,.0f}"),
        Row("fenced writes", f"{d['fencedWrites']:,.0f}", "warn" if d["fencedWrites"] else "ok"),
        Row("throttles", f"{d['throttles']:,.0f}", "warn" if d["throttles"] else "ok"),
        Row(
            "executions",
            f"{e.running} running, {e.started} started, {e.failed} failed in the last {window}",
            "bad" if e.failed or not e.running else "ok",
        ),
    ]


def line(s: Snapshot) -> str:
    """One line per refresh when the output is not a terminal."""
    d = s.as_dict()
    lag = "-" if d["maxLagMs"] is None else duration(d["maxLagMs"] / 1000)
    e = s.executions
    return (
        f"{utc(s.at_ms)}  {d['recordsPerSecond']:,.1f} records/s  lag {lag}  transactions {d['transactions']:,.0f}  "
        f"fenced {d['fencedWrites']:,.0f}  throttles {d['throttles']:,.0f}  "
        f"executions {e.running} running / {e.started} started / {e.failed} failed"
    )


def views(make: Callable[[], Snapshot], *, iterations: int | None, interval: float, stop: threading.Event) -> Iterator[Snapshot]:
    """A snapshot now, then one every `interval` seconds: the display's refresh period, not a wait for
    something to happen. Ends after `iterations` views or when `stop` is set."""
    shown = 0
    while iterations is None or shown < iterations:
        yield make()
        shown += 1
        if (iterations is not None and shown >= iterations) or stop.wait(interval):
            return
