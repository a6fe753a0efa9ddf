"""`make bench-asof`: `export --as-of` of the demo's records, beside a full Scan of the same records table, in the
same run. The demo's workload (10,000 changes by default, BENCH_ASOF_CHANGES) is written through the emulator and
captured by the real handlers into the local run's DynamoDB (DynamoDB Local); then, capture done:

- scan_seconds / scan_records_per_s: a paginated Scan of the whole records table (1 MB pages, the most a Scan
  returns: https://docs.aws.amazon.com/amazondynamodb/latest/APIReference/API_Scan.html), the baseline;
- export_scan_seconds / export_scan_records_per_s: `export --as-of <last event>` into a temporary directory (a
  parallel Scan of the current generation in 8 segments, spill, fold, CSV), and its read phase alone.

Figures, not assertions; printed as a table and one JSON line."""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from neptune_capture.asof import Point
from neptune_capture.contract import DEFAULT_STREAM_ID as STREAM_ID
from neptune_local.runtime import LocalOptions, LocalPipeline
from neptune_local.template import load_stack
from neptune_local.workload import run_workload
from neptune_ops import captured
from neptune_ops.export import SEGMENTS, export

CHANGES = int(os.environ.get("BENCH_ASOF_CHANGES", "10000"))
CAPTURE_TIMEOUT_S = 900.0  # a bound on capturing the workload; its expiry ends the benchmark with an error


def full_scan(pipeline: LocalPipeline) -> tuple[int, float]:
    assert pipeline.tables is not None
    started = time.monotonic()
    count = 0
    for page in pipeline.dynamodb.get_paginator("scan").paginate(TableName=pipeline.tables.records, ConsistentRead=True):
        count += len(page.get("Items", []))
    return count, time.monotonic() - started


def main() -> int:
    stack = load_stack(Path("cdk.out"))
    with tempfile.TemporaryDirectory() as tmp, LocalPipeline(stack, LocalOptions(data_dir=Path(tmp))) as pipeline:
        assert pipeline.emulator is not None and pipeline.tables is not None
        run_workload(pipeline.emulator.gremlin_url, CHANGES)
        last = pipeline.stream_ids()[-1]
        pipeline.start_execution()
        if not pipeline.wait_for_checkpoint(last, CAPTURE_TIMEOUT_S):
            print(f"capture did not reach {last} within {CAPTURE_TIMEOUT_S:.0f} s", file=sys.stderr)
            return 1
        source = captured.Source(pipeline.dynamodb, pipeline.tables, STREAM_ID)
        point = Point(commit_num=last.commit_num, op_num=last.op_num)
        scanned, scan_s = full_scan(pipeline)
        scan = export(source, point, Path(tmp) / "export-scan", segments=SEGMENTS)
        scanned_after, scan_after_s = full_scan(pipeline)  # again after: the machine is shared
    figures: dict[str, Any] = {
        "changes": CHANGES,
        "commits": last.commit_num,
        "records": scanned,
        "scan_seconds": round(min(scan_s, scan_after_s), 2),
        "scan_records_per_s": round(scanned / min(scan_s, scan_after_s)),
        "export_scan_seconds": round(scan.seconds, 2),
        "export_scan_records_per_s": round(scan.records_read / scan.seconds),
        "export_scan_read_seconds": round(scan.read_seconds, 2),
        "export_segments": SEGMENTS,
        "vertices": scan.vertices,
        "edges": scan.edges,
    }
    assert scanned == scanned_after == scan.records_read, "the scan and the export read the same records"
    width = max(map(len, figures))
    for key, value in figures.items():
        print(f"{key:<{width}}  {value}")
    print(json.dumps(figures), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
