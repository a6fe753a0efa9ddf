from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest

from neptune_capture.errors import MalformedPageError
from neptune_capture.events import EventId, parse_page
from neptune_capture.items import MAX_INDEXED_ID_BYTES, MAX_ITEM_BYTES, element_key, item_size, record_item

FIXTURE: dict[str, Any] = json.loads(
    (Path(__file__).parent.parent / "fixtures" / "propertygraph_stream_response.json").read_text()
)


def test_the_reference_page_parses_field_for_field() -> None:
    page = parse_page(FIXTURE, None)
    assert [e.event_id for e in page.events] == [EventId(1, 1), EventId(1, 2), EventId(1, 3)]
    label, prop, other = page.events
    assert (label.type, label.key, label.value, label.data_type, label.element_id, label.op) == (
        "vl",
        "label",
        "state",
        "String",
        "0",
        "ADD",
    )
    assert (prop.type, prop.key, prop.value) == ("vp", "name", "Texas")
    assert other.element_id == "768"
    assert page.last_event_id == EventId(1, 3) and page.last_trx_timestamp == 1656345430973
    # The fixture flags no isLastOp: absent means false.
    assert not any(e.is_last_op for e in page.events)


def _broken(mutate: Any) -> dict[str, Any]:
    body = copy.deepcopy(FIXTURE)
    mutate(body)
    return body


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b["records"][1].pop("op"), r"event 1/2: op must be ADD or REMOVE"),
        (lambda b: b["records"][2]["data"].update(type="x"), r"event 1/3: data.type must be one of"),
        (lambda b: b["records"][1]["data"].pop("id"), r"event 1/2: data.id must be a non-empty string"),
        (lambda b: b["records"][0].update(commitTimestamp="yesterday"), r"event 1/1: commitTimestamp must be an integer"),
        (lambda b: b["records"][1].update(eventId={"commitNum": 1, "opNum": 1}), r"event 1/1: out of order"),
        (lambda b: b["records"][0].pop("eventId"), r"record #0: eventId is missing"),
        (lambda b: b.update(format="NQUADS"), r"format must be PG_JSON"),
        (lambda b: b.update(records=None), r"no records list"),
        (lambda b: b.update(lastEventId={"commitNum": 9, "opNum": 9}), r"lastEventId 9/9 is not the last record's event 1/3"),
    ],
)
def test_a_malformed_page_names_the_event_and_the_problem(mutate: Any, message: str) -> None:
    with pytest.raises(MalformedPageError, match=message):
        parse_page(_broken(mutate), None)


def test_events_must_come_after_the_position_asked_for() -> None:
    with pytest.raises(
        MalformedPageError, match=r"event 1/1: out of order, it does not come after 1/1 \(the position asked for\)"
    ):
        parse_page(FIXTURE, EventId(1, 1))


def test_an_oversized_value_is_truncated_with_its_size_and_hash() -> None:
    page = parse_page(FIXTURE, None)
    big = "ü" * 250_000
    event = page.events[1].__class__(**{**page.events[1].__dict__, "value": big})
    item = record_item(event, "s")
    assert item_size(item) < MAX_ITEM_BYTES
    assert item["truncated"] == {"BOOL": True}
    assert item["originalValueBytes"] == {"N": str(len(big.encode()))}
    assert item["valueSha256"] == {"S": hashlib.sha256(big.encode()).hexdigest()}
    assert big.startswith(item["value"]["S"])


def test_a_normal_item_keeps_its_value_and_is_not_flagged() -> None:
    item = record_item(parse_page(FIXTURE, None).events[1], "s")
    assert item["value"] == {"S": "Texas"} and "truncated" not in item
    assert item["position"] == {"S": "00000000000000000001:0000000002"}
    assert item["elementId"] == {"S": "0"}


def test_an_id_too_long_for_the_index_is_indexed_by_its_hash() -> None:
    long_id = "x" * (MAX_INDEXED_ID_BYTES + 1)
    assert element_key(long_id) == "sha256:" + hashlib.sha256(long_id.encode()).hexdigest()
    assert element_key("short") == "short"
