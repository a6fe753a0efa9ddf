"""Capture attached to a graph that was there first, played locally on the existing-cluster stack: the demo
(`--existing-graph`) small, the CLI's `start --from`, `reset` refused on a stack without a reset function,
and a cluster whose Neptune Streams is off, refused by `start` and failed loudly by the handler itself."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from gremlin_python.process.anonymous_traversal import traversal

from neptune_capture.contract import DEFAULT_STREAM_ID, LOCAL_ENDPOINTS_FILE, ExecutionStatus, Output
from neptune_capture.events import EventId
from neptune_entry.exit_codes import ExitCode
from neptune_local.runtime import LocalOptions, LocalPipeline
from neptune_local.workload import connect
from tests.cli_entry import assert_fails, run_cli
from tests.conftest import Synth
from tests.demo_run import run_demo

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`

# Bounds, not synchronizations: each is far above what the step takes, and its expiry fails the test saying so.
CAPTURE_TIMEOUT_SECONDS = 60


def ok(*args: str) -> Any:
    result = run_cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout


def write_graph(pipeline: LocalPipeline, count: int) -> EventId:
    """`count` changes through gremlinpython, before any capture; the newest event of the stream after them."""
    assert pipeline.emulator is not None
    connection = connect(pipeline.emulator.gremlin_url)
    g = traversal().with_(connection)
    for i in range(count):
        g.add_v("person").property("name", f"p{i}").iterate()
    connection.close()
    return pipeline.stream_ids()[-1]


def test_the_existing_graph_demo_verifies_from_now_then_from_the_oldest_record(existing_synth: Synth, tmp_path: Path) -> None:
    summary = run_demo(
        existing_synth.outdir, tmp_path, "--existing-graph", "--existing-changes", "150", "--changes", "200"
    ).summary
    assert summary["existing_changes"] == 150 and summary["changes_written"] == 200
    assert summary["duplicates"] == 0 and summary["missing"] == 0
    latest, oldest = summary["from_latest"], summary["from_trim_horizon"]
    # From now: the history names the record the emulator showed as the newest before capture started.
    assert latest["ok"] and latest["started_after"] == latest["history_says_started_after"]
    assert latest["started_after"]["commitNum"] == 150, "the last op of the 150th transaction, the newest record then"
    assert latest["start_items"] == 1 and latest["records"] == latest["expected"] < summary["stream_events"]
    assert oldest["ok"] and oldest["start_items"] == 0 and oldest["records"] == oldest["expected"] == summary["stream_events"]
    assert latest["checkpoint"] == oldest["checkpoint"] and oldest["checkpoint"]["commitNum"] == 350
    outputs = json.loads((tmp_path / LOCAL_ENDPOINTS_FILE).read_text())["outputs"]
    assert Output.RESET_FUNCTION not in outputs, "the existing-cluster stack has no reset function: nor does its local run"


def test_start_from_latest_once_and_no_reset_on_a_cluster_the_stack_did_not_create(existing_synth: Synth, tmp_path: Path) -> None:
    options = LocalOptions(data_dir=tmp_path, time_budget_seconds=0.5)
    with LocalPipeline(existing_synth.stack, options) as pipeline:
        newest = write_graph(pipeline, 3)
        d = ("--data-dir", str(tmp_path))

        assert_fails(
            run_cli("reset", "--yes", *d),
            ExitCode.NO_TARGET,
            "has no reset function",
            "never erases its graph",
            "neptune-stream:allowReset=true",
        )
        assert pipeline.emulator is not None and len(pipeline.emulator.engine.graph.vertices) == 3, "nothing erased"

        started = ok("start", "--from", "latest", *d, "--json")
        assert started["input"] == {"startFrom": "LATEST"}
        assert started["neptune"] == {"checked": True, "streams": "enabled", "engineVersion": "1.4.6.1.R1"}
        assert pipeline.wait_for_checkpoint(newest, CAPTURE_TIMEOUT_SECONDS), "the start from LATEST was not recorded"
        after = write_graph(pipeline, 2)
        assert pipeline.wait_for_checkpoint(after, CAPTURE_TIMEOUT_SECONDS), "capture did not reach the changes after the start"

        status = ok("status", *d, "--json")
        assert status["start"]["startedFrom"] == "LATEST"
        assert status["start"]["startedAfter"] == f"{newest.commit_num:020d}:{newest.op_num:010d}"
        assert status["neptune"]["streams"] == "enabled" and status["neptune"]["problem"] is None
        assert status["cluster"] is None, "the emulator has no parameter group"
        plain = ok("status", *d)
        assert f"from LATEST after event {newest.commit_num}:{newest.op_num}: it and earlier changes were not captured" in plain

        ok("stop", *d)
        # moto ends a stopped execution a moment after StopExecution returns: wait until it has.
        assert wait_until_ended(pipeline, started["started"], CAPTURE_TIMEOUT_SECONDS) == ExecutionStatus.ABORTED
        assert_fails(
            run_cli("start", "--from", "latest", *d),
            ExitCode.USAGE,
            "--from latest applies to the first capture only",
            f"checkpoint {after}",
            "leave --from out",
        )
        assert_fails(run_cli("start", "--from", "latest", "--resume-from-trim-horizon", *d), ExitCode.USAGE, "not allowed with")
        assert_fails(run_cli("start", "--from", "now", *d), ExitCode.USAGE, "invalid choice: 'now'")


def wait_until_ended(pipeline: LocalPipeline, execution: str, bound: float) -> str:
    """The execution's final status; the bound only ever expires on a hang, and the test then says so."""
    deadline = time.monotonic() + bound
    while (status := pipeline.sfn.describe_execution(executionArn=execution)["status"]) == ExecutionStatus.RUNNING:
        assert time.monotonic() < deadline, f"{execution} still running after {bound} s"
        pipeline.registry.wait_idle(1)  # wakes when an invocation ends: then the execution may have ended
    return status


