"""What an operator meets in the first hour: a mistyped command or option gets a "did you mean", an option
that needs another is refused alone, counts are whole numbers and read in the singular when there is one,
plain output is not wrapped, the demo says which stack it plays and refuses one synthesized for the other
cluster mode, the local run reports the template's memory size, and `status` right after `stop` does not
count the stopped execution as capturing."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import pytest

from neptune_capture import metrics as m
from neptune_capture.contract import GraphModel
from neptune_cli.commands import status, watch
from neptune_cli.main import build_parser
from neptune_cli.metrics_source import Totals
from neptune_entry.errors import UsageError
from neptune_local import demo
from neptune_local.lambda_runtime import LambdaRegistry
from neptune_local.template import SynthesizedStack
from neptune_ops.render import make_console, plural
from neptune_stream.functions import STREAM_HANDLER_MEMORY_MB

NOW = 1_700_000_000_000


@pytest.mark.parametrize(
    ("argv", "suggestion"),
    [
        (["stauts"], "did you mean status?"),
        (["status", "--jsno"], "did you mean --json?"),
        (["demo", "--chnages", "5"], "did you mean --changes?"),
        (["history", "v1", "--afer", "1:1"], "did you mean --after?"),
    ],
)
def test_a_mistyped_command_or_option_gets_a_suggestion(argv: list[str], suggestion: str, capsys: Any) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(argv)
    problem, next_step = capsys.readouterr().err.splitlines()
    assert suggestion in problem and next_step.strip().startswith("next:")


def test_nothing_is_suggested_for_a_word_like_no_command(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["xyzzy"])
    assert "did you mean" not in capsys.readouterr().err


def test_existing_changes_without_existing_graph_is_refused_not_ignored() -> None:
    with pytest.raises(UsageError, match="--existing-changes needs --existing-graph") as refused:
        demo.check_options(argparse.Namespace(existing_changes=5, existing_graph=False))
    assert "add --existing-graph" in (refused.value.next_step or "")
    given = argparse.Namespace(existing_changes=None, existing_graph=True)
    demo.check_options(given)
    assert given.existing_changes == demo.DEFAULT_EXISTING_CHANGES


def test_counts_read_in_the_singular_only_for_one() -> None:
    assert [plural(n, "execution") for n in (0, 1, 2, 1500)] == [
        "0 executions",
        "1 execution",
        "2 executions",
        "1,500 executions",
    ]


def test_watch_json_counts_are_whole_numbers() -> None:
    totals = Totals({m.RECORDS: 300.0, m.BATCHES: 4.0, m.FENCED: 1.0}, {m.LAG_MS: 1500.0})
    shown = watch.Snapshot(NOW, 30.0, totals, watch.Executions(running=1, started=2, failed=0)).as_dict()
    counts = [shown[k] for k in ("records", "transactions", "fencedWrites", "maxLagMs")]
    assert counts == [300, 4, 1, 1500] and all(type(c) is int for c in counts)
    assert shown["throttles"] == 0 and type(shown["throttles"]) is int  # none in the window: 0, not 0.0


def test_plain_output_is_never_wrapped(capsys: Any) -> None:
    console = make_console()  # pytest captures stdout: not a terminal
    line = "lag 0.64 s  " + "x" * 200 + "  212 records/s"
    console.print(line)
    assert capsys.readouterr().out == line + "\n"


def _stack(resources: dict[str, Any]) -> SynthesizedStack:
    return SynthesizedStack({"Resources": resources}, directory=Path("cdk.out"))


NEW = _stack({"Cluster": {"Type": demo.NEPTUNE_CLUSTER_TYPE}})
EXISTING = _stack({"Handler": {"Type": "AWS::Lambda::Function"}})


def test_the_demo_says_which_stack_it_plays() -> None:
    assert demo.describe_stack(NEW, GraphModel.RDF) == "the stack for a new Neptune cluster, capturing the rdf model"
    assert "an existing Neptune cluster" in demo.describe_stack(EXISTING, GraphModel.PROPERTY_GRAPH)


def test_the_demo_refuses_a_stack_synthesized_for_the_other_cluster_mode() -> None:
    with pytest.raises(UsageError, match="synthesized for an existing cluster") as refused:
        demo.check_cluster_mode(EXISTING, argparse.Namespace(existing_graph=False, cdk_out="cdk.out"))
    assert "make demo" in (refused.value.next_step or "")
    with pytest.raises(UsageError, match=r"--existing-graph, but cdk\.out was synthesized for a new cluster"):
        demo.check_cluster_mode(NEW, argparse.Namespace(existing_graph=True, cdk_out="cdk.out"))
    demo.check_cluster_mode(NEW, argparse.Namespace(existing_graph=False, cdk_out="cdk.out"))
    demo.check_cluster_mode(EXISTING, argparse.Namespace(existing_graph=True, cdk_out="cdk.out"))


def test_the_local_run_reports_the_memory_size_the_template_gives(stack: SynthesizedStack) -> None:
    function = stack.function("stream-handler")
    assert function.memory_mb == STREAM_HANDLER_MEMORY_MB
    registry = LambdaRegistry()
    registry.register(function.arn, lambda event, context: context.memory_limit_in_mb, 5.0, function.memory_mb)
    assert registry.invoke({"FunctionName": function.arn})["Payload"] == STREAM_HANDLER_MEMORY_MB


def test_status_right_after_stop_does_not_count_the_stopped_execution_as_capturing() -> None:
    stopped = "arn:aws:states:r:1:execution:m:e1"
    report = status.StatusReport(
        target="t", running=[{"executionArn": stopped, "name": "e1", "startDate": NOW - 5000}], stopped_by_stop=stopped
    )
    row = {r.label: r for r in status.rows(report, NOW)}["executions"]
    assert row.level == "bad" and row.value.startswith("none running: capture is stopped")
    assert "1 stopped by `stop`" in row.value


def test_status_shows_the_generation_and_when_it_began() -> None:
    report = status.StatusReport(target="t", running=[])
    assert {r.label: r for r in status.rows(report, NOW)}["generation"].value.startswith("0 (")
    report.generation = {"number": 2, "startedAt": NOW - 60_000, "reason": "reset through neptune-stream"}
    shown = {r.label: r for r in status.rows(report, NOW)}["generation"].value
    assert shown.startswith("2, began 1 min 0 s ago") and shown.endswith("reset through neptune-stream")
