"""The capture path (events -> items) on everything Neptune can put in a PG_JSON record: several labels
for one vertex, several values for one property key (set cardinality), every Gremlin value type in the
JSON form Neptune may use (a number, or the number as a string, as AWS's neptune-export writes it), dates,
dataType names it has never seen, and values far over DynamoDB's item limit. Nothing crashes, every item
fits, and what is stored gives the record back (or, when cut, its size and hash).

The record format: https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html."""

from __future__ import annotations

import hashlib
import json
import math
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from neptune_capture.events import EventId, parse_page
from neptune_capture.items import MAX_ITEM_BYTES, encode_value, item_size, sized_record_item

INT = {"Byte": 2**7, "Short": 2**15, "Integer": 2**31, "Long": 2**63}

texts = st.text(st.characters(codec="utf-8"), max_size=40)
json_scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | texts
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3))


@st.composite
def typed_values(draw: st.DrawFn) -> tuple[Any, Any]:
    """(value, dataType) as a record may carry them."""
    kind = draw(st.sampled_from([*INT, "Float", "Double", "Boolean", "String", "Date", "unknown", "missing"]))
    if kind in INT:
        n = draw(st.integers(-INT[kind], INT[kind] - 1))
        return draw(st.sampled_from([n, str(n)])), kind
    if kind in ("Float", "Double"):
        x = draw(st.floats())
        as_json = ("NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")) if not math.isfinite(x) else x
        return draw(st.sampled_from([as_json, str(as_json)])), kind
    if kind == "Boolean":
        return draw(st.booleans()), kind
    if kind == "Date":
        moment = draw(st.datetimes())
        return moment.strftime("%Y-%m-%dT%H:%M:%S") + draw(st.sampled_from(["Z", ".250Z", ""])), kind
    if kind == "String":
        long_text = st.integers(300_000, 700_000).map(lambda n: "é" * n)  # 600 KB..1.4 MB of UTF-8
        return draw(texts | long_text), kind
    if kind == "unknown":  # a name this code has never seen, even an absurdly long one
        return draw(json_values), draw(texts | st.integers(300_000, 450_000).map(lambda n: "T" * n))
    return draw(json_values), None  # no dataType at all


@st.composite
def records(draw: st.DrawFn) -> list[dict[str, Any]]:
    """One transaction: a vertex with one or more labels and set-valued properties, maybe an edge."""
    vid = draw(st.text(min_size=1, max_size=30) | st.integers(1_000, 3_000).map(lambda n: "v" * n))
    data: list[dict[str, Any]] = [
        {"id": vid, "type": "vl", "key": "label", "value": {"value": label, "dataType": "String"}}
        for label in draw(st.lists(texts.filter(bool), min_size=1, max_size=3, unique=True))
    ]
    for key in draw(st.lists(texts, max_size=3, unique=True)):
        for value, kind in draw(st.lists(typed_values(), min_size=1, max_size=3)):
            wrapped = {"value": value} if kind is None else {"value": value, "dataType": kind}
            data.append({"id": vid, "type": "vp", "key": key, "value": wrapped})
    if draw(st.booleans()):
        value, kind = draw(typed_values())
        label = {"value": "r", "dataType": "String"}
        data.append({"id": "e", "type": "e", "key": "label", "value": label, "from": vid, "to": "o"})
        data.append({"id": "e", "type": "ep", "key": "w", "value": {"value": value, "dataType": kind}})
    op = draw(st.sampled_from(["ADD", "REMOVE"]))
    return [
        {"commitTimestamp": 1_700_000_000_000, "eventId": {"commitNum": 7, "opNum": n}, "data": d, "op": op}
        | ({"isLastOp": True} if n == len(data) else {})
        for n, d in enumerate(data, start=1)
    ]


@settings(max_examples=150, deadline=None)
@given(transaction=records())
def test_every_record_becomes_an_item_that_fits_and_gives_the_record_back(transaction: list[dict[str, Any]]) -> None:
    body = json.loads(json.dumps({"records": transaction, "format": "PG_JSON"}))  # what came over the wire
    page = parse_page(body, EventId(6, 9))
    assert [e.event_id.op_num for e in page.events] == list(range(1, len(transaction) + 1))
    keys = set()
    for event, record in zip(page.events, body["records"], strict=True):
        item, size = sized_record_item(event, "neptune")
        assert size == item_size(item) <= MAX_ITEM_BYTES
        keys.add((item["commitNum"]["N"], item["opNum"]["N"]))
        wrapped = record["data"]["value"]
        kind = wrapped.get("dataType")
        cut = set(item.get("truncatedFields", {}).get("SS", []))
        if "dataType" not in cut:
            assert item.get("dataType", {}).get("S") == (kind if isinstance(kind, str) else None)
        encoded = encode_value(wrapped["value"], kind if isinstance(kind, str) else None)
        if "originalValueBytes" in item:  # cut to fit: its size and hash still identify the original
            assert item["originalValueBytes"]["N"] == str(len(encoded.encode()))
            assert item["valueSha256"]["S"] == hashlib.sha256(encoded.encode()).hexdigest()
            assert encoded.startswith(item["value"]["S"])
        elif wrapped["value"] is not None or kind is not None:
            stored = item["value"]["S"]
            back = stored if isinstance(wrapped["value"], str) and kind in (None, "String") else json.loads(stored)
            assert json.dumps(back) == json.dumps(wrapped["value"])
        if cut:
            assert item["truncated"] == {"BOOL": True}
        else:
            assert item["id"]["S"] == record["data"]["id"] and item.get("key", {}).get("S") == record["data"]["key"]
    assert len(keys) == len(transaction)  # several labels, several values of one key: one item each


def test_a_data_type_name_too_long_for_an_item_is_cut_not_fatal() -> None:
    """A dataType is stored as it comes; one so long the item would pass 400 KB is cut like an id."""
    record = {
        "commitTimestamp": 1,
        "eventId": {"commitNum": 1, "opNum": 1},
        "op": "ADD",
        "data": {"id": "v", "type": "vp", "key": "k", "value": {"value": "x" * 300_000, "dataType": "T" * 200_000}},
    }
    event = parse_page({"records": [record]}, None).events[0]
    item, size = sized_record_item(event, "neptune")
    assert size <= MAX_ITEM_BYTES
    assert item["truncatedFields"] == {"SS": ["dataType"]} and item["dataType"]["S"] == "T" * 1024
