"""The stream handler's contract with the state machine: state in, next state out."""

from __future__ import annotations

import importlib
from typing import Any

import pytest

from neptune_capture.contract import StartFrom
from neptune_capture.errors import InvalidInputError
from neptune_capture.invocation import execution_age_days, run_invocation
from neptune_capture.metrics import CountingMetrics, PeriodicallyFlushed
from neptune_capture.poller import Poller, PollSettings
from neptune_capture.schema import TableNames
from neptune_capture.settings import HandlerSettings
from neptune_capture.store import DynamoStore
from tests.conftest import lambda_context
from tests.fakes import FakeClock, FakeStream, make_stream

ENV = {
    "RECORDS_TABLE": "neptune-stream-records",
    "HISTORY_TABLE": "neptune-stream-history",
    "CHECKPOINT_TABLE": "neptune-stream-checkpoint",
    "NEPTUNE_ENDPOINT": "http://127.0.0.1:1",
    "STREAM_ID": "neptune",
    "IDLE_PAUSE_SECONDS": "3",
    "MAX_IDLE_WAIT_SECONDS": "2",
}
SETTINGS = HandlerSettings.from_env(ENV)


def make_poller(dynamo: tuple[Any, TableNames], stream: FakeStream, clock: FakeClock) -> Poller:
    client, tables = dynamo
    metrics = CountingMetrics()
    store = DynamoStore(client, tables, "neptune", clock=clock, metrics=metrics)
    return Poller(stream, store, PollSettings(stream_id="neptune", max_idle_wait_seconds=2), clock, metrics)


def event(
    state: dict[str, Any], execution: str = "arn:exec:1", cap: int = 3, start: str = "2026-11-24T10:00:00Z"
) -> dict[str, Any]:
    return {"state": state, "executionId": execution, "executionStartTime": start, "iterationsPerExecution": cap}


def test_state_flows_through_iterations_then_asks_to_continue_as_new(dynamo: tuple[Any, TableNames]) -> None:
    stream, clock = FakeStream(make_stream([4, 4]), limit=5), FakeClock(start_ms=1_795_000_000_000)
    poller = make_poller(dynamo, stream, clock)
    state = run_invocation(event({}), poller, SETTINGS, remaining_ms=65_000)
    assert state["status"] == "ACTIVE" and state["records"] == 8 and state["checkpoint"] == {"commitNum": 2, "opNum": 4}
    assert state["iteration"] == 1 and state["continueAsNew"] is False and state["waitSeconds"] == 3
    assert state["maxInFlight"] == 0, "two short pages: each written alone, with the checkpoint"
    state = run_invocation(event(state), poller, SETTINGS, remaining_ms=65_000)
    assert state["status"] == "IDLE" and state["iteration"] == 2 and not state["continueAsNew"]
    state = run_invocation(event(state), poller, SETTINGS, remaining_ms=65_000)
    assert state["iteration"] == 3 and state["continueAsNew"] is True


