"""`make chaos`, small: every fault-injection scenario on the whole local stack, each verified exactly
once. The same command as `make chaos`, with fewer changes per scenario."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from neptune_local.chaos.scenarios import SCENARIOS
from tests.conftest import Synth

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`


def test_every_chaos_scenario_loses_and_duplicates_nothing(synth: Synth) -> None:
    _run_chaos(synth, "--changes", "40")


def test_every_chaos_scenario_holds_for_the_rdf_graph(rdf_synth: Synth) -> None:
    """The same scenarios on the RDF stack (SPARQL updates, NQUADS pages), few changes each: every scenario also
    checks each record against the stream's statement, and the replayed log against the graph."""
    _run_chaos(rdf_synth, "--model", "rdf", "--changes", "20")


def _run_chaos(synth: Synth, *args: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "neptune_local.chaos", *args, "--cdk-out", str(synth.outdir)],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    lines = result.stdout.strip().splitlines()
    scenario_lines = [line for line in lines if line.startswith(("PASS", "FAIL"))]
    assert [line.split(":", 1)[0].split("  ", 1)[1] for line in scenario_lines] == list(SCENARIOS), result.stderr[-3000:]
    assert all(line.startswith("PASS") for line in scenario_lines), "\n".join(scenario_lines)
    summary = json.loads(lines[-1])
    assert summary.pop("dynamodb").startswith("DynamoDB Local "), "the tables were in AWS's own engine"
    assert summary == {"scenarios": len(SCENARIOS), "passed": len(SCENARIOS), "lost": 0, "duplicated": 0}
    assert result.returncode == 0
