"""Where the first capture on a stream begins, against DynamoDB from moto and a scripted stream: from the
oldest record (TRIM_HORIZON, the default) or after the newest one (LATEST), recorded in the history as a
START_FROM_LATEST item naming that record, so what was not captured stays visible; and the check that
Neptune Streams is on, made before anything is read."""

from __future__ import annotations

from typing import Any

import pytest

from neptune_capture.contract import DEFAULT_STREAM_ID, StartFrom, Status
from neptune_capture.errors import StreamsDisabledError
from neptune_capture.events import EventId
from neptune_capture.metrics import CountingMetrics
from neptune_capture.poller import Poller, PollSettings
from neptune_capture.schema import HistoryKind, TableNames
from neptune_capture.store import DynamoStore
from neptune_local.verify import history_items, read_checkpoint, verify
from tests.fakes import FakeClock, FakeStream, FaultyDynamo, make_record, make_stream

STREAM = DEFAULT_STREAM_ID


def poller_for(client: Any, tables: TableNames, stream: FakeStream, clock: FakeClock, **settings: Any) -> Poller:
    metrics = CountingMetrics()
    store = DynamoStore(client, tables, STREAM, clock=clock, metrics=metrics)
    poll = PollSettings(stream_id=STREAM, idle_base_seconds=1, max_idle_wait_seconds=4, **settings)
    return Poller(stream, store, poll, clock, metrics)


def run(poller: Poller, clock: FakeClock, owner: str = "exec-1", **options: Any) -> Any:
    return poller.run(owner, deadline=clock.monotonic() + 30, **options)


def append(stream: FakeStream, sizes: list[int]) -> None:
    """More transactions committed after the ones the stream holds."""
    first = stream.records[-1]["eventId"]["commitNum"] + 1 if stream.records else 1
    for commit, size in enumerate(sizes, start=first):
        stream.records += [make_record(commit, op, last=op == size) for op in range(1, size + 1)]


def starts(client: Any, tables: TableNames) -> list[dict[str, Any]]:
    return [h for h in history_items(client, tables.history, STREAM) if h["kind"]["S"] == HistoryKind.START_FROM_LATEST]


