"""The graph as of a point of the stream: captured record items folded into element state. Pure: no I/O.

A point is a commit (`1042`: every change of that commit and before it), an event (`1042:3`: up to and
including that operation of the commit), or a time (ISO 8601), compared with each change's `commitTimestamp`.

Commit order is the order of the graph's states: Neptune numbers its transactions with `commitNum` and the
operations of one with `opNum` (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-reponse.html),
so a commit or event point names a state the database held. A time does not always: `commitTimestamp` is "the
time at which a commit for the transaction was requested" (same page), and the docs do not say that it grows
with commitNum. As of a time are exactly the changes whose commit was requested at or before it, applied in
commit order; when two transactions committed in the other order than they asked to, a time between their
timestamps gives a state that never existed at once. Give a commit number for an exact state.

Property-graph records are folded with Neptune's PG_JSON meaning
(https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html): `vl` a vertex label, `vp` one
value of a vertex property (Neptune's default cardinality is set, and a single-cardinality update arrives as a
REMOVE and an ADD), `e` an edge (its label, `from`, `to`), `ep` an edge property. A vertex exists while it has a
label or a property; an edge from its `e` ADD to its `e` REMOVE. An RDF resource is the set of statements with
it as subject (`quads`). A change that does not apply (a REMOVE of what is not there, an ADD of what is, a
property of an element never added) is an *anomaly*: evidence that the records do not begin with the element's
first change."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import schema
from .events import EventId
from .schema import RecordAttr as R

# The greatest opNum a position's padding holds: a commit point's upper bound in the element index.
MAX_OP = 10**schema.OP_DIGITS - 1
_EVENT = re.compile(r"(\d+)(?::(\d+))?")


class PointError(ValueError):
    """A point that is neither a commit number, COMMIT:OP, nor an ISO 8601 time."""


@dataclass(frozen=True)
class Point:
    """Where in the stream: an event bound (commit, op; op MAX_OP for a whole commit) or a time (ms)."""

    commit_num: int | None = None
    op_num: int | None = None
    time_ms: int | None = None

    @classmethod
    def parse(cls, text: str) -> Point:
        stripped = text.strip()
        match = _EVENT.fullmatch(stripped)
        if match:
            op = int(match[2]) if match[2] is not None else None
            if op is not None and op < 1:
                raise PointError(f"{text!r}: an opNum starts at 1")
            return cls(commit_num=int(match[1]), op_num=op)
        try:
            moment = datetime.fromisoformat(stripped)
        except ValueError:
            raise PointError(
                f"{text!r} is neither a commit number (1042), an event (1042:3) nor an ISO 8601 time (2024-05-01T10:00:00Z)"
            ) from None
        if moment.tzinfo is None:  # a time without an offset is UTC, as --since reads it
            moment = moment.replace(tzinfo=UTC)
        return cls(time_ms=int(moment.timestamp() * 1000))

    @property
    def bound(self) -> EventId | None:
        """The last event the point includes, when it is an event bound."""
        if self.commit_num is None:
            return None
        return EventId(self.commit_num, MAX_OP if self.op_num is None else self.op_num)

    def position_bound(self, generation: int) -> str | None:
        """The greatest `position` of `generation` the point includes (a key condition on the element index), or
        None for a time."""
        bound = self.bound
        return schema.position(bound.commit_num, bound.op_num, generation) if bound else None

    def includes(self, event: EventId, commit_timestamp: int) -> bool:
        bound = self.bound
        if bound is not None:
            return event <= bound
        assert self.time_ms is not None
        return commit_timestamp <= self.time_ms

    def describe(self) -> str:
        if self.commit_num is None:
            assert self.time_ms is not None
            moment = datetime.fromtimestamp(self.time_ms / 1000, UTC)
            return f"time {moment.isoformat(timespec='milliseconds').replace('+00:00', 'Z')}"
        if self.op_num is None:
            return f"commit {self.commit_num}"
        return f"event {self.commit_num}:{self.op_num}"

    def as_dict(self) -> dict[str, Any]:
        if self.time_ms is not None:
            return {"timeMs": self.time_ms, "text": self.describe()}
        return {"commitNum": self.commit_num, "opNum": self.op_num, "text": self.describe()}


@dataclass(frozen=True, order=True)
class Value:
    """A property value as the record stored it: its dataType (None: not given) and its text (a string as
    it is, anything else as JSON: items.encode_value). A value stored truncated is known by its hash."""

    data_type: str
    text: str
    truncated: bool = False

    @property
    def identity(self) -> tuple[str, str]:
        return self.data_type, self.text


Quad = tuple[str, str, str, str]  # subject, predicate, object, graph: N-Quads terms as the record stored them


@dataclass(frozen=True)
class Change:
    """One record item, read."""

    event: EventId
    commit_timestamp: int
    op: str
    kind: str  # vl, vp, e, ep; "quad" for an RDF statement
    element_id: str  # the id (property graph) or the subject's key (RDF)
    key: str | None = None
    value: Value | None = None
    from_id: str | None = None
    to_id: str | None = None
    quad: Quad | None = None

    @classmethod
    def from_item(cls, item: dict[str, Any]) -> Change:
        """A record item, in DynamoDB's attribute-value form (what Query returns) or plain (one value per name)."""
        plain = {k: next(iter(v.values())) if isinstance(v, dict) else v for k, v in item.items()}
        event = EventId(int(plain[schema.COMMIT_NUM]), int(plain[schema.OP_NUM]))
        stamp, op = int(plain[R.COMMIT_TIMESTAMP]), str(plain[R.OP])
        truncated = bool(plain.get(R.TRUNCATED, False))
        if schema.SUBJECT in plain:
            obj = str(plain[schema.OBJECT])
            if truncated and R.VALUE_SHA256 in plain:
                obj = f"sha256:{plain[R.VALUE_SHA256]}"
            quad = (str(plain[schema.SUBJECT]), str(plain[schema.PREDICATE]), obj, str(plain[schema.GRAPH]))
            return cls(event, stamp, op, "quad", str(plain[schema.ELEMENT_ID]), quad=quad)
        value = None
        if R.VALUE in plain:
            text = str(plain[R.VALUE])
            if truncated and R.VALUE_SHA256 in plain:
                text = f"sha256:{plain[R.VALUE_SHA256]}"
            value = Value(str(plain.get(R.DATA_TYPE) or "String"), text, truncated)
        return cls(
            event,
            stamp,
            op,
            str(plain[R.TYPE]),
            str(plain[R.ID]),
            key=plain.get(R.KEY),
            value=value,
            from_id=plain.get(R.FROM),
            to_id=plain.get(R.TO),
        )


