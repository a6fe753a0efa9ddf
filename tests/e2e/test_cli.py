"""The project CLI against a local run: start, status, history, stop and reset."""

from __future__ import annotations

import io
import json
import time
from contextlib import redirect_stdout
from pathlib import Path
from typing import Any

import pytest
from gremlin_python.process.traversal import Cardinality, T

from neptune_cli import main as cli
from neptune_local.runtime import LocalOptions, LocalPipeline
from neptune_local.workload import connect
from tests.conftest import Synth

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`


def run_cli(*args: str) -> Any:
    out = io.StringIO()
    with redirect_stdout(out):
        assert cli.main(list(args)) == 0
    return json.loads(out.getvalue())


def test_cli_drives_a_local_run(synth: Synth, tmp_path: Path) -> None:
    options = LocalOptions(data_dir=tmp_path, time_budget_seconds=0.5)
    with LocalPipeline(synth.stack, options) as pipeline:
        assert pipeline.emulator is not None
        from gremlin_python.process.anonymous_traversal import traversal

        connection = connect(pipeline.emulator.gremlin_url)
        g = traversal().with_(connection)
        g.add_v("person").property(T.id, "p1").property("name", "ann").iterate()
        g.V("p1").property(Cardinality.single, "name", "anne").iterate()  # replaces: REMOVE then ADD
        connection.close()
        d = ("--data-dir", str(tmp_path))

        started = run_cli("start", *d)
        assert started["executionArn"].startswith("arn:aws:states:")
        deadline = time.monotonic() + 60
        status = run_cli("status", *d)
        while status["checkpoint"] != {"commitNum": 2, "opNum": 2} and time.monotonic() < deadline:
            pipeline.registry.wait_idle(5)  # wakes when an invocation ends: then the checkpoint may have moved
            status = run_cli("status", *d)
        assert status["checkpoint"] == {"commitNum": 2, "opNum": 2}
        assert status["runningExecutions"] == [started["executionArn"]]
        assert status["neptune"]["streams"] == "enabled"

        changes = run_cli("history", "p1", *d)["changes"]
        assert [(c["type"], c["op"], c["value"]) for c in changes] == [
            ("vl", "ADD", "person"),
            ("vp", "ADD", "ann"),
            ("vp", "REMOVE", "ann"),
            ("vp", "ADD", "anne"),
        ]

        assert run_cli("stop", *d) == {"stopped": [started["executionArn"]], "leaseReleased": [started["executionArn"]]}
        assert pipeline.tables is not None
        item = pipeline.dynamodb.get_item(TableName=pipeline.tables.checkpoint, Key={"streamId": {"S": "neptune"}})["Item"]
        assert "leaseOwner" not in item and "leaseExpiresAt" not in item
        assert run_cli("reset", "--yes", *d)["status"] == "200 OK"
        assert pipeline.emulator.engine.graph.vertices == {}
