"""Reset Lambda: a reset through neptune-stream (neptune_capture.reset): refused while capture runs or has
not stored everything the stream holds; otherwise Neptune's fast reset (initiate, then perform with the
token) on the writer endpoint, then capture generation N+1. The records and history of generation N stay."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from neptune_capture.clock import SystemClock
from neptune_capture.contract import Key
from neptune_capture.metrics import CountingMetrics
from neptune_capture.neptune_api import fast_reset, make_client
from neptune_capture.reset import ResetRefusedError, reset_with_new_generation
from neptune_capture.settings import HandlerSettings
from neptune_capture.store import DynamoStore
from neptune_capture.stream_source import NeptuneStreamSource
from neptune_capture.wiring import dynamodb_client

logger = Logger()


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = HandlerSettings.from_env()
    clock, metrics = SystemClock(), CountingMetrics()
    neptune = make_client(settings.neptune_endpoint)
    store = DynamoStore(
        dynamodb_client(settings.dynamodb_endpoint), settings.tables, settings.stream_id, clock=clock, metrics=metrics
    )
    source = NeptuneStreamSource(neptune, limit=1, clock=clock, metrics=metrics, model=settings.graph_model)
    try:
        result = reset_with_new_generation(
            lambda: fast_reset(neptune), store, source, discard_uncaptured=bool(event.get(Key.DISCARD_UNCAPTURED))
        )
    except ResetRefusedError as refused:
        # Nothing changed: the caller (the CLI) shows the problem and the next step.
        logger.warning("reset refused", extra={"problem": refused.problem, "next": refused.next_step})
        return {"refused": refused.problem, "next": refused.next_step}
    logger.info("fast reset done, new capture generation", extra=result)
    return result
