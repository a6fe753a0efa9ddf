"""`export --as-of POINT --out DIR`: the captured graph as of a point, in Neptune's bulk-load formats.

Reading: the history's batches say how many records lie up to the point (captured.read_capture); the records
table, whose only key is the generation-qualified position, is read by a parallel Scan of the current generation
in segments (captured.scan_pages), each segment its own thread. Memory stays bounded: each record
up to the point is appended to a spill file chosen by a hash of its element id, so one element's records all land
in one bucket of at most about RECORDS_PER_BUCKET records; then bucket by bucket, each element's records are put
in stream order and folded (neptune_capture.asof), and the bucket's vertices, edges or statements are written as
files of its own (neptune_capture.bulkload). The directory then holds what one loader job loads (a folder is a
valid `source`: https://docs.aws.amazon.com/neptune/latest/userguide/bulk-load-tutorial-format-gremlin.html),
and `export.json`, what the export is: its point, counts, and whether it is the whole graph.

An export is of the whole graph only if the capture holds every change from the graph's first one on: it is
refused (unless --partial) when capture began from LATEST, when a GAP (changes that expired before capture read
them) lies before the point, or when the first captured event is not commit 1's first operation (the stream no
longer held the changes before it when capture began, or streams were enabled on a graph that had data). The
user guide does not say which commit number a new cluster's first transaction gets; its examples begin at 1
(https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-reponse.html), and so does the emulator."""

from __future__ import annotations

import functools
import json
import math
import shutil
import tempfile
import threading
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

from neptune_capture import schema
from neptune_capture.asof import Change, Point, fold
from neptune_capture.bulkload import EDGE_SYSTEM, VERTEX_SYSTEM, Row, Skipped, csv_files, edge_row, nquads_lines, vertex_row
from neptune_capture.events import EventId
from neptune_capture.schema import RecordAttr as R
from neptune_entry.errors import CheckFailedError, NoDataError, UsageError
from neptune_ops import captured

SEGMENTS = 8  # Scan segments read at once: the reads are I/O, each segment its own thread
RECORDS_PER_BUCKET = 50_000  # the most records (about) one bucket's fold holds in memory
MANIFEST = "export.json"
FIRST_EVENT = EventId(1, 1)


@dataclass
class Report:
    point: Point
    out: Path
    model: str | None = None  # "propertygraph" or "rdf"; None: nothing captured up to the point
    records_read: int = 0
    records_included: int = 0
    vertices: int = 0
    edges: int = 0
    statements: int = 0
    files: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    anomalies: int = 0
    anomaly_examples: list[str] = field(default_factory=list)
    skipped: Skipped = field(default_factory=Skipped)
    newest: EventId | None = None  # the newest change the export includes
    seconds: float = 0.0
    read_seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.missing

    def as_dict(self) -> dict[str, Any]:
        return {
            "asOf": self.point.as_dict(),
            "model": self.model,
            "complete": self.complete,
            "missing": self.missing,
            "newestChange": self.newest.as_dict() if self.newest else None,
            "recordsRead": self.records_read,
            "recordsIncluded": self.records_included,
            "vertices": self.vertices,
            "edges": self.edges,
            "statements": self.statements,
            "files": self.files,
            "anomalies": self.anomalies,
            "anomalyExamples": self.anomaly_examples,
            "notWritten": self.skipped.as_dict(),
            "seconds": round(self.seconds, 3),
        }


def missing_changes(capture: captured.Capture, point: Point) -> list[str]:
    """What the capture lacks of the graph's changes up to `point`: empty when it holds them all."""
    out = []
    first = capture.first
    if capture.started_from_latest:
        start = f" after event {_id(capture.started_after)}" if capture.started_after else ""
        out.append(f"capture began from LATEST{start}: the changes up to and including that record are not captured")
    elif first is not None and first != FIRST_EVENT and (point.bound is None or first <= point.bound):
        out.append(
            f"the first captured event is {_id(first)}, not the graph's first (1:1): the changes before it were not in the "
            "stream when capture began (retention expired them, or streams were enabled on a graph that had data)"
        )
    for after, reason in capture.gaps:
        if after is None or point.bound is None or after < point.bound:
            where = f"after event {_id(after)}" if after else "before the first captured event"
            out.append(f"a GAP {where}: changes expired from the stream before capture read them ({reason})")
    return out