def test_a_cluster_without_streams_is_refused_by_start_and_failed_loudly_by_the_handler(synth: Synth, tmp_path: Path) -> None:
    options = LocalOptions(data_dir=tmp_path, time_budget_seconds=0.5, streams_enabled=False)
    with LocalPipeline(synth.stack, options) as pipeline:
        assert pipeline.tables is not None
        d = ("--data-dir", str(tmp_path))
        status = run_cli("status", *d, "--json")
        assert status.returncode == 0, status.stderr
        neptune = json.loads(status.stdout)["neptune"]
        assert neptune["streams"] == "disabled" and "set neptune_streams=1" in neptune["problem"]

        refused = run_cli("start", *d)
        assert_fails(refused, ExitCode.NEPTUNE, "Neptune Streams is disabled", "neptune_streams=1", "reboot every DB instance")
        assert pipeline.executions() == [], "nothing started"

        # What the schedule would start anyway: its first invocation asks Neptune, and the execution fails saying why.
        execution = pipeline.start_execution({})
        assert wait_until_ended(pipeline, execution, CAPTURE_TIMEOUT_SECONDS) == ExecutionStatus.FAILED
        item = pipeline.dynamodb.get_item(TableName=pipeline.tables.checkpoint, Key={"streamId": {"S": DEFAULT_STREAM_ID}})[
            "Item"
        ]
        assert item["lastFailure"]["S"] == "StreamsDisabledError"
        cause = item["lastFailureCause"]["S"]
        assert (
            "set neptune_streams=1 in the cluster's DB cluster parameter group" in cause and "reboot every DB instance" in cause
        )
        assert "leaseOwner" not in item, "the failed execution gave its lease up"
        assert "commitNum" not in item and item.get("version", {"N": "0"}) == {"N": "0"}, "nothing was captured or started"
