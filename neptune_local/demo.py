"""`make demo`: graph changes flow from the emulator through the real state machine and handlers into
DynamoDB, with live progress; then exactly-once verification and one JSON summary line."""

from __future__ import annotations

import argparse
import bisect
import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.live import Live
from rich.table import Table

from neptune_capture.contract import DEFAULT_STREAM_ID as STREAM_ID
from neptune_capture.contract import LOCAL_ENDPOINTS_FILE, LOCAL_FUNCTION_LOG, ContextKey, ExecutionStatus, GraphModel
from neptune_entry.arguments import float_above, int_at_least, synthesized_app, writable_directory
from neptune_entry.errors import BusyError, CheckFailedError, UsageError
from neptune_entry.runner import run_entry_point
from neptune_ops.explain import explain_at
from neptune_ops.render import make_console, plural

if TYPE_CHECKING:
    from neptune_local.rdf_workload import RdfWorkload
    from neptune_local.runtime import LocalPipeline
    from neptune_local.template import SynthesizedStack
    from neptune_local.verify_asof import AsOfChecks
    from neptune_local.workload import Workload


class Progress:
    """What the live view shows. `skipped`: stream events that are not to be captured (those up to the record
    a capture from LATEST started after), left out of the counts."""

    def __init__(self, pipeline: LocalPipeline, skipped: int = 0) -> None:
        self.pipeline = pipeline
        self.skipped = skipped
        self.started = time.monotonic()
        self.captured = 0
        self.events = 0
        self.lag_ms = 0
        self.samples: list[tuple[float, int]] = []

    def sample(self) -> None:
        from neptune_local.verify import read_checkpoint

        assert self.pipeline.emulator is not None
        engine = self.pipeline.emulator.engine
        log = engine.log(self.pipeline.graph_model)
        with engine.lock:
            keys = list(log.keys)
            stamps = list(log.timestamps)
        assert self.pipeline.tables is not None
        position = read_checkpoint(self.pipeline.dynamodb, self.pipeline.tables.checkpoint, STREAM_ID).position
        through = bisect.bisect_right(keys, (position.commit_num, position.op_num)) if position else 0
        self.captured = max(0, through - self.skipped)
        self.events = len(keys) - self.skipped
        # Lag: how long ago the oldest change not yet captured was committed.
        self.lag_ms = max(0, int(time.time() * 1000) - stamps[through]) if through < len(keys) else 0
        self.samples.append((time.monotonic(), self.captured))

    def rate(self) -> float:
        recent = [s for s in self.samples if s[0] >= self.samples[-1][0] - 3]
        if len(recent) < 2 or recent[-1][0] == recent[0][0]:
            return 0.0
        return (recent[-1][1] - recent[0][1]) / (recent[-1][0] - recent[0][0])

    def line(self, written: int, target: int) -> str:
        return (
            f"[{time.monotonic() - self.started:5.1f} s] changes {written:,}/{target:,}  events {self.events:,}  "
            f"captured {self.captured:,}  lag {self.lag_ms / 1000:.2f} s  {self.rate():,.0f} records/s"
        )

    def drain_line(self) -> str:
        return (
            f"[{time.monotonic() - self.started:5.1f} s] events {self.events:,}  captured {self.captured:,}  "
            f"lag {self.lag_ms / 1000:.2f} s  {self.rate():,.0f} records/s"
        )

    def table(self, written: int, target: int) -> Table:
        t = Table(title="neptune-stream local run", show_header=False)
        t.add_row("changes written", f"{written:,} / {target:,}")
        t.add_row("stream events", f"{self.events:,}")
        t.add_row("records captured", f"{self.captured:,}")
        t.add_row("lag", f"{self.lag_ms / 1000:.2f} s")
        t.add_row("records/s", f"{self.rate():,.0f}")
        t.add_row("elapsed", f"{time.monotonic() - self.started:.1f} s")
        return t


