"""The capture against a latency model of DynamoDB (neptune_local/dynamo_model.py), and the handler's own
CPU per record. Part of `make bench` (bench/pipeline.py prints the figures).

- modelled_capture: the real stream handler, through the synthesized state machine (moto's interpreter),
  writing to the DynamoDB model served by a process of its own (neptune_local/dynamo_model_server.py):
  every call takes its modelled latency (a real wait), each table takes at most its write units per
  second. The run is the handler's, unchanged: its DYNAMODB_ENDPOINT names the model's server.
- handler_cpu: one thread does what the handler does per page, on the same backlog: read it from the
  emulator through boto3 (the response parsed), validate it, cut it into batches, build the record and
  history items and each TransactWriteItems request, and serialize it through boto3; the request is then
  answered at once instead of by a DynamoDB (the stand-in's cost excluded). thread_time counts that
  thread's CPU only, not the emulator's server thread.
- projected_lambda_records_per_s: a Lambda at the deployed memory gets memory/1,769 of a vCPU (one full
  vCPU at 1,769 MB: https://docs.aws.amazon.com/lambda/latest/dg/configuration-memory.html); Python runs
  the handler's work on one core at a time whatever the vCPU count, so the projection is
  1e6 / cpu_us_per_record x min(1, memory / 1,769), assuming a Lambda core as fast as this machine's.
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

from botocore.awsrequest import AWSPreparedRequest, AWSResponse
from botocore.compat import HTTPHeaders

from neptune_capture import schema
from neptune_capture.clock import SystemClock
from neptune_capture.contract import DEFAULT_STREAM_ID as STREAM_ID
from neptune_capture.events import EventId, parse_page
from neptune_capture.metrics import CountingMetrics
from neptune_capture.neptune_api import make_client
from neptune_capture.plan import BatchContext, Batcher, Lease, data_transaction
from neptune_capture.schema import CheckpointAttr as C
from neptune_capture.schema import TableNames
from neptune_capture.store import checkpoint_from_item
from neptune_capture.stream_source import NeptuneStreamSource, to_documented_shape
from neptune_capture.wiring import dynamodb_client
from neptune_local.dynamo_latency import LatencyModel
from neptune_local.dynamo_model_server import ITEMS_PATH, STATS_PATH
from neptune_local.dynamodb_endpoint import DynamoDBEndpoint
from neptune_local.runtime import LocalOptions, LocalPipeline
from neptune_local.template import SynthesizedStack
from neptune_local.verify import check

ONE_VCPU_MB = 1769
PAGE_LIMIT = 10_000


@dataclass
class ModelledRun:
    in_flight: int
    events: int
    seconds: float
    duplicates: int
    missing: int
    verified: bool  # records, history, checkpoint: the whole exactly-once verification
    conflicts: int
    throttles: int
    write_units_per_s: dict[str, float]
    max_concurrent: int

    @property
    def records_per_s(self) -> float:
        return self.events / max(self.seconds, 1e-9)


def modelled_capture(
    stack: SynthesizedStack,
    graph_file: Path,
    work_dir: Path,
    *,
    in_flight: int,
    latency: LatencyModel,
    write_units_per_s: float,
    dynamodb: DynamoDBEndpoint | None = None,
) -> ModelledRun:
    """Captures the backlog in `graph_file` (copied) with the handler writing to a fresh DynamoDB model,
    served by a process of its own; the run's other tables in `dynamodb` (a server shared by the runs)."""
    work_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(graph_file, work_dir / "graph.db")
    with _model_server(latency, write_units_per_s) as endpoint:
        options = LocalOptions(
            data_dir=work_dir,
            fresh=False,
            time_budget_seconds=30,
            in_flight=in_flight,
            handler_dynamodb_endpoint=endpoint,
            dynamodb=dynamodb,
        )
        with LocalPipeline(stack, options) as pipeline, _set_up_objects_frozen():
            assert pipeline.tables is not None
            ids = pipeline.stream_ids()
            started_ms = time.time() * 1000
            pipeline.start_execution()
            if not pipeline.wait_for_checkpoint(ids[-1], timeout=1800):
                raise TimeoutError(f"the modelled capture with {in_flight} in flight did not reach {ids[-1]} within 1800 s")
            for arn in pipeline.running_executions():
                pipeline.sfn.stop_execution(executionArn=arn)
            tables = pipeline.tables
        items = {
            name: _get(f"{endpoint}{ITEMS_PATH}?table={name}") for name in (tables.records, tables.history, tables.checkpoint)
        }
        stats = _get(f"{endpoint}{STATS_PATH}")
    checkpoint_item = next((i for i in items[tables.checkpoint] if i[schema.STREAM_ID]["S"] == STREAM_ID), None)
    seconds = (int(checkpoint_item[C.UPDATED_AT]["N"]) - started_ms) / 1000 if checkpoint_item else float("inf")
    report = check(
        [EventId(*schema.record_generation_and_event(i)[1:]) for i in items[tables.records]],
        sorted(
            (h for h in items[tables.history] if h[schema.STREAM_ID]["S"] == STREAM_ID),
            key=lambda h: str(h[schema.POSITION]["S"]),
        ),
        checkpoint_from_item(STREAM_ID, checkpoint_item).position,
        ids,
    )
    return ModelledRun(
        in_flight=in_flight,
        events=len(ids),
        seconds=seconds,
        duplicates=report.duplicates,
        missing=report.missing,
        verified=report.ok,
        conflicts=stats["cancelled"].get("TransactionConflict", 0),
        throttles=stats["cancelled"].get("ThrottlingError", 0),
        write_units_per_s={name: units / seconds for name, units in stats["write_units"].items()},
        max_concurrent=stats["max_concurrent"],
    )


