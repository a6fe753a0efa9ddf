"""`./neptune-stream COMMAND`: one entry point for the local run and a deployed stack.

Targets: the local run (`.local/endpoints.json`, written by `demo --keep-running`) by default, or a
deployed stack with `--stack NeptuneStream` (AWS credentials; names come from the stack's outputs)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.table import Table

from neptune_capture.asof import Point, PointError
from neptune_capture.contract import ContextKey
from neptune_entry.arguments import (
    CliParser,
    add_debug_argument,
    event_id,
    float_above,
    int_at_least,
    non_empty,
    since,
    writable_directory,
)
from neptune_entry.exit_codes import epilog
from neptune_entry.runner import Context, guarded
from neptune_ops import render
from neptune_ops.explain import explain_at
from neptune_ops.target import Target, add_target_arguments, target_from


def as_of_point(text: str) -> Point:
    """`--as-of`: a commit number, COMMIT:OP, or an ISO 8601 time (neptune_capture.asof.Point)."""
    try:
        return Point.parse(text)
    except PointError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


@dataclass(frozen=True)
class Command:
    run: Callable[[argparse.Namespace, Context, Console], int]
    help: str
    description: str
    arguments: Callable[[argparse.ArgumentParser], None]
    target: bool = True  # acts on the local run or a stack (takes the target options)


def _target(args: argparse.Namespace, context: Context) -> Target:
    target = target_from(args)
    context.place = target.place
    return target


# -- status
def status(args: argparse.Namespace, context: Context, console: Console) -> int:
    from neptune_cli.commands import status as s

    target = _target(args, context)
    report = s.gather(target)
    now = render.now_ms()
    if args.json:
        render.show_json(console, report.as_dict(now))
    else:
        render.show_rows(console, "neptune-stream status", s.rows(report, now))
    if report.problems:
        raise report.problems[0]
    return 0


def status_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="one JSON object, for scripts")


# -- history
def history(args: argparse.Namespace, context: Context, console: Console) -> int:
    from neptune_cli.commands import history as h

    target = _target(args, context)
    if args.as_of is not None:
        return history_as_of(args, target, console)
    page = h.read_page(target, args.element_id, limit=args.limit, after=args.after, since_ms=args.since)
    if args.json:
        render.show_json(console, page.as_dict())
    elif page.changes:
        rows = h.table_rows(page)
        if console.is_terminal:
            table = Table(*h.headers(page), title=f"changes of {args.element_id}", title_justify="left")
            for row in rows:
                table.add_row(*(escape(cell) for cell in row))
            console.print(table)
        else:
            for row in rows:
                render.show_line(console, "  ".join(row))
    if not page.changes:
        raise h.nothing_found(args.element_id, args.after, args.since, target.place.title)
    if page.next_after and not args.json:
        render.show_line(console, f"more: add --after {page.next_after} for the next {args.limit}")
    return 0


def history_as_of(args: argparse.Namespace, target: Target, console: Console) -> int:
    from neptune_cli.commands import history as h
    from neptune_entry.errors import UsageError

    if args.after or args.since is not None:
        raise UsageError("--as-of shows one state: it does not page (--after) or filter (--since)", "drop --after/--since")
    state = h.state_as_of(target, args.element_id, args.as_of)
    if state.status == "unknown":
        raise h.never_captured(args.element_id, target.place.title)
    if args.json:
        render.show_json(console, {"asOf": args.as_of.as_dict(), **state.as_dict()})
    else:
        for line in h.state_lines(state, args.as_of):
            render.show_line(console, line)
    return 0


def history_arguments(parser: argparse.ArgumentParser) -> None:
    from neptune_cli.commands.history import DEFAULT_LIMIT, MAX_LIMIT

    parser.add_argument(
        "element_id",
        metavar="ELEMENT_ID",
        type=non_empty,
        help="a vertex or edge id, as Neptune reports it; for the RDF graph, a resource: its IRI (brackets optional) or _:label",
    )
    parser.add_argument(
        "--limit", type=int_at_least(1, MAX_LIMIT), default=DEFAULT_LIMIT, help=f"changes per page (default {DEFAULT_LIMIT})"
    )
    parser.add_argument("--after", type=event_id, metavar="COMMIT:OP", help="start after this event (the page before prints it)")
    parser.add_argument("--since", type=since, metavar="WHEN", help="changes committed since: 15m, 2h, 7d, or an ISO 8601 time")
    parser.add_argument(
        "--as-of",
        type=as_of_point,
        metavar="POINT",
        help="the element's state at a commit (1042), an event (1042:3) or a time (ISO 8601, against commitTimestamp)",
    )
    parser.add_argument("--json", action="store_true", help="the page as JSON ({elementId, changes, next}), for scripts")


# -- export
def export(args: argparse.Namespace, context: Context, console: Console) -> int:
    from neptune_ops import captured
    from neptune_ops import export as x

    target = _target(args, context)
    source = captured.Source(target.dynamodb, target.tables, target.stream_id)
    report = x.export(source, args.as_of, args.out, partial=args.partial, console=console, segments=args.segments)
    if args.json:
        render.show_json(console, report.as_dict())
    else:
        for line in x.summary_lines(report):
            render.show_line(console, line)
    x.check_written(report, args.partial)
    return 0


def export_arguments(parser: argparse.ArgumentParser) -> None:
    from neptune_ops.export import SEGMENTS

    parser.add_argument(
        "--as-of",
        type=as_of_point,
        required=True,
        metavar="POINT",
        help="a commit (1042), an event (1042:3) or a time (ISO 8601, against commitTimestamp)",
    )
    parser.add_argument("--out", type=writable_directory, required=True, metavar="DIR", help="a new or empty directory")
    parser.add_argument(
        "--partial",
        action="store_true",
        help="export what was captured even when capture did not start at the graph's first change (export.json says "
        "what is missing)",
    )
    parser.add_argument(
        "--segments",
        type=int_at_least(1, 64),
        default=SEGMENTS,
        help=f"segments of the parallel Scan of the records table, read at once (default {SEGMENTS})",
    )
    parser.add_argument("--json", action="store_true", help="the export's manifest (export.json) as JSON")


# -- start, stop, reset
def start(args: argparse.Namespace, context: Context, console: Console) -> int:
    from neptune_ops import control

    target = _target(args, context)
    result = control.start(
        target,
        resume_from_trim_horizon=args.resume_from_trim_horizon,
        force_lease=args.force_lease,
        start_from=control.START_POINTS[args.start_from] if args.start_from else None,
    )
    _show_result(console, args, result, control.start_lines(result))
    return 0


def start_arguments(parser: argparse.ArgumentParser) -> None:
    from neptune_ops.control import START_POINTS

    where = parser.add_mutually_exclusive_group()
    where.add_argument(
        "--resume-from-trim-horizon",
        action="store_true",
        help="after an expired checkpoint: record the gap, read from the oldest change",
    )
    where.add_argument(
        "--from",
        dest="start_from",
        choices=sorted(START_POINTS),
        help="the first capture only: from the oldest change in the stream (trim-horizon) or after the newest (latest)",
    )
    parser.add_argument("--force-lease", action="store_true", help="take the stream over from an execution that holds its lease")
    parser.add_argument("--json", action="store_true", help="the result as JSON")


def stop(args: argparse.Namespace, context: Context, console: Console) -> int:
    from neptune_ops import control

    result = control.stop(_target(args, context))
    _show_result(console, args, result, control.stop_lines(result))
    return 0


def json_only(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="the result as JSON")


def reset(args: argparse.Namespace, context: Context, console: Console) -> int:
    from neptune_ops import control

    control.confirm_reset(args.yes)  # before any target is looked up
    result = control.reset(_target(args, context), discard_uncaptured=args.discard_uncaptured)
    _show_result(console, args, result, control.reset_lines(result))
    return 0


def reset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true", help="confirm: the graph and its stream are erased")
    parser.add_argument(
        "--discard-uncaptured",
        action="store_true",
        help="reset even though the stream holds changes capture has not stored (they are lost)",
    )
    parser.add_argument("--json", action="store_true", help="the result as JSON")


def _show_result(console: Console, args: argparse.Namespace, result: dict[str, object], lines: list[str]) -> None:
    if args.json:
        render.show_json(console, result)
    else:
        for text in lines:
            render.show_line(console, text)


# -- watch
def watch(args: argparse.Namespace, context: Context, console: Console) -> int:
    from neptune_cli.commands import watch as w

    target = _target(args, context)
    source = w.source_for(target)
    window = args.window or (w.LOCAL_WINDOW_SECONDS if target.local else w.STACK_WINDOW_SECONDS)
    iterations = 1 if args.once else args.iterations
    stop = threading.Event()
    live = Live(console=console, auto_refresh=False, transient=False) if console.is_terminal and not args.json else nullcontext()
    try:
        with live as view:
            for snap in w.views(
                lambda: w.snapshot(target, source, render.now_ms(), window),
                iterations=iterations,
                interval=args.interval,
                stop=stop,
            ):
                if args.json:
                    render.show_line(console, json.dumps(snap.as_dict()))
                elif view is not None:
                    view.update(
                        render.rows_table(f"neptune-stream watch: {target.place.title} (Ctrl-C ends)", w.rows(snap)), refresh=True
                    )
                else:
                    render.show_line(console, w.line(snap))
    except KeyboardInterrupt:
        return 0  # Ctrl-C is how a live view ends
    return 0


def watch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--interval", type=float_above(0), default=5.0, help="seconds between refreshes (default 5)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--iterations", type=int_at_least(1), metavar="N", help="stop after N views (default: until Ctrl-C)")
    group.add_argument("--once", action="store_true", help="one view, then exit (= --iterations 1)")
    parser.add_argument(
        "--window", type=float_above(0), metavar="SECONDS", help="what each view sums over (default 30 locally, 300 for a stack)"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per view, a line each")


# -- preflight
def preflight(args: argparse.Namespace, context: Context, console: Console) -> int:
    from neptune_cli.commands import preflight as p

    plan = p.plan_from(args)
    checks = p.run_checks(p.Clients.from_session(p.session_for(plan.region, args.profile)), plan)
    if args.json:
        render.show_json(console, {"region": plan.region, "checks": [c.as_dict() for c in checks]})
    else:
        for check in checks:
            for text in check.lines():
                render.show_line(console, text)
    p.verdict(checks)
    return 0


def preflight_arguments(parser: argparse.ArgumentParser) -> None:
    from neptune_entry.arguments import existing_file, region

    parser.add_argument("--region", type=region, help="the region to deploy to (default: AWS_REGION or your profile's)")
    parser.add_argument("--profile", type=non_empty, help="an AWS profile from ~/.aws/config (default: AWS_PROFILE)")
    parser.add_argument(
        "--instance-class",
        type=non_empty,
        metavar="CLASS",
        help="the Neptune instance class (default: cdk.json's, else db.r6g.large)",
    )
    parser.add_argument(
        "--existing-cluster",
        type=existing_file,
        metavar="FILE",
        help=f"the file naming an existing cluster to capture (default: cdk.json's {ContextKey.EXISTING_CLUSTER.qualified})",
    )
    parser.add_argument("--json", action="store_true", help="the checks as JSON")


# -- demo, emulator: their own parsers' arguments, run in this process
def demo(args: argparse.Namespace, context: Context, console: Console) -> int:
    from neptune_local.demo import run_demo

    return run_demo(args)


def demo_arguments(parser: argparse.ArgumentParser) -> None:
    from neptune_local.demo import add_arguments

    add_arguments(parser)


def emulator(args: argparse.Namespace, context: Context, console: Console) -> int:
    from neptune_emulator.__main__ import serve

    return serve(args)


def emulator_arguments(parser: argparse.ArgumentParser) -> None:
    from neptune_emulator.__main__ import add_arguments

    add_arguments(parser)


COMMANDS: dict[str, Command] = {
    "demo": Command(
        demo,
        "run the whole pipeline locally",
        "Runs the pipeline on this machine (Neptune emulator, DynamoDB and Step Functions from moto, the real "
        "handlers), verifies every change was captured exactly once, and prints a JSON summary.",
        demo_arguments,
        target=False,
    ),
    "emulator": Command(
        emulator,
        "run the local Neptune emulator alone",
        "The local Neptune emulator, for your own Gremlin code.",
        emulator_arguments,
        target=False,
    ),
    "preflight": Command(
        preflight,
        "before the first deploy: what would make it fail (read-only)",
        "Asks AWS, with your credentials and read-only calls, whether a `cdk deploy` would succeed: the region offers "
        "the pinned Neptune engine and instance class, the account is CDK-bootstrapped there, Lambda knows the runtime, "
        "an existing cluster is what its file says, the quotas hold. One line per check; exit code 1 on any problem.",
        preflight_arguments,
        target=False,
    ),
    "status": Command(
        status,
        "checkpoint, lag, lease, executions, last failure, Neptune, schedule",
        "The pipeline at a glance: a table on a terminal, plain lines in a pipe, JSON with --json.",
        status_arguments,
    ),
    "watch": Command(
        watch,
        "live view: records/s, lag, transactions, fenced writes, throttles, executions",
        "Refreshes until Ctrl-C (or --iterations N): the local run's metrics from its function log, a stack's from CloudWatch.",
        watch_arguments,
    ),
    "history": Command(
        history,
        "an element's captured changes in stream order, a page at a time",
        "Reads one vertex's or edge's changes from the records table (index byElement), --limit at a time.",
        history_arguments,
    ),
    "export": Command(
        export,
        "the captured graph as of a point, in Neptune's bulk-load formats",
        "Folds the captured changes up to a commit, an event or a time into Gremlin load-format CSV (vertices, edges) "
        "or N-Quads (RDF), for Neptune's loader; refuses a capture that did not start at the graph's first change "
        "unless --partial. docs/time-travel.md says more.",
        export_arguments,
    ),
    "start": Command(
        start,
        "start capture (and resume the self-restart schedule)",
        "Resumes the self-restart schedule (if the stack has one) and starts an execution unless one is running.",
        start_arguments,
    ),
    "stop": Command(
        stop,
        "stop capture: pause the schedule, stop executions, release the lease",
        "Pauses the self-restart schedule, stops every running execution and releases its lease, so the next "
        "start polls at once.",
        json_only,
    ),
    "reset": Command(
        reset,
        "Neptune fast reset: erase the graph, begin the next capture generation (--yes)",
        "Stops capture, runs Neptune's two-step fast reset (initiate, then perform with the token), which erases the "
        "graph and its stream, begins the next capture generation (earlier generations' records and history are kept) "
        "and starts capture again. Refused while the stream holds changes capture has not stored "
        "(docs/reset-and-generations.md).",
        reset_arguments,
    ),
}


def build_parser() -> CliParser:
    parser = CliParser(
        prog="neptune-stream", description=__doc__, epilog=epilog(), formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_debug_argument(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", parser_class=CliParser)
    for name, command in COMMANDS.items():
        p = sub.add_parser(
            name,
            help=command.help,
            description=command.description,
            epilog=epilog(),
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )
        command.arguments(p)
        if command.target:
            add_target_arguments(p)
        # Also after the command (`status --debug`); SUPPRESS keeps a --debug given before it.
        add_debug_argument(p, default=argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(sys.argv[1:] if argv is None else argv)
    # The capture core logs its retries (reset reads the stream with them); a command's failure is its two
    # lines, not the core's log too.
    logging.getLogger("neptune_capture").addHandler(logging.NullHandler())
    console = render.make_console()
    command = COMMANDS[args.command]

    def body(context: Context) -> int:
        return command.run(args, context, console)

    return guarded(body, debug=args.debug, explain=explain_at)


if __name__ == "__main__":
    sys.exit(main())
