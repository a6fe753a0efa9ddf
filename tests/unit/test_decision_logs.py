"""Every decision the capture layer takes is logged as it happens (through standard logging, which the
stream handler routes into its Powertools JSON logs): retries with their code and delay, fencing with the
lease holder, a malformed page read again, a gap recorded."""

from __future__ import annotations

import importlib
import json
import logging
from typing import Any

import pytest
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

from neptune_capture.contract import SERVICE_NAME
from neptune_capture.events import EventId
from neptune_capture.metrics import CountingMetrics
from neptune_capture.schema import TableNames
from neptune_capture.settings import Env
from neptune_capture.store import DynamoStore
from tests.fakes import FakeClock, FakeStream, FaultyDynamo, make_stream
from tests.unit.test_capture import STREAM, drain, poller_for


def messages(caplog: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name.startswith("neptune_capture") and r.levelno == level]


def test_a_throttled_transaction_is_logged_with_its_reason_and_delay(
    dynamo: tuple[Any, TableNames], caplog: pytest.LogCaptureFixture
) -> None:
    client, tables = dynamo
    clock = FakeClock()
    caplog.set_level(logging.INFO, logger="neptune_capture")
    drain(poller_for(FaultyDynamo(client, {1: "throttle"}), tables, FakeStream(make_stream([3])), clock), "exec-1", clock)
    (retry,) = [line for line in messages(caplog, logging.INFO) if "retrying" in line]
    assert f"TransactionCanceledException ThrottlingError: retrying in {clock.sleeps[0]:.3f} s" in retry


def test_a_fenced_poller_logs_who_holds_the_lease(dynamo: tuple[Any, TableNames], caplog: pytest.LogCaptureFixture) -> None:
    client, tables = dynamo
    clock = FakeClock()
    DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics()).acquire_lease("exec-a", None, 60_000)
    drain(poller_for(client, tables, FakeStream(make_stream([3])), clock), "exec-b", clock)
    assert messages(caplog, logging.WARNING) == [f"fenced: stream {STREAM} is leased to exec-a; exec-b stops"]


def test_a_recorded_gap_is_logged(dynamo: tuple[Any, TableNames], caplog: pytest.LogCaptureFixture) -> None:
    client, tables = dynamo
    records = make_stream([10] * 3)
    stream = FakeStream(records[:10], limit=10)
    clock = FakeClock()
    drain(poller_for(client, tables, stream, clock), "exec-1", clock)  # caught up: the checkpoint is at 1/10
    stream.records, stream.horizon = records, EventId(3, 1)
    poller_for(client, tables, stream, clock).run("exec-1", deadline=clock.monotonic() + 5, resume_from_trim_horizon=True)
    (gap,) = [line for line in messages(caplog, logging.WARNING) if line.startswith("gap recorded")]
    assert gap.startswith(f"gap recorded in stream {STREAM} after 1/10: ")


def test_the_handler_routes_the_layers_logs_into_its_json_logs(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {Env.RECORDS_TABLE: "r", Env.HISTORY_TABLE: "h", Env.CHECKPOINT_TABLE: "c", Env.NEPTUNE_ENDPOINT: "http://127.0.0.1:1"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    importlib.reload(importlib.import_module("lambdas.stream_handler.index"))
    # Powertools configures the package's logger; every module's logger hands its records up to it.
    package = logging.getLogger("neptune_capture")
    formatters = [h.formatter for h in package.handlers if isinstance(h.formatter, LambdaPowertoolsFormatter)]
    assert formatters, "the layer's logger has no Powertools handler"
    assert not package.propagate, "the layer's lines are written once, as JSON"
    for name in ("neptune_capture.store", "neptune_capture.stream_source", "neptune_capture.poller"):
        module_logger = logging.getLogger(name)
        assert module_logger.propagate and module_logger.getEffectiveLevel() <= logging.INFO
        record = module_logger.makeRecord(name, logging.WARNING, __file__, 1, "fenced: %s", ("exec-a",), None)
        line = json.loads(formatters[0].format(record))
        assert line["level"] == "WARNING" and line["message"] == "fenced: exec-a" and line["service"] == SERVICE_NAME