@dataclass
class Vertex:
    id: str
    labels: list[str] = field(default_factory=list)
    properties: dict[str, list[Value]] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return bool(self.labels or self.properties)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "labels": sorted(self.labels), "properties": _properties(self.properties)}


@dataclass
class Edge:
    id: str
    label: str | None = None
    from_id: str | None = None
    to_id: str | None = None
    properties: dict[str, list[Value]] = field(default_factory=dict)

    @property
    def exists(self) -> bool:
        return self.label is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "label": self.label,
            "from": self.from_id,
            "to": self.to_id,
            "properties": _properties(self.properties),
        }


def _properties(properties: dict[str, list[Value]]) -> dict[str, list[dict[str, Any]]]:
    # A value is printed under the record's own names for it (dataType, value, truncated), on purpose.
    return {
        key: [{R.DATA_TYPE: v.data_type, R.VALUE: v.text, **({R.TRUNCATED: True} if v.truncated else {})} for v in sorted(values)]
        for key, values in sorted(properties.items())
    }


@dataclass
class ElementState:
    """What one element id's changes up to a point leave: a vertex, an edge (Neptune keeps their ids apart, so
    one id can name both), or an RDF resource's statements; with the changes read and the anomalies met."""

    element_id: str
    vertex: Vertex
    edge: Edge
    quads: dict[Quad, None] = field(default_factory=dict)  # insertion-ordered set
    applied: int = 0  # changes up to the point
    later: int = 0  # changes after it
    next_change: EventId | None = None  # the first of them
    first: EventId | None = None
    last: EventId | None = None  # the newest change applied
    anomalies: list[str] = field(default_factory=list)

    @property
    def exists(self) -> bool:
        return self.vertex.exists or self.edge.exists or bool(self.quads)

    @property
    def status(self) -> str:
        """present, dropped (it had changes, none left it standing), not yet (its first change is after the
        point), or unknown (no change of it at all)."""
        if self.exists:
            return "present"
        if self.applied:
            return "dropped"
        return "not yet" if self.later else "unknown"

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"elementId": self.element_id, "status": self.status}
        if self.vertex.exists:
            out["vertex"] = self.vertex.as_dict()
        if self.edge.exists:
            out["edge"] = self.edge.as_dict()
        if self.quads:
            out["statements"] = [{"predicate": p, "object": o, "graph": g} for _, p, o, g in sorted(self.quads)]
        out["changesApplied"], out["changesAfter"] = self.applied, self.later
        out["lastChange"] = self.last.as_dict() if self.last else None
        out["nextChange"] = self.next_change.as_dict() if self.next_change else None
        if self.anomalies:
            out["anomalies"] = self.anomalies
        return out


