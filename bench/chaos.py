"""`make chaos`: fault-injection scenarios on the local pipeline (emulator + moto + the synthesized state
machine + the real handlers), each ending with the exactly-once verification. One line per scenario,
then `{"scenarios", "passed", "lost", "duplicated"}` as the last line.

Crashes between transactions, lost responses, fencing after a lease takeover, expiry with the operator
path and malformed pages are covered at the capture-loop level by tests/unit/test_capture.py and
test_events_and_items.py; the scenarios here exercise the whole local stack."""

from __future__ import annotations

import json
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any

from neptune_capture.events import EventId
from neptune_stream.local.emulator.server import set_faults
from neptune_stream.local.runtime import LocalOptions, LocalPipeline
from neptune_stream.local.template import load_template
from neptune_stream.local.verify import read_checkpoint, verify
from neptune_stream.local.workload import connect, run_workload

CHANGES = int(os.environ.get("CHAOS_CHANGES", "300"))
TIMEOUT_S = 180.0


@contextmanager
def dynamodb_conflicts(rate: float, seed: int = 5) -> Iterator[None]:
    """Cancels a share of TransactWriteItems with TransactionConflict, as concurrent writers would."""
    from moto.dynamodb import models
    from moto.dynamodb.exceptions import TransactionCanceledException

    rng = random.Random(seed)
    original = models.DynamoDBBackend.transact_write_items

    def conflicting(self: Any, transact_items: list[dict[str, Any]]) -> None:
        if rng.random() < rate:
            raise TransactionCanceledException([("TransactionConflict", "injected conflict", None)] * len(transact_items))
        original(self, transact_items)

    models.DynamoDBBackend.transact_write_items = conflicting  # type: ignore[method-assign]
    try:
        yield
    finally:
        models.DynamoDBBackend.transact_write_items = original  # type: ignore[method-assign]


def big_value(pipeline: LocalPipeline) -> None:
    assert pipeline.emulator is not None
    from gremlin_python.process.anonymous_traversal import traversal

    connection = connect(pipeline.emulator.gremlin_url)
    traversal().with_(connection).add_v("blob").property("data", "é" * 300_000).iterate()  # 600 KB of UTF-8
    connection.close()


def drain(pipeline: LocalPipeline) -> None:
    assert pipeline.emulator is not None and pipeline.tables is not None
    last = EventId(*pipeline.emulator.engine.stream.keys[-1])
    deadline = time.monotonic() + TIMEOUT_S
    while read_checkpoint(pipeline.dynamodb, pipeline.tables.checkpoint, "neptune").position != last:
        if time.monotonic() > deadline:
            return
        pipeline.registry.wait_idle(1)


def scenario(
    template: dict[str, Any], name: str, *, faults: dict[str, Any] | None = None, executions: int = 1,
    extra: Callable[[LocalPipeline], None] | None = None, patch: Any = None,
) -> dict[str, Any]:  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, patch or nullcontext():
        options = LocalOptions(data_dir=Path(tmp), time_budget_seconds=1.0, iterations_per_execution=5)
        with LocalPipeline(template, options) as pipeline:
            assert pipeline.emulator is not None and pipeline.tables is not None
            if faults:
                set_faults(pipeline.emulator.endpoint, seed=7, **faults)
            for _ in range(executions):
                pipeline.start_execution()
            run_workload(pipeline.emulator.gremlin_url, CHANGES, seed=hash(name) % 1000)
            if extra:
                extra(pipeline)
            drain(pipeline)
            ids = [EventId(c, o) for c, o in pipeline.emulator.engine.stream.keys]
            report = verify(pipeline.dynamodb, pipeline.tables, "neptune", ids)
            injected = pipeline.emulator.engine.faults.injected
            statuses = sorted(e["status"] for e in pipeline.executions())
    return {"scenario": name, "ok": report.ok, "events": report.stream_events, "lost": report.missing,
            "duplicated": report.duplicates, "faults_injected": injected, "executions": statuses}  # fmt: skip


def main() -> int:
    template = load_template(os.environ.get("CDK_OUT", "cdk.out"))
    runs = [
        lambda: scenario(template, "emulator throttling at 30 % of calls", faults={"kind": "ThrottlingException", "rate": 0.3}),
        lambda: scenario(template, "emulator memory limit at 30 %", faults={"kind": "MemoryLimitExceededException", "rate": 0.3}),
        lambda: scenario(template, "emulator 500s at 30 %", faults={"kind": "InternalFailure", "rate": 0.3}),
        lambda: scenario(template, "slow responses (300 ms, 50 %)", faults={"kind": "slow", "rate": 0.5, "delay_ms": 300}),
        lambda: scenario(template, "DynamoDB transaction conflicts at 30 %", patch=dynamodb_conflicts(0.3)),
        lambda: scenario(template, "two executions at once", executions=2),
        lambda: scenario(template, "a record over 400 KB", extra=big_value),
    ]
    results = []
    for run in runs:
        result = run()
        results.append(result)
        details = json.dumps({k: v for k, v in result.items() if k not in ("scenario", "ok")})
        print(f"{'PASS' if result['ok'] else 'FAIL'}  {result['scenario']}: {details}", flush=True)
    summary = {
        "scenarios": len(results),
        "passed": sum(r["ok"] for r in results),
        "lost": sum(r["lost"] for r in results),
        "duplicated": sum(r["duplicated"] for r in results),
    }
    print(json.dumps(summary))
    return 0 if summary["passed"] == summary["scenarios"] else 1


if __name__ == "__main__":
    sys.exit(main())
