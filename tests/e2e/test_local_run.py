"""`make demo`'s own path, small: the synthesized state machine executed by moto with the real
handlers, fed by the workload through the emulator, verified exactly once, continue-as-new included."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from neptune_capture.contract import DEFAULT_STREAM_ID, LOCAL_ENDPOINTS_FILE, Output
from tests.conftest import Synth
from tests.demo_run import run_demo

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`


def test_demo_captures_every_change_exactly_once_across_continue_as_new(synth: Synth, tmp_path: Path) -> None:
    run = run_demo(synth.outdir, tmp_path, "--changes", "400")
    assert "Traceback" not in run.output, "nothing in the run (moto's servers included) failed on the way"
    # It says what it plays, what it checks before checking, and what to try next, with a captured element's id.
    assert "playing the stack for a new Neptune cluster, capturing the propertygraph model" in run.output
    assert "verifying " in run.output and " records: each stream event captured exactly once" in run.output
    assert re.search(r"try: \./neptune-stream history \S+", run.output), run.output[-2000:]
    summary = run.summary
    assert summary["changes_written"] == 400
    assert summary["duplicates"] == 0 and summary["missing"] == 0
    assert summary["records"] == summary["stream_events"] >= 400
    assert summary["history_items"] >= 1
    assert summary["checkpoint"]["commitNum"] == 400
    assert summary["executions"] >= 2, "continue-as-new happened"
    assert summary["failed_executions"] == 0, "every execution handed over and succeeded"
    assert 0 < summary["max_history_events"] < 25_000
    endpoints = json.loads((tmp_path / LOCAL_ENDPOINTS_FILE).read_text())
    # The handler reached Neptune over HTTPS, verifying its certificate against the local CA, as in AWS
    # (https://docs.aws.amazon.com/neptune/latest/userguide/security-ssl.html).
    assert endpoints["neptune"].startswith("https://") and endpoints["gremlin"].startswith("wss://")
    assert Path(endpoints["ca_bundle"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert summary["dynamodb"].startswith("DynamoDB Local "), "the tables were in AWS's own engine"
    # Exports (Gremlin CSV) as of snapshots taken after 133 and 266 changes, and as of the last event, read back
    # as the loader reads them: each equal to the emulator's graph at that point.
    assert summary["as_of_checks"] == {"points": 3, "mismatches": 0}
    assert len(list(tmp_path.glob("as-of-*/vertices-*.csv"))) >= 3
    outputs = endpoints["outputs"]
    assert outputs[Output.STREAM_ID] == DEFAULT_STREAM_ID
    assert set(outputs) >= {
        Output.RECORDS_TABLE,
        Output.HISTORY_TABLE,
        Output.CHECKPOINT_TABLE,
        Output.STATE_MACHINE,
        Output.START_SCHEDULE,
    }