@contextmanager
def _model_server(latency: LatencyModel, write_units_per_s: float) -> Iterator[str]:
    """The DynamoDB model in a process of its own (as DynamoDB is not in the Lambda's): its endpoint."""
    command = [
        sys.executable,
        "-m",
        "neptune_local.dynamo_model_server",
        f"--p50-ms={latency.p50_ms}",
        f"--p99-ms={latency.p99_ms}",
        f"--table-wcu={write_units_per_s}",
    ]
    with subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True) as server:
        assert server.stdout is not None and server.stdin is not None
        endpoint = server.stdout.readline().strip()
        if not endpoint.startswith("http"):
            raise RuntimeError(f"the DynamoDB model server did not start: {endpoint!r}")
        try:
            yield endpoint
        finally:
            server.stdin.close()  # it stops when its stdin closes
            server.wait(timeout=60)


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=300) as response:
        return json.loads(response.read())


@contextmanager
def _set_up_objects_frozen() -> Iterator[None]:
    """What is set up before the run (the emulator's graph and stream: Neptune's, on other machines in
    AWS; moto's server) is kept out of the garbage collector's walks (gc.freeze), which a Lambda's
    collector would not make; what the run creates is collected as usual."""
    gc.collect()
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


@dataclass
class HandlerCpu:
    records: int
    fetch_us: float  # the Streams call: HTTP client side and boto3's parsing of the response
    parse_us: float  # validating the page into events
    plan_us: float  # batches, record items (with their sizes) and history items
    send_us: float  # each TransactWriteItems request built and serialized by boto3

    @property
    def total_us(self) -> float:
        return self.fetch_us + self.parse_us + self.plan_us + self.send_us


def handler_cpu(
    neptune_endpoint: str, tables: TableNames, events: int, *, after_set_up: Callable[[], None] = lambda: None
) -> HandlerCpu:
    """CPU microseconds per record of the handler's own work on every page of a stream of `events`."""
    source = NeptuneStreamSource(make_client(neptune_endpoint), limit=PAGE_LIMIT, clock=SystemClock(), metrics=CountingMetrics())
    client = dynamodb_client("https://dynamodb.cpu.invalid")  # the handler's own client and configuration
    # A before-send handler's response is sent back instead of a request (the stubs type handlers as None).
    client.meta.events.register_first("before-send.dynamodb", cast("Callable[..., None]", _answered_at_once))
    after_set_up()
    lease = Lease("bench", 2**62, "bench")
    batcher = Batcher(STREAM_ID)
    times = dict.fromkeys(("fetch", "parse", "plan", "send"), 0.0)
    records, slot = 0, 0
    after: EventId | None = None
    while records < events:
        t0 = time.thread_time()
        response = source.client.get_propertygraph_stream(**source.request(after))
        t1 = time.thread_time()
        page = parse_page(to_documented_shape(dict(response)), after)
        t2 = time.thread_time()
        context = BatchContext(STREAM_ID, lease, int(time.time() * 1000), page.last_trx_timestamp)
        transactions = [data_transaction(batch, (slot := slot + 1) % 8, context) for batch in batcher.add(page.events)]
        t3 = time.thread_time()
        for txn in transactions:
            client.transact_write_items(TransactItems=txn.transact_items(tables), ClientRequestToken=txn.token)  # type: ignore[arg-type]
        t4 = time.thread_time()
        for name, spent in zip(times, (t1 - t0, t2 - t1, t3 - t2, t4 - t3), strict=True):
            times[name] += spent
        records += len(page.events)
        after = page.events[-1].event_id
    per_record = {name: spent / max(records, 1) * 1e6 for name, spent in times.items()}
    return HandlerCpu(records, per_record["fetch"], per_record["parse"], per_record["plan"], per_record["send"])


def _answered_at_once(request: AWSPreparedRequest, **_: Any) -> AWSResponse:
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.0"
    return AWSResponse(request.url, 200, headers, _Empty())


class _Empty:
    def stream(self, **_: Any) -> Any:
        yield b"{}"

    def read(self, *_: Any) -> bytes:
        return b"{}"


def projected_records_per_s(cpu_us_per_record: float, memory_mb: int) -> float:
    return 1e6 / cpu_us_per_record * min(1.0, memory_mb / ONE_VCPU_MB)


def main(argv: list[str] | None = None) -> int:
    """`python -m bench.modelled ENDPOINT EVENTS`: handler_cpu in a process holding only what the stream
    handler's Lambda holds (boto3, the layer), not the bench's emulator and moto, whose objects the
    garbage collector would otherwise walk on the handler's time. Prints one JSON object."""
    parser = argparse.ArgumentParser(prog="python -m bench.modelled")
    parser.add_argument("endpoint")
    parser.add_argument("events", type=int)
    args = parser.parse_args(argv)
    tables = TableNames("records", "history", "checkpoint")
    # gc.freeze() after the set-up, as the stream handler does (lambdas/stream_handler/index.py).
    print(json.dumps(asdict(handler_cpu(args.endpoint, tables, args.events, after_set_up=gc.freeze))))
    return 0


def measure_handler_cpu(neptune_endpoint: str, events: int) -> HandlerCpu:
    """handler_cpu in its own process (see main)."""
    done = subprocess.run(
        [sys.executable, "-m", "bench.modelled", neptune_endpoint, str(events)], capture_output=True, text=True, check=True
    )
    return HandlerCpu(**json.loads(done.stdout.strip().splitlines()[-1]))


if __name__ == "__main__":
    raise SystemExit(main())