def _id(event: EventId | None) -> str:
    return f"{event.commit_num}:{event.op_num}" if event else "-"


def commit_ranges(capture: captured.Capture, point: Point) -> tuple[list[range], int]:
    """The commits to read (ranges, merged), and the records their batches hold (for the progress bar)."""
    ranges: list[range] = []
    records = 0
    bound = point.bound
    for batch in capture.batches:
        if bound is not None and batch.first > bound:
            break
        records += batch.records
        stop = batch.last.commit_num + 1 if bound is None else min(batch.last.commit_num, bound.commit_num) + 1
        start = batch.first.commit_num
        if ranges and start <= ranges[-1].stop:
            ranges[-1] = range(ranges[-1].start, max(ranges[-1].stop, stop))
        else:
            ranges.append(range(start, stop))
    return ranges, records


def bucket_of(element: str, buckets: int) -> int:
    return zlib.crc32(element.encode()) % buckets


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    return {k: next(iter(v.values())) for k, v in item.items()}


def export(
    source: captured.Source,
    point: Point,
    out: Path,
    *,
    partial: bool = False,
    console: Console | None = None,
    segments: int = SEGMENTS,
) -> Report:
    """Writes the graph as of `point` into `out` (a new or empty directory). Raises NoDataError, before writing
    anything, when the capture does not hold the graph's first change on and `partial` is not set."""
    started = time.monotonic()
    if out.exists() and any(out.iterdir()):
        raise UsageError(f"{out} is not empty: an export goes into a new or empty directory", "pass another --out")
    report = Report(point, out)
    capture = captured.read_capture(source)
    report.missing = missing_changes(capture, point)
    if report.missing and not partial:
        first = capture.first
        raise NoDataError(
            f"the capture does not hold the graph from its first change (first captured event {_id(first)}): "
            + "; ".join(report.missing),
            "export what was captured with --partial (export.json then lists what is missing), or restore the graph "
            "from a Neptune snapshot taken before the point",
        )
    _, total = commit_ranges(capture, point)
    out.mkdir(parents=True, exist_ok=True)
    buckets = max(1, math.ceil(total / RECORDS_PER_BUCKET))
    spill = Path(tempfile.mkdtemp(prefix=".spill-", dir=out))
    try:
        with _progress(console) as progress:
            # The Scan reads every record of the generation, those after the point too.
            reading = progress.add_task("reading records", total=sum(b.records for b in capture.batches) or None)
            _read(
                point,
                scan_segments(source, segments),
                spill=spill,
                buckets=buckets,
                report=report,
                advance=lambda n: progress.advance(reading, n),
            )
            report.read_seconds = time.monotonic() - started
            folding = progress.add_task("folding elements", total=buckets)
            for bucket in range(buckets):
                _write_bucket(spill, bucket, out, report)
                progress.advance(folding, 1)
    finally:
        shutil.rmtree(spill, ignore_errors=True)
    report.seconds = time.monotonic() - started
    (out / MANIFEST).write_text(json.dumps(report.as_dict(), indent=2) + "\n")
    return report


def _progress(console: Console | None) -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=True,
        disable=console is None or not console.is_terminal,
    )


Pages = Callable[[], Iterator[list[dict[str, Any]]]]


def scan_segments(source: captured.Source, parts: int) -> list[Pages]:
    return [functools.partial(captured.scan_pages, source, index, parts) for index in range(parts)]


def _read(
    point: Point,
    segments: list[Pages],
    *,
    spill: Path,
    buckets: int,
    report: Report,
    advance: Callable[[int], None],
) -> None:
    lock = threading.Lock()

    def run(index: int, pages: Pages) -> None:
        files: dict[int, IO[str]] = {}
        read = included = 0
        newest: EventId | None = None
        try:
            for items in pages():
                read += len(items)
                for item in items:
                    event = EventId(int(item[schema.COMMIT_NUM]["N"]), int(item[schema.OP_NUM]["N"]))
                    if not point.includes(event, int(item[R.COMMIT_TIMESTAMP]["N"])):
                        continue
                    included += 1
                    newest = max(newest, event) if newest else event
                    bucket = bucket_of(item[schema.ELEMENT_ID]["S"], buckets)
                    if bucket not in files:
                        files[bucket] = (spill / f"{bucket:05d}-{index:03d}.jsonl").open("w", encoding="utf-8")
                    files[bucket].write(json.dumps(_plain(item), ensure_ascii=False) + "\n")
                advance(len(items))
        finally:
            for f in files.values():
                f.close()
        with lock:
            report.records_read += read
            report.records_included += included
            if newest is not None:
                report.newest = max(report.newest, newest) if report.newest else newest

    with ThreadPoolExecutor(max_workers=max(1, len(segments)), thread_name_prefix="export-read") as pool:
        for future in [pool.submit(run, i, s) for i, s in enumerate(segments)]:
            future.result()  # a read that failed fails the export