def test_by_default_capture_begins_with_the_oldest_record(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream, clock = FakeStream(make_stream([3, 2]), limit=10), FakeClock()
    result = run(poller_for(client, tables, stream, clock), clock)
    assert result.records == 5 and not result.started_from_latest
    report = verify(client, tables, STREAM, stream.ids())
    assert report.ok and report.starts == 0, report


def test_i12_from_latest_captures_exactly_the_events_after_the_newest_record(dynamo: tuple[Any, TableNames]) -> None:
    """LATEST answers the newest record itself ("at most one record is returned",
    https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html): capture begins right after
    it, so the expected set is every event after that record, none of it or before it."""
    client, tables = dynamo
    stream, clock = FakeStream(make_stream([3, 2, 4]), limit=10), FakeClock()
    history_before = stream.ids()
    result = run(poller_for(client, tables, stream, clock), clock, start_from=StartFrom.LATEST)
    assert result.started_from_latest and result.started_after == EventId(3, 4) and result.records == 0
    (item,) = starts(client, tables)
    assert (item["startedAfterCommitNum"], item["startedAfterOpNum"]) == ({"N": "3"}, {"N": "4"})
    assert item["startedAfterIsLastOp"] == {"BOOL": stream.records[-1].get("isLastOp", False)}
    assert "up to and including event 3/4 are not captured" in item["reason"]["S"]
    checkpoint = read_checkpoint(client, tables.checkpoint, STREAM)
    assert checkpoint.position == EventId(3, 4) and checkpoint.version == 1

    append(stream, [2, 5])
    later = run(poller_for(client, tables, stream, clock), clock)
    expected = [e for e in stream.ids() if e > history_before[-1]]
    assert later.records == len(expected) == 7
    report = verify(client, tables, STREAM, expected)
    assert report.ok and report.starts == 1 and report.started_after == EventId(3, 4), report
    # Against every event of the stream the same tables are missing exactly what came before the start.
    assert verify(client, tables, STREAM, stream.ids()).missing == len(history_before)


def test_from_latest_on_an_empty_stream_skips_nothing(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream, clock = FakeStream([], limit=10), FakeClock()
    result = run(poller_for(client, tables, stream, clock), clock, start_from=StartFrom.LATEST)
    assert result.started_from_latest and result.started_after is None
    (item,) = starts(client, tables)
    assert "startedAfterCommitNum" not in item and "nothing was skipped" in item["reason"]["S"]
    append(stream, [2, 3])
    run(poller_for(client, tables, stream, clock), clock)
    report = verify(client, tables, STREAM, stream.ids())
    assert report.ok and report.starts == 1 and report.started_after is None, report


def test_the_deployed_default_starts_from_latest_and_an_execution_may_say_otherwise(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream, clock = FakeStream(make_stream([2, 2]), limit=10), FakeClock()
    deployed_latest = poller_for(client, tables, stream, clock, start_from=StartFrom.LATEST)
    result = run(deployed_latest, clock, start_from=StartFrom.TRIM_HORIZON)
    assert not result.started_from_latest and result.records == 4 and starts(client, tables) == []


def test_once_started_a_stream_ignores_where_an_execution_asks_to_start(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream, clock = FakeStream(make_stream([2]), limit=10), FakeClock()
    run(poller_for(client, tables, stream, clock), clock)
    append(stream, [3])
    again = run(poller_for(client, tables, stream, clock), clock, start_from=StartFrom.LATEST)
    assert not again.started_from_latest and again.records == 3
    assert "startFrom=LATEST ignored: stream neptune was started before (checkpoint 1/2, version 1)" in again.message
    assert starts(client, tables) == [] and verify(client, tables, STREAM, stream.ids()).ok


def test_a_lost_response_to_the_start_is_retried_and_recorded_once(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream, clock = FakeStream(make_stream([2, 2]), limit=10), FakeClock()
    # Transaction 1 writes the lease's fence slots; 2 is the start: it commits, its answer is lost.
    faulty = FaultyDynamo(client, {2: "lost-response"})
    result = run(poller_for(faulty, tables, stream, clock), clock, start_from=StartFrom.LATEST)
    assert result.started_after == EventId(2, 2) and faulty.transacts == 3  # fences, start, the start again
    assert len(starts(client, tables)) == 1
    assert read_checkpoint(client, tables.checkpoint, STREAM).version == 1


def test_a_second_execution_is_fenced_before_it_can_start_anything(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream, clock = FakeStream(make_stream([2]), limit=10), FakeClock()
    store = DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics())
    store.acquire_lease("exec-holder", None, 600_000)
    fenced = run(poller_for(client, tables, stream, clock), clock, "exec-2", start_from=StartFrom.LATEST)
    assert fenced.status == Status.FENCED and not fenced.started_from_latest and starts(client, tables) == []


def test_i12_streams_off_stops_the_invocation_before_anything_is_read(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream, clock = FakeStream(make_stream([2]), limit=10), FakeClock()
    metrics = CountingMetrics()
    store = DynamoStore(client, tables, STREAM, clock=clock, metrics=metrics)

    def streams_off() -> None:
        raise StreamsDisabledError("Neptune Streams is disabled on this cluster: set neptune_streams=1 ...")

    poller = Poller(stream, store, PollSettings(stream_id=STREAM), clock, metrics, preflight=streams_off)
    with pytest.raises(StreamsDisabledError, match="neptune_streams=1"):
        run(poller, clock, start_from=StartFrom.LATEST)
    assert stream.calls == 0 and history_items(client, tables.history, STREAM) == []
    assert read_checkpoint(client, tables.checkpoint, STREAM).version == 0
