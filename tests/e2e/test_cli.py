"""The CLI against a local run, through the real entry point (`./neptune-stream` as a subprocess): start,
status, history pages, watch, stop and start with the self-restart schedule (created in moto's scheduler
here), reset, and the failures a local run can show (Neptune down, a second run in the same directory)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.traversal import Cardinality, T

from neptune_capture.contract import LOCAL_ENDPOINTS_FILE, Output
from neptune_capture.events import EventId
from neptune_entry.exit_codes import ExitCode
from neptune_local.runtime import LocalOptions, LocalPipeline
from neptune_local.template import function_arn
from neptune_local.workload import connect
from tests.cli_entry import assert_fails, closed_port, run_cli
from tests.conftest import Synth

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`

CAPTURE_TIMEOUT_SECONDS = 60  # a bound: capturing two changes takes well under a second


def ok(*args: str) -> Any:
    result = run_cli(*args)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout


def test_cli_drives_a_local_run(synth: Synth, tmp_path: Path) -> None:
    options = LocalOptions(data_dir=tmp_path, time_budget_seconds=0.5)
    with LocalPipeline(synth.stack, options) as pipeline:
        assert pipeline.emulator is not None and pipeline.tables is not None
        connection = connect(pipeline.emulator.gremlin_url)
        g = traversal().with_(connection)
        g.add_v("person").property(T.id, "p1").property("name", "ann").iterate()
        g.V("p1").property(Cardinality.single, "name", "anne").iterate()  # replaces: REMOVE then ADD
        connection.close()
        d = ("--data-dir", str(tmp_path))

        started = ok("start", *d, "--json")
        # The local run plays the stack's start schedule in moto's scheduler (not firing here): start resumes it.
        endpoints = tmp_path / LOCAL_ENDPOINTS_FILE
        info = json.loads(endpoints.read_text())
        schedule = info["outputs"][Output.START_SCHEDULE]
        assert started["started"].startswith("arn:aws:states:") and started["schedule"]["state"] == "ENABLED"
        assert pipeline.wait_for_checkpoint(EventId(2, 2), CAPTURE_TIMEOUT_SECONDS), "capture did not reach 2:2"
        # The capturing invocation prints its metrics when it ends, which a later invocation's start proves.
        handler = function_arn("stream-handler").rsplit(":", 1)[-1]
        registry, capturing = pipeline.registry, pipeline.registry.invocations[handler]
        with registry.idle:
            assert registry.idle.wait_for(lambda: registry.invocations[handler] > capturing, CAPTURE_TIMEOUT_SECONDS)

        status = ok("status", *d, "--json")
        assert status["checkpoint"]["commitNum"] == 2 and status["checkpoint"]["opNum"] == 2
        assert [e["executionArn"] for e in status["runningExecutions"]] == [started["started"]]
        assert status["lease"]["owner"] == started["started"]
        assert status["neptune"]["streams"] == "enabled" and status["problems"] == []
        plain = ok("status", *d)  # not a terminal: plain lines
        assert "checkpoint:" in plain and "commit 2 op 2" in plain and "Traceback" not in plain

        changes = ok("history", "p1", *d, "--json")["changes"]
        assert [(c["type"], c["op"], c["value"]) for c in changes] == [
            ("vl", "ADD", "person"),
            ("vp", "ADD", "ann"),
            ("vp", "REMOVE", "ann"),
            ("vp", "ADD", "anne"),
        ]
        first = ok("history", "p1", *d, "--limit", "3", "--json")
        assert len(first["changes"]) == 3 and first["next"] == "2:1"
        rest = ok("history", "p1", *d, "--limit", "3", "--after", first["next"], "--json")
        assert rest["changes"] == changes[3:] and rest["next"] is None
        assert "more: add --after 2:1 for the next 3" in ok("history", "p1", *d, "--limit", "3")
        assert_fails(run_cli("history", "p2", *d), ExitCode.NO_DATA, "no captured change of element 'p2'", "case-sensitive")

        # Time travel: the element as of each point, and the graph exported as of the last event.
        as_of_1 = ok("history", "p1", *d, "--as-of", "1", "--json")
        assert as_of_1["status"] == "present" and as_of_1["vertex"]["labels"] == ["person"]
        assert as_of_1["vertex"]["properties"] == {"name": [{"dataType": "String", "value": "ann"}]}
        assert as_of_1["changesApplied"] == 2 and as_of_1["nextChange"] == {"commitNum": 2, "opNum": 1}
        assert ok("history", "p1", *d, "--as-of", "2:1", "--json")["vertex"]["properties"] == {}, "between REMOVE and ADD"
        assert ok("history", "p1", *d, "--as-of", "0", "--json")["status"] == "not yet"
        text = ok("history", "p1", *d, "--as-of", "2")
        assert "p1 as of commit 2: present" in text and "name: 'anne' (String)" in text
        assert_fails(run_cli("history", "p1", *d, "--as-of", "yesterday"), ExitCode.USAGE, "--as-of", "ISO 8601")
        assert_fails(run_cli("history", "p1", *d, "--as-of", "2", "--after", "1:1"), ExitCode.USAGE, "--as-of")
        out = tmp_path / "graph-2"
        exported = ok("export", "--as-of", "2", "--out", str(out), *d, "--json")
        assert exported["complete"] and exported["vertices"] == 1 and exported["newestChange"] == {"commitNum": 2, "opNum": 2}
        assert (out / "vertices-00000.csv").read_text() == '~id,~label,name:String\n"p1","person","anne"\n'
        assert_fails(run_cli("export", "--as-of", "2", "--out", str(out), *d), ExitCode.USAGE, "is not empty")

        # The handlers' metrics reach the function log as EMF documents: watch reads them there.
        view = ok("watch", *d, "--once", "--window", "600", "--json")
        assert view["records"] == 4 and view["transactions"] >= 1 and view["executions"]["running"] == 1

        # Stop pauses the self-restart schedule; start resumes it (through the scheduler API, as in AWS).
        scheduler = boto3.client("scheduler", endpoint_url=pipeline.moto_endpoint, region_name="us-east-1")

        stopped = ok("stop", *d, "--json")
        assert stopped["stopped"] == [started["started"]] and stopped["leaseReleased"] == [started["started"]]
        assert stopped["schedule"]["state"] == "DISABLED" and scheduler.get_schedule(Name=schedule)["State"] == "DISABLED"
        item = pipeline.dynamodb.get_item(TableName=pipeline.tables.checkpoint, Key={"streamId": {"S": "neptune"}})["Item"]
        assert "leaseOwner" not in item and "leaseExpiresAt" not in item
        assert ok("status", *d, "--json")["schedule"]["state"] == "DISABLED"

        restarted = ok("start", *d, "--json")
        assert restarted["started"] and restarted["schedule"]["state"] == "ENABLED"
        assert scheduler.get_schedule(Name=schedule)["State"] == "ENABLED"
        ok("stop", *d)

        # A second run in the same data directory would replace the first one's graph file.
        busy = run_cli("demo", "--changes", "10", "--cdk-out", str(synth.outdir), *d)
        assert_fails(busy, ExitCode.BUSY, f"a local run is already up in {tmp_path}", "--data-dir")

        assert ok("reset", "--yes", *d, "--json")["status"] == "200 OK"
        assert pipeline.emulator.engine.graph.vertices == {}

        # Neptune out of reach while the rest answers: status shows the rest, then names Neptune.
        info["neptune"] = f"http://127.0.0.1:{closed_port()}"
        endpoints.write_text(json.dumps(info))
        down = run_cli("status", *d)
        assert_fails(down, ExitCode.NEPTUNE, "GetEngineStatus", "demo --keep-running")
        assert "neptune:" in down.stdout and "unavailable" in down.stdout and "checkpoint:" in down.stdout
        # The reset reads the stream first (is everything captured?): that read names Neptune.
        assert_fails(run_cli("reset", "--yes", *d), ExitCode.NEPTUNE, "GetStreamRecords failed", "emulator does not answer")
