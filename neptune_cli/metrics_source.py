"""Where `watch` reads the capture metrics (names from neptune_capture.metrics, namespace and `service`
dimension from the contract): CloudWatch for a deployed stack, the local run's function log for the local
run. Powertools publishes by printing embedded-metric-format documents to standard output
(https://docs.aws.amazon.com/powertools/python/2.4.0/core/metrics/), which Lambda's log group turns into
CloudWatch metrics; the local run sends that output to its function log, so both read the same numbers.
The document's layout is CloudWatch's specification:
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from neptune_capture import metrics as m
from neptune_capture.contract import METRICS_NAMESPACE, SERVICE_DIMENSION, SERVICE_NAME

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDataQueryTypeDef

SUMMED = (m.RECORDS, m.BATCHES, m.FENCED, m.THROTTLES)
MAXIMA = (m.LAG_MS,)
# Powertools publishes at its default resolution, 60 s (`resolution = 60` in
# https://docs.aws.amazon.com/powertools/python/latest/api).
PERIOD_SECONDS = 60


@dataclass(frozen=True)
class Totals:
    sums: dict[str, float] = field(default_factory=dict)
    maxima: dict[str, float] = field(default_factory=dict)


class MetricSource(Protocol):
    def totals(self, start_ms: int, end_ms: int) -> Totals: ...


def emf_points(line: str) -> list[tuple[int, str, float]]:
    """(timestamp ms, metric name, value) for each value an EMF document in `line` carries for our
    namespace; nothing for any other line (log lines share the file)."""
    try:
        document = json.loads(line)
    except ValueError:
        return []
    meta = document.get("_aws") if isinstance(document, dict) else None
    if not isinstance(meta, dict):
        return []
    timestamp = meta.get("Timestamp")
    if not isinstance(timestamp, int | float):
        return []
    points: list[tuple[int, str, float]] = []
    for directive in meta.get("CloudWatchMetrics", []):
        if directive.get("Namespace") != METRICS_NAMESPACE:
            continue
        for definition in directive.get("Metrics", []):
            name = definition.get("Name")
            raw = document.get(name)
            # A member holds one value or an array of values (the specification's "target member").
            for value in raw if isinstance(raw, list) else [raw]:
                if isinstance(value, int | float) and not isinstance(value, bool):
                    points.append((int(timestamp), str(name), float(value)))
    return points


def aggregate(points: list[tuple[int, str, float]], start_ms: int, end_ms: int) -> Totals:
    sums: defaultdict[str, float] = defaultdict(float)
    maxima: dict[str, float] = {}
    for at, name, value in points:
        if start_ms <= at <= end_ms:
            if name in SUMMED:
                sums[name] += value
            if name in MAXIMA:
                maxima[name] = max(maxima.get(name, value), value)
    return Totals(dict(sums), maxima)


class FunctionLog:
    """The local run's function log, read incrementally: only complete lines, each once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._points: list[tuple[int, str, float]] = []

    def _read_new(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as log:
            log.seek(self._offset)
            chunk = log.read()
        complete = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written is read next time
        self._offset += len(complete)
        for line in complete.decode("utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                self._points += emf_points(line)

    def totals(self, start_ms: int, end_ms: int) -> Totals:
        self._read_new()
        self._points = [p for p in self._points if p[0] >= start_ms]  # the window only moves forward
        return aggregate(self._points, start_ms, end_ms)


class CloudWatchMetrics:
    """GetMetricData over the window, one-minute periods: Sum for the counts, Maximum for the lag."""

    def __init__(self, client: CloudWatchClient, service: str = SERVICE_NAME) -> None:
        self.client = client
        # The capture's own service dimension (contract.service_name of the stack's stream id).
        self.service = service

    def queries(self) -> list[MetricDataQueryTypeDef]:
        wanted = [(name, "Sum") for name in SUMMED] + [(name, "Maximum") for name in MAXIMA]
        return [
            {
                "Id": f"m{i}",
                "Label": name,
                "MetricStat": {
                    "Metric": {
                        "Namespace": METRICS_NAMESPACE,
                        "MetricName": name,
                        "Dimensions": [{"Name": SERVICE_DIMENSION, "Value": self.service}],
                    },
                    "Period": PERIOD_SECONDS,
                    "Stat": stat,
                },
            }
            for i, (name, stat) in enumerate(wanted)
        ]

    def totals(self, start_ms: int, end_ms: int) -> Totals:
        queries = self.queries()
        names = {q["Id"]: q["Label"] for q in queries}
        sums: dict[str, float] = {}
        maxima: dict[str, float] = {}
        paginator = self.client.get_paginator("get_metric_data")
        for page in paginator.paginate(
            MetricDataQueries=queries,
            StartTime=datetime.fromtimestamp(start_ms / 1000, UTC),
            EndTime=datetime.fromtimestamp(end_ms / 1000, UTC),
        ):
            for result in page.get("MetricDataResults", []):
                name = names[result["Id"]]
                values: list[Any] = list(result.get("Values", []))
                if not values:
                    continue
                if name in MAXIMA:
                    maxima[name] = max([maxima.get(name, values[0]), *values])
                else:
                    sums[name] = sums.get(name, 0.0) + sum(values)
        return Totals(sums, maxima)
