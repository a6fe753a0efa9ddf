"""Builds a Poller from settings: the real boto3 clients for Lambda and the local run alike."""

from __future__ import annotations

from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

from .clock import Clock, SystemClock
from .metrics import MetricsSink
from .neptune_api import check_streams_enabled, make_client
from .poller import Poller, PollSettings
from .settings import MAX_IN_FLIGHT, HandlerSettings
from .store import DynamoStore
from .stream_source import NeptuneStreamSource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def dynamodb_client(endpoint_url: str | None = None) -> DynamoDBClient:
    return boto3.client(
        "dynamodb",
        endpoint_url=endpoint_url,
        config=Config(
            # Our own retries decide, with the same idempotency token; botocore's would hide throttling.
            retries={"total_max_attempts": 1},
            # Every request is built by the planner; botocore's client-side parameter validation of a
            # 100-item transaction cost 30 microseconds per record, a third of the handler's CPU (make bench).
            parameter_validation=False,
            # The transactions in flight, the advance beside them, and the checkpoint reads.
            max_pool_connections=MAX_IN_FLIGHT + 4,
            tcp_keepalive=True,
        ),
    )


def build_poller(settings: HandlerSettings, metrics: MetricsSink, clock: Clock | None = None) -> Poller:
    clock = clock or SystemClock()
    neptune = make_client(settings.neptune_endpoint)
    source = NeptuneStreamSource(neptune, limit=settings.page_limit, clock=clock, metrics=metrics, model=settings.graph_model)
    store = DynamoStore(
        dynamodb_client(settings.dynamodb_endpoint), settings.tables, settings.stream_id, clock=clock, metrics=metrics
    )
    poll_settings = PollSettings(
        stream_id=settings.stream_id,
        idle_base_seconds=settings.idle_base_seconds,
        max_idle_wait_seconds=settings.max_idle_wait_seconds,
        lease_ttl_ms=settings.lease_ttl_seconds * 1000,
        start_from=settings.start_from,
        in_flight=settings.in_flight,
    )
    # Each invocation first asks Neptune whether Streams is on: the Streams API says nothing documented
    # when it is off, and an invocation that read "no new records" would look idle, not broken.
    return Poller(source, store, poll_settings, clock, metrics, preflight=lambda: check_streams_enabled(neptune))