def run(args: argparse.Namespace, console: Console) -> dict[str, Any]:
    # Imported here: the CLI builds this command's parser without starting (or importing) a pipeline.
    from neptune_local.runtime import LocalOptions, LocalPipeline
    from neptune_local.template import load_stack
    from neptune_local.verify_asof import AsOfChecks

    check_options(args)
    stack = load_stack(args.cdk_out)
    model = check_model(stack, args)
    check_cluster_mode(stack, args)
    console.print(f"playing {describe_stack(stack, model)}, synthesized in {args.cdk_out}")
    if args.existing_graph:
        from neptune_local.existing_demo import run_existing

        return run_existing(args, console)
    refuse_if_running(Path(args.data_dir))
    quiet_servers()
    options = LocalOptions(
        data_dir=Path(args.data_dir),
        iterations_per_execution=args.iterations_per_execution,
        time_budget_seconds=args.time_budget,
        start_schedule_period_seconds=args.schedule_period,
    )
    # Nothing starts an execution here: the start schedule does, at once and then every period, as it does on
    # `cdk deploy` (a start while one polls ends fenced).
    pipeline = LocalPipeline(stack, options).start()
    stop = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    try:
        progress = Progress(pipeline)
        workloads: list[Workload | RdfWorkload] = []
        assert pipeline.emulator is not None
        as_of = AsOfChecks.thirds(pipeline.emulator.engine, model, args.changes)
        # moto's Query and Scan pages look at every item of the table: on it (NEPTUNE_LOCAL_DYNAMODB=moto, for
        # comparison) a big run's exports would take hours, so there the checks stop at a bound and say so.
        checking = args.changes <= AS_OF_CHECK_MAX_CHANGES or not pipeline.dynamodb_name.startswith("moto")
        written = capture_while_writing(
            pipeline, progress, args, console, stop, changes=args.changes, seed=args.seed, workloads=workloads,
            after_step=as_of.after_step if checking else None,
        )  # fmt: skip
        summary = finish(pipeline, written, progress, args, console)
        if model == GraphModel.RDF:
            summary["ok"] = check_rdf_content(pipeline, workloads, console) and summary["ok"]
        if checking:
            summary["as_of_checks"] = check_as_of(pipeline, as_of, console)
            summary["ok"] = summary["ok"] and as_of.mismatches == 0 and summary["as_of_checks"]["points"] > 0
        else:
            console.print(
                f"as-of checks skipped: above {AS_OF_CHECK_MAX_CHANGES:,} changes moto's DynamoDB reads the whole table for "
                f"every Query and Scan page, and the exports would take hours (docs/time-travel.md); run --changes "
                f"{AS_OF_CHECK_MAX_CHANGES} or fewer for them"
            )
            summary["as_of_checks"] = {"points": 0, "mismatches": 0, "skipped": True}
        return summary
    finally:
        if not args.keep_running:
            pipeline.stop()
        else:
            serve_until_interrupted(pipeline, console)


DEFAULT_EXISTING_CHANGES = 2_000


def check_options(args: argparse.Namespace) -> None:
    """Options that only mean something beside another one are refused alone, not ignored."""
    if args.existing_changes is not None and not args.existing_graph:
        raise UsageError(
            "--existing-changes needs --existing-graph (it is the graph written before capture exists)",
            "add --existing-graph, or drop --existing-changes",
        )
    if args.existing_changes is None:
        args.existing_changes = DEFAULT_EXISTING_CHANGES


# The resource type of a Neptune cluster the stack creates: an existing-cluster stack has none.
NEPTUNE_CLUSTER_TYPE = "AWS::Neptune::DBCluster"
EXISTING_CLUSTER_CONTEXT = ContextKey.EXISTING_CLUSTER.flag("examples/existing-cluster.json")


def creates_cluster(stack: SynthesizedStack) -> bool:
    return any(r.get("Type") == NEPTUNE_CLUSTER_TYPE for r in stack.template.get("Resources", {}).values())


def describe_stack(stack: SynthesizedStack, model: GraphModel) -> str:
    cluster = "a new Neptune cluster" if creates_cluster(stack) else "an existing Neptune cluster"
    return f"the stack for {cluster}, capturing the {model} model"


def check_cluster_mode(stack: SynthesizedStack, args: argparse.Namespace) -> None:
    """The run plays the template as it is: one synthesized for the other cluster mode is refused, not played."""
    new = creates_cluster(stack)
    if args.existing_graph and new:
        raise UsageError(
            f"--existing-graph, but {args.cdk_out} was synthesized for a new cluster",
            f"synthesize with {EXISTING_CLUSTER_CONTEXT} (`make demo DEMO_ARGS=--existing-graph` does), or drop --existing-graph",
        )
    if not args.existing_graph and not new:
        raise UsageError(
            f"{args.cdk_out} was synthesized for an existing cluster (-c {ContextKey.EXISTING_CLUSTER.qualified}), but "
            "--existing-graph was not given",
            "synthesize again without it (`make demo` does), or add --existing-graph",
        )


