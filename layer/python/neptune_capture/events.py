"""Neptune Streams pages parsed into validated, ordered events: PG_JSON (the property graph) or NQUADS (the
RDF graph), which share the record's envelope (eventId, commitTimestamp, op, isLastOp) and differ in its
`data` (https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html). Pure: no I/O.

A page is trusted only if every record has the documented fields and the event ids strictly increase
from the position it was asked for; otherwise MalformedPageError names the event and the problem."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from .contract import GraphModel
from .errors import MalformedPageError
from .nquads import Statement, StatementError, parse_statement

OPS = frozenset({"ADD", "REMOVE"})
TYPES = frozenset({"vl", "vp", "e", "ep"})
# The `format` each stream answers with (GetPropertygraphStream, GetSparqlStream).
FORMATS = {GraphModel.PROPERTY_GRAPH: "PG_JSON", GraphModel.RDF: "NQUADS"}


@dataclass(frozen=True, order=True)
class EventId:
    commit_num: int
    op_num: int

    def __str__(self) -> str:
        return f"{self.commit_num}/{self.op_num}"

    def as_dict(self) -> dict[str, int]:
        return {"commitNum": self.commit_num, "opNum": self.op_num}


@dataclass(frozen=True)
class StreamEvent:
    event_id: EventId
    commit_timestamp: int
    op: str
    element_id: str
    type: str
    key: str | None
    value: Any
    data_type: str | None
    from_id: str | None
    to_id: str | None
    is_last_op: bool
    # An RDF event's statement (then element_id is its subject, type the kind of its object); None for PG_JSON.
    statement: Statement | None = None


@dataclass(frozen=True)
class StreamPage:
    events: tuple[StreamEvent, ...]
    last_event_id: EventId | None
    last_trx_timestamp: int | None

    @property
    def empty(self) -> bool:
        return not self.events


EMPTY_PAGE = StreamPage((), None, None)


def _integer(value: Any) -> int | None:
    # Neptune sends numbers; botocore's model types eventId as a map of strings, so accept both.
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return None


def _event_id(raw: Any, where: str) -> EventId:
    if not isinstance(raw, dict):
        raise MalformedPageError(f"{where}: eventId is missing or not an object: {raw!r}")
    commit, op = _integer(raw.get("commitNum")), _integer(raw.get("opNum"))
    if commit is None or op is None or commit < 0 or op < 1:
        raise MalformedPageError(f"{where}: eventId needs integer commitNum >= 0 and opNum >= 1, got {raw!r}")
    return EventId(commit, op)


def _optional_str(data: dict[str, Any], field: str, where: str) -> str | None:
    value = data.get(field)
    if value is not None and not isinstance(value, str):
        raise MalformedPageError(f"{where}: data.{field} must be a string, got {type(value).__name__}")
    return value


def parse_record(record: Any, index: int, model: GraphModel = GraphModel.PROPERTY_GRAPH) -> StreamEvent:
    if not isinstance(record, dict):
        raise MalformedPageError(f"record #{index}: not an object")
    event_id = _event_id(record.get("eventId"), f"record #{index}")
    where = f"event {event_id}"
    timestamp = record.get("commitTimestamp")
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise MalformedPageError(f"{where}: commitTimestamp must be an integer (ms), got {timestamp!r}")
    op = record.get("op")
    if op not in OPS:
        raise MalformedPageError(f"{where}: op must be ADD or REMOVE, got {op!r}")
    data = record.get("data")
    if not isinstance(data, dict):
        raise MalformedPageError(f"{where}: data is missing or not an object")
    is_last = record.get("isLastOp", False)
    if not isinstance(is_last, bool):
        raise MalformedPageError(f"{where}: isLastOp must be a boolean, got {is_last!r}")
    if model == GraphModel.RDF:
        return _rdf_event(StreamEvent(event_id, timestamp, op, "", "", None, None, None, None, None, is_last), data, where)
    element_id = data.get("id")
    if not isinstance(element_id, str) or not element_id:
        raise MalformedPageError(f"{where}: data.id must be a non-empty string, got {element_id!r}")
    kind = data.get("type")
    if kind not in TYPES:
        raise MalformedPageError(f"{where}: data.type must be one of vl/vp/e/ep, got {kind!r}")
    value, data_type = None, None
    if "value" in data:
        wrapped = data["value"]
        if not isinstance(wrapped, dict) or "value" not in wrapped:
            raise MalformedPageError(f"{where}: data.value must be an object with a value field, got {wrapped!r}")
        value, data_type = wrapped["value"], wrapped.get("dataType")
    if kind == "e" and (not data.get("from") or not data.get("to")):
        raise MalformedPageError(f"{where}: an edge record needs data.from and data.to")
    return StreamEvent(
        event_id=event_id,
        commit_timestamp=timestamp,
        op=op,
        element_id=element_id,
        type=kind,
        key=_optional_str(data, "key", where),
        value=value,
        data_type=data_type if isinstance(data_type, str) else None,
        from_id=_optional_str(data, "from", where),
        to_id=_optional_str(data, "to", where),
        is_last_op=is_last,
    )


def _rdf_event(envelope: StreamEvent, data: dict[str, Any], where: str) -> StreamEvent:
    """An NQUADS record (its envelope read already): `data.stmt` holds one N-Quads statement, read strictly
    (nquads.parse_statement)."""
    stmt = data.get("stmt")
    if not isinstance(stmt, str) or not stmt:
        raise MalformedPageError(f"{where}: data.stmt must be a non-empty string, got {stmt!r}")
    try:
        statement = parse_statement(stmt)
    except StatementError as error:
        raise MalformedPageError(f"{where}: data.stmt is not one N-Quads statement: {error}") from None
    return replace(envelope, element_id=statement.subject_key, type=statement.object_kind, statement=statement)


def parse_page(body: Any, after: EventId | None, model: GraphModel = GraphModel.PROPERTY_GRAPH) -> StreamPage:
    """Validates a GetPropertygraphStream (or, for the RDF model, GetSparqlStream) body. `after` is the position
    asked for (None for TRIM_HORIZON): every event must come strictly after it, in strictly increasing order."""
    if not isinstance(body, dict):
        raise MalformedPageError(f"stream page is not a JSON object: {type(body).__name__}")
    fmt = body.get("format")
    if fmt is not None and fmt != FORMATS[model]:
        raise MalformedPageError(f"stream page format must be {FORMATS[model]}, got {fmt!r}")
    records = body.get("records")
    if not isinstance(records, list):
        raise MalformedPageError("stream page has no records list")
    events: list[StreamEvent] = []
    previous = after
    for index, record in enumerate(records):
        event = parse_record(record, index, model)
        if previous is not None and event.event_id <= previous:
            raise MalformedPageError(
                f"event {event.event_id}: out of order, it does not come after {previous}"
                + (" (the position asked for)" if not events else "")
            )
        events.append(event)
        previous = event.event_id
    last_event_id = _event_id(body["lastEventId"], "lastEventId") if body.get("lastEventId") else None
    if events and last_event_id is not None and last_event_id != events[-1].event_id:
        raise MalformedPageError(f"lastEventId {last_event_id} is not the last record's event {events[-1].event_id}")
    last_trx = body.get("lastTrxTimestamp")
    if last_trx is not None and (not isinstance(last_trx, int) or isinstance(last_trx, bool)):
        raise MalformedPageError(f"lastTrxTimestamp must be an integer (ms), got {last_trx!r}")
    return StreamPage(tuple(events), last_event_id, last_trx)
