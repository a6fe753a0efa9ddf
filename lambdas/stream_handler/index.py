"""Stream handler Lambda: polls Neptune Streams and writes records, history and the checkpoint to
DynamoDB in fenced transactions, until its time budget is spent. All logic lives in the layer."""

from __future__ import annotations

import gc
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from neptune_capture.clock import SystemClock
from neptune_capture.contract import Key, Status
from neptune_capture.invocation import run_invocation
from neptune_capture.metrics import PeriodicallyFlushed
from neptune_capture.settings import HandlerSettings
from neptune_capture.wiring import build_poller

logger = Logger()
metrics = Metrics()
# The layer logs each decision it takes (a retry and its delay, a fenced write, a malformed page read
# again, a gap recorded) through standard logging: route those into this function's JSON logs, so a
# 14-minute invocation is not silent until it ends.
copy_config_to_registered_loggers(source_logger=logger, include={"neptune_capture"})


def _add_metric(name: str, value: float, unit: str) -> None:
    metrics.add_metric(name=name, unit=MetricUnit(unit), value=value)


_settings = HandlerSettings.from_env()
# Clients are built once per execution environment and reused across invocations. Metrics are published
# every minute during the invocation, and the rest at its end (log_metrics).
_poller = build_poller(_settings, PeriodicallyFlushed(_add_metric, metrics.flush_metrics, SystemClock()))
# What the set-up loaded (boto3's service models, Powertools) lives as long as the execution environment:
# freezing it keeps the cyclic garbage collector from walking it again at every collection a page of
# records triggers (https://docs.python.org/3/library/gc.html#gc.freeze). Measured by make bench: about
# a seventh of the handler's CPU per record.
gc.freeze()


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    result = run_invocation(event, _poller, _settings, context.get_remaining_time_in_millis())
    log = logger.warning if result[Key.STATUS] == Status.FENCED else logger.info
    log("poll finished", extra=result)
    return result