def check_model(stack: SynthesizedStack, args: argparse.Namespace) -> GraphModel:
    """The graph the synthesized stack captures (its handler's GRAPH_MODEL, as `cdk deploy` would set it); a
    --model that says otherwise is refused, since the run plays the template as it is."""
    from neptune_local.runtime import synthesized_graph_model

    model = synthesized_graph_model(stack)
    if args.model is not None and args.model != model:
        flag = ContextKey.GRAPH_MODEL.flag(args.model)
        raise UsageError(
            f"--model {args.model}, but {args.cdk_out} was synthesized for the {model} model",
            f'synthesize with {flag} (`make demo DEMO_ARGS="--model {args.model}"` does), or drop --model',
        )
    if model == GraphModel.RDF and args.existing_graph:
        raise UsageError(
            "--existing-graph plays a property graph only", "run it without the RDF model, or run the RDF demo without it"
        )
    return model


def check_rdf_content(pipeline: LocalPipeline, workloads: list[Workload | RdfWorkload], console: Console) -> bool:
    """Beyond exactly once: every record is the statement the stream carried, and the captured log replays to
    the graph the emulator holds, blank nodes included (verify_rdf)."""
    from neptune_local.rdf_workload import RdfWorkload
    from neptune_local.verify_rdf import summary_line, verify_rdf

    assert pipeline.emulator is not None and pipeline.tables is not None
    inserted = next((w.addresses_inserted for w in workloads if isinstance(w, RdfWorkload)), None)
    report = verify_rdf(pipeline.dynamodb, pipeline.tables, pipeline.emulator.engine, expected_blank_nodes=inserted)
    console.print(f"[bold]{'OK' if report.ok else 'FAILED'}[/bold]: {summary_line(report)}")
    return report.ok


# On moto's DynamoDB, above this many changes the as-of checks are skipped, and say so: moto's Query and Scan pages
# look at every item of the table (docs/time-travel.md), so exports of a 10,000-change run would take hours there.
AS_OF_CHECK_MAX_CHANGES = 2_000


def check_as_of(pipeline: LocalPipeline, checks: AsOfChecks, console: Console) -> dict[str, int]:
    """Exports as of the snapshots taken while writing, and as of the last event, each equal to the graph then
    (verify_asof); the summary line gets `as_of_checks`."""
    from neptune_ops.captured import Source

    assert pipeline.tables is not None
    result = checks.check(Source(pipeline.dynamodb, pipeline.tables, STREAM_ID), Path(pipeline.options.data_dir))
    console.print(
        f"[bold]{'OK' if not checks.mismatches else 'FAILED'}[/bold]: exports as of {result['points']} points "
        f"(mid-run snapshots and the last event) against the graph then: {checks.mismatches} mismatches"
        + "".join(f"\n  {line}" for line in checks.details)
    )
    return result


def quiet_servers() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    logging.getLogger("gremlinpython").setLevel(logging.ERROR)