def test_the_state_reports_how_many_transactions_were_in_flight(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream, clock = FakeStream(make_stream([100] * 5), limit=500), FakeClock(start_ms=1_795_000_000_000)
    metrics = CountingMetrics()
    store = DynamoStore(client, tables, "neptune", clock=clock, metrics=metrics)
    poller = Poller(stream, store, PollSettings(stream_id="neptune", in_flight=3), clock, metrics)
    state = run_invocation(event({}), poller, SETTINGS, remaining_ms=65_000)
    # 500 events: five batches of 98 sent three at a time, then the 10 left with the checkpoint.
    assert state["records"] == 500 and state["transactions"] == 6 and state["maxInFlight"] == 3


def test_a_fenced_execution_ends_instead_of_continuing(dynamo: tuple[Any, TableNames]) -> None:
    stream, clock = FakeStream(make_stream([4])), FakeClock(start_ms=1_795_000_000_000)
    run_invocation(event({}, "arn:exec:owner"), make_poller(dynamo, stream, clock), SETTINGS, remaining_ms=61_000)
    state = run_invocation(event({"iteration": 2}, "arn:exec:intruder"), make_poller(dynamo, stream, clock), SETTINGS, 61_000)
    assert state["status"] == "FENCED" and "leased to arn:exec:owner" in state["detail"]
    assert state["continueAsNew"] is False


def test_a_month_old_execution_continues_as_new_whatever_its_iteration(dynamo: tuple[Any, TableNames]) -> None:
    stream = FakeStream([])
    clock = FakeClock(start_ms=1_795_000_000_000)  # 2026-11-18T11:06:40Z
    state = run_invocation(event({}, start="2026-10-01T00:00:00Z", cap=500), make_poller(dynamo, stream, clock), SETTINGS, 61_000)
    assert state["continueAsNew"] is True
    # 2026-11-18T11:06:40Z is 1 day, 11 h, 6 min 40 s after 2026-11-17T00:00Z.
    assert execution_age_days("2026-11-17T00:00:00.000Z", 1_795_000_000_000) == pytest.approx(1 + (11 * 3600 + 400) / 86_400)


def test_missing_environment_is_named() -> None:
    with pytest.raises(ValueError, match="missing environment variables: HISTORY_TABLE, NEPTUNE_ENDPOINT"):
        HandlerSettings.from_env({"RECORDS_TABLE": "r", "CHECKPOINT_TABLE": "c"})


def test_the_lambda_handler_runs_the_invocation(monkeypatch: pytest.MonkeyPatch, dynamo: tuple[Any, TableNames]) -> None:
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    module = importlib.import_module("lambdas.stream_handler.index")
    stream, clock = FakeStream(make_stream([2])), FakeClock(start_ms=1_795_000_000_000)
    monkeypatch.setattr(module, "_poller", make_poller(dynamo, stream, clock))
    state = module.handler(event({}), lambda_context(remaining_ms=62_000))
    assert state["checkpoint"] == {"commitNum": 1, "opNum": 2} and state["iteration"] == 1


def test_metrics_are_published_every_interval_during_a_long_invocation() -> None:
    added: list[tuple[str, float, str]] = []
    published: list[int] = []
    clock = FakeClock()
    sink = PeriodicallyFlushed(lambda *metric: added.append(metric), lambda: published.append(len(added)), clock, 60)
    sink.add("RecordsCaptured", 98)
    clock.advance(59)
    sink.add("RecordsCaptured", 2)
    assert published == []
    clock.advance(1)
    sink.add("StreamLagMs", 40, "Milliseconds")
    clock.advance(30)
    sink.add("RecordsCaptured", 5)
    assert published == [3], "one publication, at the first metric a minute after the start"
    assert added[-2] == ("StreamLagMs", 40, "Milliseconds")


def test_a_start_that_finds_the_lease_held_names_the_holder_once(dynamo: tuple[Any, TableNames]) -> None:
    stream, clock = FakeStream(make_stream([4])), FakeClock(start_ms=1_795_000_000_000)
    run_invocation(event({}, "arn:exec:dead"), make_poller(dynamo, stream, clock), SETTINGS, remaining_ms=61_000)
    # A scheduled start with the operator's flag: fenced at the lease, it names the holder for the state
    # machine to check, and keeps the flag for the invocation that takes the lease over.
    state = run_invocation(
        event({"resumeFromTrimHorizon": True}, "arn:exec:new"), make_poller(dynamo, stream, clock), SETTINGS, 61_000
    )
    assert state["status"] == "FENCED" and state["leaseHolder"] == "arn:exec:dead" and state["resumeFromTrimHorizon"] is True
    # The state machine found the holder not running: the take-over names it, and succeeds.
    state = run_invocation(
        event({**state, "takeOverFrom": "arn:exec:dead"}, "arn:exec:new"), make_poller(dynamo, stream, clock), SETTINGS, 61_000
    )
    assert state["status"] == "IDLE" and state["leaseHolder"] is None and "resumeFromTrimHorizon" not in state
    client, tables = dynamo
    item = client.get_item(TableName=tables.checkpoint, Key={"streamId": {"S": "neptune"}})["Item"]
    assert item["leaseOwner"] == {"S": "arn:exec:new"}


def test_a_take_over_loses_to_whoever_took_the_lease_meanwhile(dynamo: tuple[Any, TableNames]) -> None:
    stream, clock = FakeStream(make_stream([4])), FakeClock(start_ms=1_795_000_000_000)
    run_invocation(event({}, "arn:exec:dead"), make_poller(dynamo, stream, clock), SETTINGS, remaining_ms=61_000)
    run_invocation(
        event({"takeOverFrom": "arn:exec:dead"}, "arn:exec:first"), make_poller(dynamo, stream, clock), SETTINGS, 61_000
    )
    # A second execution checked the same dead holder, but the lease is no longer the dead one's.
    state = run_invocation(
        event({"takeOverFrom": "arn:exec:dead"}, "arn:exec:second"), make_poller(dynamo, stream, clock), SETTINGS, 61_000
    )
    assert state["status"] == "FENCED" and "leased to arn:exec:first" in state["detail"]
    assert state["leaseHolder"] is None, "one liveness check per execution: it ends"


def test_a_fenced_write_mid_run_asks_for_no_liveness_check(dynamo: tuple[Any, TableNames]) -> None:
    stream, clock = FakeStream(make_stream([4, 4]), limit=4), FakeClock(start_ms=1_795_000_000_000)
    state = run_invocation(event({}, "arn:exec:a"), make_poller(dynamo, stream, clock), SETTINGS, remaining_ms=61_000)
    assert state["status"] != "FENCED" and state["leaseHolder"] is None


def test_an_executions_start_from_reaches_the_first_capture(dynamo: tuple[Any, TableNames]) -> None:
    stream, clock = FakeStream(make_stream([3, 2])), FakeClock(start_ms=1_795_000_000_000)
    state = run_invocation(event({"startFrom": "latest"}), make_poller(dynamo, stream, clock), SETTINGS, 61_000)
    assert state["startedAfter"] == {"commitNum": 2, "opNum": 2} and state["checkpoint"] == {"commitNum": 2, "opNum": 2}
    assert state["records"] == 0 and "startFrom" not in state
    state = run_invocation(event(state), make_poller(dynamo, stream, clock), SETTINGS, 61_000)
    assert "startedAfter" not in state, "only the invocation that started the stream says so"


def test_an_unknown_start_from_fails_the_execution_naming_it(dynamo: tuple[Any, TableNames]) -> None:
    stream, clock = FakeStream(make_stream([1])), FakeClock(start_ms=1_795_000_000_000)
    expected = r"the execution input's startFrom must be one of TRIM_HORIZON, LATEST, got 'now'"
    with pytest.raises(InvalidInputError, match=expected):
        run_invocation(event({"startFrom": "now"}), make_poller(dynamo, stream, clock), SETTINGS, 61_000)
    assert stream.calls == 0


def test_a_fenced_start_keeps_start_from_for_the_take_over(dynamo: tuple[Any, TableNames]) -> None:
    stream, clock = FakeStream(make_stream([4])), FakeClock(start_ms=1_795_000_000_000)
    client, tables = dynamo
    DynamoStore(client, tables, "neptune", clock=clock, metrics=CountingMetrics()).acquire_lease("arn:exec:dead", None, 600_000)
    state = run_invocation(event({"startFrom": "LATEST"}, "arn:exec:new"), make_poller(dynamo, stream, clock), SETTINGS, 61_000)
    assert state["status"] == "FENCED" and state["startFrom"] == "LATEST"
    state = run_invocation(
        event({**state, "takeOverFrom": "arn:exec:dead"}, "arn:exec:new"), make_poller(dynamo, stream, clock), SETTINGS, 61_000
    )
    assert state["startedAfter"] == {"commitNum": 1, "opNum": 4} and "startFrom" not in state


def test_the_deployed_start_point_is_read_from_the_environment() -> None:
    assert SETTINGS.start_from == StartFrom.TRIM_HORIZON
    assert HandlerSettings.from_env({**ENV, "START_FROM": "latest"}).start_from == StartFrom.LATEST
    with pytest.raises(ValueError, match=r"START_FROM must be one of TRIM_HORIZON, LATEST, got 'NOW'"):
        HandlerSettings.from_env({**ENV, "START_FROM": "NOW"})
