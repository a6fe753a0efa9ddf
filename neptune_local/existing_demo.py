"""`make demo DEMO_ARGS="--existing-graph"`: capture attached to a graph that was there before it, as on a
cluster someone already runs. The emulator is given a graph (and its stream) before anything captures;
then capture starts from now, through the CLI's own `start --from latest`, and is verified against exactly
the events after the record LATEST answered; then, on fresh tables over the same graph, capture starts
from the oldest record (`--from trim-horizon`) and is verified against every event of the stream.

Which events capture from LATEST holds: LATEST answers the newest record itself ("at most one record is
returned", https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html), the capture
records it in the history (START_FROM_LATEST, the event it started after) and reads on after it, so it
holds every event committed after that record and none up to it. The record is taken here from the
emulator before capture starts, not from the history, so the check does not trust what it checks."""

from __future__ import annotations

import argparse
import signal
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from neptune_capture.contract import DEFAULT_STREAM_ID as STREAM_ID
from neptune_capture.contract import StartFrom
from neptune_capture.events import EventId
from neptune_local.demo import Progress, capture_while_writing, quiet_servers, refuse_if_running, serve_until_interrupted
from neptune_local.verify import Verification, verify
from neptune_ops import control
from neptune_ops.target import local_target

if TYPE_CHECKING:
    from neptune_local.runtime import LocalOptions, LocalPipeline
    from neptune_local.template import SynthesizedStack


