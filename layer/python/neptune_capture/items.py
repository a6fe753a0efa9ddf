"""Stream events as DynamoDB items (low-level attribute values), their sizes, and the rule that keeps
every item under DynamoDB's 400 KB limit (invariant I10, docs/exactly-once.md#i10). Pure: no I/O."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from . import schema
from .events import StreamEvent
from .nquads import Statement
from .schema import RecordAttr as R

AttributeValue = dict[str, Any]
Item = dict[str, AttributeValue]

# DynamoDB's hard limit is 409,600 bytes per item; the rest of the record item is at most a few KB
# (ids are capped below), so a value above this is stored truncated.
MAX_ITEM_BYTES = 409_600
MAX_VALUE_BYTES = 380_000
# A GSI partition key may not exceed 2,048 bytes: longer element ids are indexed by their hash.
MAX_INDEXED_ID_BYTES = 1_024


def element_key(element_id: str) -> str:
    """The GSI key for an element id: the id itself, or its SHA-256 when the id is too long to index."""
    if utf8_length(element_id) <= MAX_INDEXED_ID_BYTES:
        return element_id
    return "sha256:" + hashlib.sha256(element_id.encode()).hexdigest()


def encode_value(value: Any, data_type: str | None) -> str:
    # Strings are stored as they are so they read naturally; everything else as JSON, with dataType
    # saying how to read it back.
    if isinstance(value, str) and data_type in (None, "String"):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _s(value: str) -> AttributeValue:
    return {"S": value}


def _n(value: int) -> AttributeValue:
    return {"N": str(value)}


def record_item(event: StreamEvent, stream_id: str, generation: int = 0) -> Item:
    return sized_record_item(event, stream_id, generation)[0]


def sized_record_item(event: StreamEvent, stream_id: str, generation: int = 0) -> tuple[Item, int]:
    """The record item and its size, computed once: the planner needs both for every event. `generation`:
    the capture generation the event belongs to (docs/reset-and-generations.md)."""
    if event.statement is not None:
        return _sized_quad_item(event, event.statement, stream_id, generation)
    item: Item = {
        **_record_keys(event, event.element_id, stream_id, generation),
        R.ID: _s(event.element_id),
        R.TYPE: _s(event.type),
        R.OP: _s(event.op),
        R.COMMIT_TIMESTAMP: _n(event.commit_timestamp),
        R.IS_LAST_OP: {"BOOL": event.is_last_op},
    }
    if event.key is not None:
        item[R.KEY] = _s(event.key)
    if event.from_id is not None:
        item[R.FROM] = _s(event.from_id)
    if event.to_id is not None:
        item[R.TO] = _s(event.to_id)
    if event.data_type is not None:
        item[R.DATA_TYPE] = _s(event.data_type)
    if event.value is not None or event.data_type is not None:
        encoded = encode_value(event.value, event.data_type)
        if utf8_length(encoded) > MAX_VALUE_BYTES:
            # Never block the stream on one oversized value: keep a prefix, flag it, and keep what is
            # needed to verify the original (its size and hash) against the graph.
            raw = encoded.encode()
            item[R.VALUE] = _s(raw[:MAX_VALUE_BYTES].decode(errors="ignore"))
            item[R.TRUNCATED] = {"BOOL": True}
            item[R.ORIGINAL_VALUE_BYTES] = _n(len(raw))
            item[R.VALUE_SHA256] = _s(hashlib.sha256(raw).hexdigest())
        else:
            item[R.VALUE] = _s(encoded)
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        # Only pathological ids, keys or dataType names get here (the value is already capped): cap them
        # too. A dataType is stored as Neptune sent it, whatever the name, so it can be as long as anything.
        size = _cap_fields(item, (R.ID, R.FROM, R.TO, R.KEY, R.DATA_TYPE))
    return item, size


def _record_keys(event: StreamEvent, element: str, stream_id: str, generation: int) -> Item:
    """What every record item has: its key (the generation-qualified position, which is also its place in the
    element index), the event id as Neptune gave it, and its generation."""
    eid = event.event_id
    return {
        schema.POSITION: _s(schema.position(eid.commit_num, eid.op_num, generation)),
        schema.COMMIT_NUM: _n(eid.commit_num),
        schema.OP_NUM: _n(eid.op_num),
        schema.GENERATION: _n(generation),
        schema.ELEMENT_ID: _s(element_key(element)),
        schema.STREAM_ID: _s(stream_id),
    }


def _sized_quad_item(event: StreamEvent, statement: Statement, stream_id: str, generation: int) -> tuple[Item, int]:
    """An RDF record: the statement's four terms as N-Quads wrote them, keyed in the element index by its
    subject (the IRI, or `_:label`), so one resource's changes read in stream order. A triple without a graph
    label is in Neptune's default named graph, and says so. Like a property value, an object literal that
    would pass the item limit is stored truncated, flagged, with its size and hash."""
    item: Item = {
        **_record_keys(event, statement.subject_key, stream_id, generation),
        schema.SUBJECT: _s(statement.subject),
        schema.PREDICATE: _s(statement.predicate),
        schema.GRAPH: _s(statement.graph_or_default()),
        schema.OBJECT_TYPE: _s(statement.object_kind),
        R.OP: _s(event.op),
        R.COMMIT_TIMESTAMP: _n(event.commit_timestamp),
        R.IS_LAST_OP: {"BOOL": event.is_last_op},
    }
    if utf8_length(statement.object) > MAX_VALUE_BYTES:
        raw = statement.object.encode()
        item[schema.OBJECT] = _s(raw[:MAX_VALUE_BYTES].decode(errors="ignore"))
        item[R.TRUNCATED] = {"BOOL": True}
        item[R.ORIGINAL_VALUE_BYTES] = _n(len(raw))
        item[R.VALUE_SHA256] = _s(hashlib.sha256(raw).hexdigest())
    else:
        item[schema.OBJECT] = _s(statement.object)
    size = item_size(item)
    if size > MAX_ITEM_BYTES:
        # Only IRIs hundreds of KB long get here (the object is already capped): cap them too.
        size = _cap_fields(item, (schema.SUBJECT, schema.PREDICATE, schema.GRAPH))
    return item, size


def _cap_fields(item: Item, fields: tuple[str, ...]) -> int:
    """Caps each of `fields` longer than an indexed id may be, flags the item, and returns its new size."""
    truncated = []
    for field in fields:
        raw = item.get(field, {}).get("S", "").encode()
        if len(raw) > MAX_INDEXED_ID_BYTES:
            item[field] = _s(raw[:MAX_INDEXED_ID_BYTES].decode(errors="ignore"))
            truncated.append(field)
    item[R.TRUNCATED_FIELDS] = {"SS": truncated}
    item[R.TRUNCATED] = {"BOOL": True}
    return item_size(item)


def attribute_size(value: AttributeValue) -> int:
    """Upper bound of DynamoDB's size for one attribute value."""
    kind, inner = next(iter(value.items()))
    if kind == "S":
        return utf8_length(inner)
    if kind == "N":
        return len(inner) + 1
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(utf8_length(k) + attribute_size(v) + 1 for k, v in inner.items())
    if kind == "L":
        return 3 + sum(attribute_size(v) + 1 for v in inner)
    if kind == "SS":
        return sum(utf8_length(s) for s in inner)
    raise ValueError(f"unsupported attribute type {kind}")


def item_size(item: Item) -> int:
    # Called for every record: strings and numbers, nearly all of an item, are sized inline.
    size = 0
    for name, value in item.items():
        size += len(name) if name.isascii() else len(name.encode())
        kind, inner = next(iter(value.items()))
        if kind == "S":
            size += len(inner) if inner.isascii() else len(inner.encode())
        elif kind == "N":
            size += len(inner) + 1
        else:
            size += attribute_size(value)
    return size


def utf8_length(text: str) -> int:
    # Most names and values are ASCII: their length is their byte count, without encoding a copy.
    return len(text) if text.isascii() else len(text.encode())
