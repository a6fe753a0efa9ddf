"""The exactly-once check itself: an event counts as missing only when neither the records table's Scan nor a
consistent point read finds its record; what only the point read found is reported apart (`scan_missed`), so a
server's Scan fault is seen without being taken for lost data, and real loss still fails the check."""

from __future__ import annotations

from typing import Any

from neptune_capture import schema
from neptune_capture.contract import DEFAULT_STREAM_ID
from neptune_capture.metrics import CountingMetrics
from neptune_capture.poller import Poller, PollSettings
from neptune_capture.schema import TableNames
from neptune_capture.store import DynamoStore
from neptune_local.verify import verify, verify_generations
from tests.fakes import FakeClock, FakeStream, make_stream

STREAM = DEFAULT_STREAM_ID


def captured(client: Any, tables: TableNames, sizes: list[int]) -> FakeStream:
    """A scripted stream captured by the real poller into moto's tables."""
    stream, clock = FakeStream(make_stream(sizes), limit=50), FakeClock()
    store = DynamoStore(client, tables, STREAM, clock=clock, metrics=CountingMetrics())
    poll = PollSettings(stream_id=STREAM, idle_base_seconds=1, max_idle_wait_seconds=4)
    Poller(stream, store, poll, clock, CountingMetrics()).run("exec-1", deadline=clock.monotonic() + 30)
    return stream


def drop_scanned_items(client: Any, keep_every: int) -> list[int]:
    """Makes every Scan answer lose items as a faulty server would (the page's other fields untouched);
    returns a list that receives how many each answer lost."""
    dropped: list[int] = []

    def lose(parsed: dict[str, Any], **_: Any) -> None:
        items = parsed.get("Items", [])
        kept = items[::keep_every]
        dropped.append(len(items) - len(kept))
        parsed["Items"], parsed["Count"] = kept, len(kept)

    client.meta.events.register("after-call.dynamodb.Scan", lose)
    return dropped


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


def test_every_generation_is_read_back(dynamo: tuple[Any, TableNames]) -> None:
    client, tables = dynamo
    stream = captured(client, tables, [6, 6])
    dropped = drop_scanned_items(client, keep_every=4)
    (report,) = verify_generations(client, tables, STREAM, [stream.ids()])
    assert report.ok and report.scan_missed == sum(dropped) > 0, report
