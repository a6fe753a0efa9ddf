"""The metrics a deployed stream handler publishes, as powertools puts them in CloudWatch: for tests
that read them back through the CLI."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from neptune_capture.contract import METRICS_NAMESPACE, SERVICE_DIMENSION, SERVICE_NAME

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef


def capture_datum(name: str, value: float, at: datetime) -> MetricDatumTypeDef:
    """One datapoint with the service dimension powertools adds to every metric it emits."""
    return {
        "MetricName": name,
        "Dimensions": [{"Name": SERVICE_DIMENSION, "Value": SERVICE_NAME}],
        "Value": value,
        "Timestamp": at,
    }


def publish(client: CloudWatchClient, at: datetime, *points: tuple[str, float], extra: Sequence[MetricDatumTypeDef] = ()) -> None:
    """`points` as the handler publishes them, and `extra` datapoints as they are (another metric's)."""
    client.put_metric_data(
        Namespace=METRICS_NAMESPACE, MetricData=[*(capture_datum(name, value, at) for name, value in points), *extra]
    )