def _bucket_changes(spill: Path, bucket: int) -> Iterator[tuple[str, list[Change]]]:
    by_element: dict[str, list[Change]] = defaultdict(list)
    for path in sorted(spill.glob(f"{bucket:05d}-*.jsonl")):
        with path.open(encoding="utf-8") as lines:
            for line in lines:
                plain = json.loads(line)
                by_element[plain[schema.ELEMENT_ID]].append(Change.from_item(plain))
        path.unlink()
    for element, changes in by_element.items():
        changes.sort(key=lambda c: c.event)  # segments wrote in parallel: stream order again
        yield element, changes


def _write_bucket(spill: Path, bucket: int, out: Path, report: Report) -> None:
    vertices: list[Row] = []
    edges: list[Row] = []
    statements: list[str] = []
    for element, changes in _bucket_changes(spill, bucket):
        state = fold(element, changes)
        if state.anomalies:
            report.anomalies += len(state.anomalies)
            report.anomaly_examples += state.anomalies[: max(0, 5 - len(report.anomaly_examples))]
        if state.quads:
            report.model = "rdf"
            lines = nquads_lines(state.quads, report.skipped)
            report.statements += len(lines)
            statements += lines
            continue
        if changes and changes[0].kind != "quad":
            report.model = "propertygraph"
        # Two ids that share a hash (or a record with a capped id) are one key: each state names its own id.
        if state.vertex.exists:
            vertices.append(vertex_row(state.vertex, report.skipped))
        if state.edge.exists:
            edges.append(edge_row(state.edge, report.skipped))
    report.vertices += len(vertices)
    report.edges += len(edges)
    for kind, rows, system, arrays in (("vertices", vertices, VERTEX_SYSTEM, True), ("edges", edges, EDGE_SYSTEM, False)):
        for layer, text in enumerate(csv_files(rows, system, arrays=arrays) if rows else []):
            name = f"{kind}-{bucket:05d}{f'-{layer}' if layer else ''}.csv"
            (out / name).write_text(text, encoding="utf-8")
            report.files.append(name)
    if statements:
        name = f"statements-{bucket:05d}.nq"
        (out / name).write_text("".join(statements), encoding="utf-8")
        report.files.append(name)


def summary_lines(report: Report) -> list[str]:
    what = (
        f"{report.statements:,} statements" if report.model == "rdf" else f"{report.vertices:,} vertices, {report.edges:,} edges"
    )
    rate = report.records_read / report.seconds if report.seconds else 0.0
    lines = [
        f"exported the graph as of {report.point.describe()} (newest change included: {_id(report.newest)}): {what} "
        f"in {len(report.files)} files under {report.out}",
        f"read {report.records_read:,} records ({report.records_included:,} up to the point) in {report.seconds:.1f} s "
        f"({rate:,.0f} records/s)",
    ]
    if report.missing:
        lines.append("PARTIAL: not the whole graph; missing: " + "; ".join(report.missing))
    if report.anomalies:
        lines.append(f"note: {report.anomalies} changes did not apply cleanly, e.g. {report.anomaly_examples[0]}")
    fmt = "nquads" if report.model == "rdf" else "csv"
    lines.append(
        f"load it: copy {report.out} to S3, then POST to https://<endpoint>:8182/loader with "
        f'{{"source": "s3://<bucket>/<prefix>/", "format": "{fmt}", ...}} (docs/time-travel.md)'
    )
    return lines


def check_written(report: Report, partial: bool) -> None:
    """After writing: values the formats could not hold fail the command unless --partial accepts them."""
    if report.skipped.total and not partial:
        raise CheckFailedError(
            f"{report.skipped.total} property values or statements could not be written ({report.skipped.as_dict()})",
            f"see {report.out / MANIFEST}; rerun with --partial to accept an export without them",
        )