def run_existing(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    from neptune_local.dynamodb_endpoint import shared_dynamodb
    from neptune_local.runtime import LocalOptions
    from neptune_local.template import load_stack

    refuse_if_running(Path(args.data_dir))
    quiet_servers()
    stack = load_stack(args.cdk_out)
    # The schedule does not fire until capture has been started where asked: its first firing starts an
    # execution with the deployed default, which would otherwise race the operator's `start --from`.
    options = LocalOptions(
        data_dir=Path(args.data_dir),
        iterations_per_execution=args.iterations_per_execution,
        time_budget_seconds=args.time_budget,
    )
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # One DynamoDB Local for both captures (each starts on empty tables), stopped when the run ends.
    with shared_dynamodb() as dynamodb:
        return _run_existing(args, console, stack, replace(options, dynamodb=dynamodb), stop)


def _run_existing(
    args: argparse.Namespace, console: Console, stack: SynthesizedStack, options: LocalOptions, stop: threading.Event
) -> dict[str, Any]:
    from neptune_local.runtime import LocalPipeline
    from neptune_local.workload import run_workload

    started = time.monotonic()

    pipeline = LocalPipeline(stack, options).start()
    try:
        assert pipeline.emulator is not None
        console.print(f"writing the existing graph: {args.existing_changes:,} changes, before any capture exists")
        existing = run_workload(pipeline.emulator.gremlin_url, args.existing_changes, seed=args.seed, stop=stop).written
        before = pipeline.stream_ids()
        newest = before[-1]
        console.print(f"the stream holds {len(before):,} events, the newest {newest}; capture starts from LATEST")
        start_capture(pipeline, args, StartFrom.LATEST, until=newest)
        progress = Progress(pipeline, skipped=len(before))
        written = capture_while_writing(pipeline, progress, args, console, stop, changes=args.changes, seed=args.seed + 1)
        expected = [e for e in pipeline.stream_ids() if e > newest]
        latest = check(pipeline, expected, started_after=newest)
        latest_executions = len(pipeline.executions())
    finally:
        pipeline.stop()
    console.print(phase_line("from LATEST", latest, len(before)))

    # The same graph and stream (the emulator's file), fresh tables: a first capture from the oldest record.
    options = replace(options, fresh=False)
    pipeline = LocalPipeline(stack, options).start()
    try:
        stream = pipeline.stream_ids()
        start_capture(pipeline, args, StartFrom.TRIM_HORIZON, until=None)
        drain(pipeline, Progress(pipeline), args, console, stop)
        oldest = check(pipeline, stream, started_after=None)
        summary = {
            "existing_changes": existing,
            "changes_written": written,
            "stream_events": len(stream),
            "from_latest": latest.summary(),
            "from_trim_horizon": oldest.summary(),
            "duplicates": latest.report.duplicates + oldest.report.duplicates,
            "missing": latest.report.missing + oldest.report.missing,
            "executions": latest_executions + len(pipeline.executions()),
            "dynamodb": pipeline.dynamodb_name,
        }
        console.print(phase_line("from TRIM_HORIZON", oldest, 0))
        ok = latest.ok and oldest.ok and written == args.changes and existing == args.existing_changes
        console.print(
            f"[bold]{'OK' if ok else 'FAILED'}[/bold]: {existing:,} changes before capture, {written:,} after it started; "
            f"in {time.monotonic() - started:.1f} s"
        )
        summary["ok"] = ok
        return summary
    finally:
        if not args.keep_running:
            pipeline.stop()
        else:
            serve_until_interrupted(pipeline, console)


def start_capture(pipeline: LocalPipeline, args: argparse.Namespace, where: StartFrom, until: EventId | None) -> None:
    """As an operator does: `neptune-stream start --from ...` against the local run, then the schedule (which
    now finds the stream started, or an execution polling) begins firing. With LATEST, the start is recorded
    once the checkpoint rests on the newest record; waiting for that keeps the schedule's first execution
    (its input is {}: the deployed default) from taking the first capture instead."""
    target = local_target(Path(args.data_dir))
    control.start(target, resume_from_trim_horizon=False, force_lease=False, start_from=where)
    if until is not None and not pipeline.wait_for_checkpoint(until, args.drain_timeout):
        raise TimeoutError(f"capture from {where} was not recorded within {args.drain_timeout} s")
    pipeline.start_schedule_firing(args.schedule_period)


def drain(pipeline: LocalPipeline, progress: Progress, args: argparse.Namespace, console: Console, stop: threading.Event) -> None:
    """Until every event of the stream is captured (or the drain timeout), a line every 2 s."""
    deadline = time.monotonic() + args.drain_timeout
    last_line = 0.0
    while not stop.is_set():
        progress.sample()
        if progress.captured == progress.events or time.monotonic() > deadline:
            return
        if time.monotonic() - last_line >= 2:
            last_line = time.monotonic()
            console.print(progress.drain_line())
        stop.wait(0.25)  # the display's refresh period, not a synchronization


@dataclass(frozen=True)
class Phase:
    report: Verification
    # The record this run saw as the newest before capture started from LATEST (None: from TRIM_HORIZON).
    started_after: EventId | None

    @property
    def start_recorded(self) -> bool:
        """From LATEST: one START_FROM_LATEST item naming exactly that record, as the emulator showed it before
        capture started. From TRIM_HORIZON: no such item."""
        if self.started_after is None:
            return self.report.starts == 0
        return self.report.starts == 1 and self.report.started_after == self.started_after

    @property
    def ok(self) -> bool:
        return self.report.ok and self.start_recorded

    def summary(self) -> dict[str, Any]:
        r = self.report
        return {
            "started_after": self.started_after.as_dict() if self.started_after else None,
            "history_says_started_after": r.started_after.as_dict() if r.started_after else None,
            "start_items": r.starts,
            "expected": r.stream_events,
            "records": r.records,
            "duplicates": r.duplicates,
            "missing": r.missing,
            "scan_missed": r.scan_missed,
            "history_items": r.history_items,
            "checkpoint": r.checkpoint.as_dict() if r.checkpoint else None,
            "ok": self.ok,
        }


def check(pipeline: LocalPipeline, expected: list[EventId], started_after: EventId | None) -> Phase:
    assert pipeline.tables is not None
    return Phase(verify(pipeline.dynamodb, pipeline.tables, STREAM_ID, expected), started_after)


def phase_line(name: str, phase: Phase, skipped: int) -> str:
    report = phase.report
    verdict = "OK" if phase.ok else "FAILED"
    start = f"; started after {report.started_after} ({skipped:,} earlier events not captured)" if report.started_after else ""
    return (
        f"{verdict} {name}: {report.stream_events:,} events expected, {report.records:,} records; duplicates "
        f"{report.duplicates}, missing {report.missing}; history {report.history_items:,} batches; checkpoint {report.checkpoint}"
        + start
        + (f"; {report.scan_missed:,} records only a point read found (the Scan missed them)" if report.scan_missed else "")
    )


__all__ = ["run_existing"]
