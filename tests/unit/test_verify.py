"""The exactly-once check itself: an event counts as missing only when neither the records table's Scan nor a
consistent point read finds its record; what only the point read found is reported apart (`scan_missed`), so a
server's Scan fault is seen without being taken for lost data, and real loss still fails the check."""

from __future__ import annotations

from typing import Any

import pytest

from neptune_capture import schema
from neptune_capture.contract import DEFAULT_STREAM_ID
from neptune_capture.metrics import CountingMetrics
from neptune_capture.poller import Poller, PollSettings
from neptune_capture.schema import TableNames
from neptune_capture.store import DynamoStore
from neptune_local.verify import BATCH_GET_KEYS, UNPROCESSED_RETRIES, read_back, verify
from tests.fakes import FakeClock, FakeStream, drop_scanned_items, make_stream

STREAM = DEFAULT_STREAM_ID


def captured(client: Any, tables: TableNames, sizes: list[int]) -> FakeStream:
    """A scripted stream captured by the real poller into moto's tables."""
    stream, clock = FakeStream(make_stream(sizes), limit=50), FakeClock()
    store = DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics())
    poll = PollSettings(stream_id=STREAM, idle_base_seconds=1, max_idle_wait_seconds=4)
    Poller(stream, store, poll, clock, CountingMetrics()).run("exec-1", deadline=clock.monotonic() + 30)
    return stream


def test_records_a_scan_did_not_return_are_read_back_and_reported(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = captured(client, tables, [5, 7, 3, 9])
    dropped = drop_scanned_items(client, keep_every=3)
    report = verify(client, tables, STREAM, stream.ids())
    assert sum(dropped) > 0
    assert report.ok and report.missing == 0 and report.records == len(stream.ids()), report
    assert report.scan_missed == sum(dropped)


def test_a_record_truly_gone_is_still_missing(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = captured(client, tables, [4, 4])
    gone = stream.ids()[2]
    client.delete_item(TableName=tables.records, Key={schema.RECORD_PK: {"S": schema.position(gone.commit_num, gone.op_num, 0)}})
    dropped = drop_scanned_items(client, keep_every=2)
    report = verify(client, tables, STREAM, stream.ids())
    assert not report.ok and report.missing == 1, report
    # Every other record is found, those the Scan lost by the point read.
    assert report.records == len(stream.ids()) - 1 and report.scan_missed == sum(dropped) > 0, report


def leave_unprocessed(client: Any, times: int | None) -> list[int]:
    """Makes BatchGetItem answers hand back half their keys as UnprocessedKeys, as DynamoDB does under load:
    the first `times` answers (every answer: None). Returns a list that receives how many each handed back."""
    handed_back: list[int] = []

    def half(parsed: dict[str, Any], **_: Any) -> None:
        if times is not None and len(handed_back) >= times:
            return
        for table, items in parsed.get("Responses", {}).items():
            kept, back = items[: len(items) // 2], items[len(items) // 2 :]
            parsed["Responses"][table] = kept
            if back:
                events = [schema.record_generation_and_event(item) for item in back]
                keys = [{schema.RECORD_PK: {"S": schema.position(c, o, g)}} for g, c, o in events]
                parsed.setdefault("UnprocessedKeys", {})[table] = {"Keys": keys}
            handed_back.append(len(back))

    client.meta.events.register("after-call.dynamodb.BatchGetItem", half)
    return handed_back


def test_more_than_one_batch_of_keys_and_unprocessed_keys_are_all_read_back(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = captured(client, tables, [40] * 8)  # 320 events: several BatchGetItem calls of at most 100 keys
    dropped = drop_scanned_items(client, keep_every=20)
    handed_back = leave_unprocessed(client, times=3)
    report = verify(client, tables, STREAM, stream.ids())
    assert sum(dropped) > 2 * BATCH_GET_KEYS and len(handed_back) == 3 and sum(handed_back) > 0
    assert report.ok and report.scan_missed == sum(dropped), report


def test_keys_never_processed_stop_the_check_saying_so(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = captured(client, tables, [4, 4])
    leave_unprocessed(client, times=None)
    waits: list[float] = []
    with pytest.raises(RuntimeError, match="keys unprocessed"):
        read_back(client, tables.records, [(0, e) for e in stream.ids()], sleep=waits.append)
    assert len(waits) == UNPROCESSED_RETRIES and waits == sorted(waits)  # backing off, a bounded number of times