def capture_while_writing(
    pipeline: LocalPipeline,
    progress: Progress,
    args: argparse.Namespace,
    console: Console,
    stop: threading.Event,
    *,
    changes: int,
    seed: int,
    workloads: list[Workload | RdfWorkload] | None = None,
    after_step: Callable[[int], None] | None = None,
) -> int:
    """Writes `changes` through the workload (Gremlin for the property graph, SPARQL Update for RDF) while the
    live view shows capture, then waits (at most the drain timeout) until every event to capture is captured.
    Returns the changes written; `workloads` receives the workload; `after_step` is called by the workload's
    thread between its steps."""
    from neptune_local.rdf_workload import run_rdf_workload
    from neptune_local.workload import run_workload

    assert pipeline.emulator is not None
    workloads = [] if workloads is None else workloads
    gremlin_url, sparql_url = pipeline.emulator.gremlin_url, f"{pipeline.emulator.endpoint}/sparql"
    rdf = pipeline.graph_model == GraphModel.RDF

    def write() -> None:
        if rdf:
            run_rdf_workload(
                sparql_url, changes, rate=args.rate, seed=seed, stop=stop, on_start=workloads.append, after_step=after_step
            )
        else:
            run_workload(
                gremlin_url, changes, rate=args.rate, seed=seed, stop=stop, on_start=workloads.append, after_step=after_step
            )

    writer = threading.Thread(target=write, name="workload", daemon=True)
    writer.start()
    deadline = None
    last_line = 0.0
    with Live(console=console, refresh_per_second=4, transient=True) if console.is_terminal else nullcontext() as live:
        while not stop.is_set():
            progress.sample()
            written = workloads[0].written if workloads else 0
            if live is not None:
                live.update(progress.table(written, changes))
            elif time.monotonic() - last_line >= 2:  # not a terminal (CI, a pipe): a plain line every 2 s
                last_line = time.monotonic()
                console.print(progress.line(written, changes))
            if not writer.is_alive():
                deadline = deadline or time.monotonic() + args.drain_timeout
                if progress.captured == progress.events or time.monotonic() > deadline:
                    break
            stop.wait(0.25)  # the display's refresh period, not a synchronization
    writer.join(5)
    return workloads[0].written if workloads else 0


def finish(
    pipeline: LocalPipeline, written: int, progress: Progress, args: argparse.Namespace, console: Console
) -> dict[str, Any]:
    from neptune_local.verify import verify

    assert pipeline.emulator is not None and pipeline.tables is not None
    events = pipeline.stream_ids()
    console.print(f"verifying {plural(len(events), 'record')}: each stream event captured exactly once ...")
    report = verify(pipeline.dynamodb, pipeline.tables, STREAM_ID, events)
    executions = pipeline.executions()
    histories = [pipeline.history_length(e["executionArn"]) for e in executions]
    summary = {
        "changes_written": written,
        "stream_events": report.stream_events,
        "records": report.records,
        "duplicates": report.duplicates,
        "missing": report.missing,
        # Records the Scan did not return that a point read found (neptune_local.verify.read_back).
        "scan_missed": report.scan_missed,
        "history_items": report.history_items,
        "checkpoint": report.checkpoint.as_dict() if report.checkpoint else None,
        "executions": len(executions),
        # Each execution hands over to the next and ends SUCCEEDED; the last one still runs.
        "failed_executions": sum(
            e["status"] != ExecutionStatus.SUCCEEDED and e["status"] != ExecutionStatus.RUNNING for e in executions
        ),
        "max_history_events": max(histories, default=0),
        "dynamodb": pipeline.dynamodb_name,  # what held the tables: DynamoDB Local <version>, or moto's
    }
    ok = report.ok and written == args.changes and summary["failed_executions"] == 0
    elapsed = time.monotonic() - progress.started
    history_state = "complete, ordered" if report.history_complete and report.history_ordered else "INCOMPLETE"
    console.print(
        f"[bold]{'OK' if ok else 'FAILED'}[/bold]: {written:,} changes -> {report.stream_events:,} stream events -> "
        f"{report.records:,} records in {elapsed:.1f} s; duplicates {report.duplicates}, missing {report.missing}; "
        f"history {report.history_items:,} batches ({history_state}); "
        f"checkpoint {report.checkpoint} ({'= last event' if report.checkpoint_is_last else 'NOT the last event'}); "
        f"{plural(len(executions), 'execution')} (continue-as-new; {summary['failed_executions']} did not succeed), "
        f"largest history {summary['max_history_events']} events"
    )
    if report.scan_missed:
        console.print(
            f"[yellow]note[/yellow]: the records table's Scan did not return {plural(report.scan_missed, 'record')} "
            f"that a consistent point read found; counted as stored. A fault of {pipeline.dynamodb_name}'s Scan, not "
            "of capture, but the duplicate count rests on that Scan: keep --data-dir and report it "
            "(docs/dynamodb-local.md)."
        )
    summary["ok"] = ok
    element = an_element_id(pipeline)
    if element is not None and not args.keep_running:
        console.print(f"next: run with --keep-running to query the tables, then try: ./neptune-stream history {element}")
    return summary