def fold(element_id: str, changes: Iterable[Change], point: Point | None = None) -> ElementState:
    """The state one element's changes (in stream order) leave as of `point` (None: all of them)."""
    state = ElementState(element_id, Vertex(element_id), Edge(element_id))
    for change in changes:
        if point is not None and not point.includes(change.event, change.commit_timestamp):
            state.later += 1
            state.next_change = state.next_change or change.event
            continue
        apply(state, change)
    if state.vertex.properties and not state.vertex.labels:
        state.anomalies.append(f"vertex {element_id!r} has properties but no label")
    if state.edge.properties and state.edge.label is None:
        state.anomalies.append(f"edge {element_id!r} has properties but no edge")
    return state


def apply(state: ElementState, change: Change) -> None:
    state.applied += 1
    state.first = state.first or change.event
    state.last = change.event
    add = change.op == "ADD"
    where = f"event {change.event.commit_num}:{change.event.op_num}"
    if change.kind == "quad":
        assert change.quad is not None
        if add == (change.quad in state.quads):
            state.anomalies.append(f"{where}: {change.op} of a statement {'already there' if add else 'not there'}")
        if add:
            state.quads[change.quad] = None
        else:
            state.quads.pop(change.quad, None)
        return
    label = change.value.text if change.value else ""
    if change.kind == "vl":
        labels = state.vertex.labels
        if add == (label in labels):
            state.anomalies.append(f"{where}: {change.op} of vertex label {label!r} {'already there' if add else 'not there'}")
        if add and label not in labels:
            labels.append(label)
        elif not add and label in labels:
            labels.remove(label)
    elif change.kind in ("vp", "ep"):
        _property(state, change, state.vertex.properties if change.kind == "vp" else state.edge.properties, where)
    elif change.kind == "e":
        edge = state.edge
        if add:
            if edge.label is not None:
                state.anomalies.append(f"{where}: ADD of edge {change.element_id!r}, which exists")
            edge.label, edge.from_id, edge.to_id = label, change.from_id, change.to_id
        else:
            if edge.label is None:
                state.anomalies.append(f"{where}: REMOVE of edge {change.element_id!r}, which does not exist")
            if edge.properties:
                state.anomalies.append(f"{where}: edge {change.element_id!r} removed with its properties still there")
            edge.label = edge.from_id = edge.to_id = None
            edge.properties.clear()


def _property(state: ElementState, change: Change, properties: dict[str, list[Value]], where: str) -> None:
    key, value = change.key or "", change.value
    if value is None:
        state.anomalies.append(f"{where}: a property change without a value")
        return
    values = properties.setdefault(key, [])
    present = [v for v in values if v.identity == value.identity]
    if change.op == "ADD":
        if present:
            state.anomalies.append(f"{where}: ADD of {key}={value.text!r}, already there")
        else:
            values.append(value)
    else:
        if not present:
            state.anomalies.append(f"{where}: REMOVE of {key}={value.text!r}, not there")
        values[:] = [v for v in values if v.identity != value.identity]
    if not values:
        del properties[key]


__all__ = ["MAX_OP", "Change", "Edge", "ElementState", "Point", "PointError", "Quad", "Value", "Vertex", "apply", "fold"]
