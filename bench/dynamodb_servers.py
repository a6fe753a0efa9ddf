"""DynamoDB Local beside moto's DynamoDB, in one run (`python -m bench.dynamodb_servers`; docs/dynamodb-local.md):
for each server, the 10,000-change demo (`neptune-stream demo`, as `make demo` runs it) and `make bench`'s
backlog figures (the sink: the same transactions written straight to the tables, before and after the
capture; the real handler capturing the backlog through the synthesized state machine). The server is chosen
as a user would choose it, with NEPTUNE_LOCAL_DYNAMODB. Figures, not assertions; one JSON line at the end.

BENCH_BACKLOG (default 20,000 events) and DEMO_CHANGES (default 10,000) size the work."""

from __future__ import annotations

import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pipeline import backlog_run
from neptune_local.dynamodb_endpoint import SERVER_ENV, DynamoDBServer
from neptune_local.runtime import LocalOptions, LocalPipeline
from neptune_local.template import load_stack

BACKLOG_EVENTS = int(os.environ.get("BENCH_BACKLOG", "20000"))
DEMO_CHANGES = int(os.environ.get("DEMO_CHANGES", "10000"))
ROOT = Path(__file__).resolve().parents[1]


def demo(server: DynamoDBServer, cdk_out: str) -> dict[str, Any]:
    """The demo as `make demo` runs it (defaults but the changes), in a process of its own. Its data directory
    (the handlers' log, DynamoDB Local's) is kept when its verification fails, and named in the figures."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"demo-{server.value}-"))
    started = time.monotonic()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "neptune_local.demo",
            "--changes",
            str(DEMO_CHANGES),
            "--cdk-out",
            cdk_out,
            "--data-dir",
            str(data_dir),
        ],
        cwd=ROOT,
        env={**os.environ, SERVER_ENV: server.value},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.monotonic() - started
    lines = result.stdout.strip().splitlines()
    try:
        summary = json.loads(lines[-1])
    except (IndexError, ValueError):
        raise RuntimeError(
            f"the demo on {server} ended without its summary: {result.stdout[-2000:]}{result.stderr[-2000:]}"
        ) from None
    capture_s = re.search(r"records in ([\d.]+) s", result.stdout)
    figures = {
        "demo_wall_s": round(wall, 1),  # the whole process: servers started and stopped too
        "demo_capture_s": float(capture_s.group(1)) if capture_s else None,  # what the demo's OK line says
        "demo_ok": result.returncode == 0,
        "demo_records": summary["records"],
        "demo_duplicates": summary["duplicates"],
        "demo_missing": summary["missing"],
        "dynamodb": summary["dynamodb"],
    }
    if result.returncode == 0:
        shutil.rmtree(data_dir, ignore_errors=True)
    else:
        figures["demo_kept"] = str(data_dir)
    return figures


def backlog(server: DynamoDBServer, cdk_out: str) -> dict[str, Any]:
    os.environ[SERVER_ENV] = server.value
    stack = load_stack(cdk_out)
    with (
        tempfile.TemporaryDirectory() as tmp,
        LocalPipeline(stack, LocalOptions(data_dir=Path(tmp), time_budget_seconds=30)) as pipeline,
    ):
        run = backlog_run(pipeline, BACKLOG_EVENTS)
        return {
            "backlog_events": len(run.ids),
            "sink_records_per_s": round(run.sink_records_per_s),
            "sink_before_after": f"{run.sink_before:,.0f} / {run.sink_after:,.0f}",
            "capture_records_per_s": round(len(run.ids) / max(run.capture_s, 1e-9)),
            "dynamodb": pipeline.dynamodb_name,
        }


def main() -> int:
    cdk_out = os.environ.get("CDK_OUT", "cdk.out")
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False)
    results: dict[str, Any] = {
        "commit": commit.stdout.strip(),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_implementation()} {platform.python_version()}",
        "load_average_at_start": [round(x, 1) for x in os.getloadavg()],
    }
    for server in (DynamoDBServer.DYNAMODB_LOCAL, DynamoDBServer.MOTO):
        figures = {**demo(server, cdk_out), **backlog(server, cdk_out)}
        results[server.value] = figures
        print(f"{server.value}: {json.dumps(figures)}", flush=True)
    results["load_average_at_end"] = [round(x, 1) for x in os.getloadavg()]
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