def an_element_id(pipeline: LocalPipeline) -> str | None:
    """The id of an element the run captured (a vertex's or an edge's id, or an RDF subject), quoted for a
    shell: what to try `history` with."""
    import shlex

    from neptune_capture import schema

    assert pipeline.tables is not None
    items = pipeline.dynamodb.scan(TableName=pipeline.tables.records, Limit=1).get("Items", [])
    if not items:
        return None
    item = items[0]
    element = item.get("id", item.get(schema.SUBJECT, {})).get("S")
    return shlex.quote(element) if element else None


def serve_until_interrupted(pipeline: LocalPipeline, console: Console) -> None:
    endpoints = Path(pipeline.options.data_dir) / LOCAL_ENDPOINTS_FILE
    console.print(f"Still running (endpoints in {endpoints}); `./neptune-stream status` works now. Ctrl-C stops.")
    element = an_element_id(pipeline)
    if element is not None:
        console.print(f"try: ./neptune-stream history {element}")
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    done.wait()
    pipeline.stop()


def refuse_if_running(data_dir: Path) -> None:
    """A second run in the same data directory would replace the graph file under the first one."""
    from neptune_entry.errors import NoTargetError
    from neptune_ops.target import local_target

    try:
        local_target(data_dir)
    except NoTargetError:
        return  # nothing answers there: the directory is free
    raise BusyError(
        f"a local run is already up in {data_dir} (its endpoints answer)",
        "use it (`./neptune-stream status`), stop it (Ctrl-C in its terminal), or pass another --data-dir",
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--changes", type=int_at_least(1), default=10_000, help="graph changes to write (default 10,000)")
    parser.add_argument("--rate", type=float_above(0), default=None, help="changes per second (default: as fast as possible)")
    parser.add_argument("--seed", type=int, default=7, help="the workload's random seed (default 7)")
    parser.add_argument(
        "--iterations-per-execution", type=int_at_least(1), default=10, help="continue-as-new after this many loops (default 10)"
    )
    parser.add_argument(
        "--time-budget",
        type=float_above(0, 900),
        default=2.0,
        help="seconds per handler invocation (default 2; Lambda allows 900)",
    )
    parser.add_argument(
        "--schedule-period",
        type=float_above(0),
        default=10.0,
        help="seconds between the local start schedule's firings (default 10; deployed: minutes)",
    )
    parser.add_argument(
        "--data-dir", type=writable_directory, default=Path(".local"), help="where the run keeps its files (default .local)"
    )
    parser.add_argument("--cdk-out", type=synthesized_app, default=Path("cdk.out"), help="the synthesized app (default cdk.out)")
    parser.add_argument(
        "--drain-timeout", type=float_above(0), default=120.0, help="seconds to wait for capture after writing (default 120)"
    )
    parser.add_argument("--keep-running", action="store_true", help="leave the emulator and DynamoDB up for the CLI")
    parser.add_argument(
        "--model",
        choices=[str(m) for m in GraphModel],
        default=None,
        help="the graph captured: propertygraph (Gremlin, PG_JSON) or rdf (SPARQL, NQUADS); the synthesized stack must "
        f"say the same (-c {ContextKey.GRAPH_MODEL.qualified}; `make demo` passes it). Default: what the stack says",
    )
    parser.add_argument(
        "--existing-graph",
        action="store_true",
        help="play a cluster that already has a graph: write --existing-changes before capture exists, then capture "
        "from now (LATEST) and verify only what came after, then from the oldest record (TRIM_HORIZON) and verify everything",
    )
    parser.add_argument(
        "--existing-changes",
        type=int_at_least(1),
        default=None,
        help=f"with --existing-graph: changes written before capture starts (default {DEFAULT_EXISTING_CHANGES:,})",
    )


def run_demo(args: argparse.Namespace) -> int:
    console = make_console()
    summary = run(args, console)
    ok = summary.pop("ok")
    print(json.dumps(summary), flush=True)
    if not ok:
        raise CheckFailedError(
            "the exactly-once verification failed (see the line above)",
            f"the handlers' output is in {Path(args.data_dir) / LOCAL_FUNCTION_LOG}; rerun with --debug for tracebacks",
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_entry_point(argv, "neptune-stream demo", __doc__, add_arguments, run_demo, explain=explain_at)


if __name__ == "__main__":
    sys.exit(main())
