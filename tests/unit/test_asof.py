"""The graph as of a point (neptune_capture.asof): record items, as the handler writes them (items.record_item),
folded per element and held to a reference graph model's state after every commit, for hypothesis-generated
change sequences of both graph models; and the points' parsing and the anomalies partial records show."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from neptune_capture.asof import Change, ElementState, Point, PointError, fold
from neptune_capture.events import EventId, StreamEvent
from neptune_capture.items import encode_value, record_item
from neptune_capture.nquads import parse_statement

Identity = tuple[str, str]
VALUES: list[tuple[str, Any]] = [
    ("String", "red"),
    ("String", "a;b, c"),
    ("String", ""),
    ("Integer", 5),
    ("Long", 5),
    ("Double", 1.5),
    ("Boolean", True),
    ("Date", "2024-05-01T10:00:00Z"),
]
VERTICES = ["v0", "v1", "v2", "x"]
EDGES = ["e0", "e1", "x"]  # "x" names a vertex and an edge: Neptune keeps their ids apart
KEYS = ["name", "tag"]
LABELS = ["person", "customer", "product"]


def identity(value: tuple[str, Any]) -> Identity:
    return value[0], encode_value(value[1], value[0])


@dataclass
class Model:
    """The reference: a property graph as plain sets, changed by Gremlin-like steps, each one transaction whose
    change records are those Neptune writes for it (the PG_JSON records of streams-change-formats.html)."""

    vertices: dict[str, tuple[set[str], dict[str, set[Identity]]]] = field(default_factory=dict)
    edges: dict[str, tuple[str, str, str, dict[str, Identity]]] = field(default_factory=dict)

    def step(self, op: tuple[Any, ...]) -> list[dict[str, Any]]:
        """Applies one step; returns its records ({type, id, key, value, dataType, from, to, op})."""
        kind = op[0]
        out: list[dict[str, Any]] = []

        def rec(t: str, element: str, key: str, value: tuple[str, Any], o: str, **extra: str) -> None:
            out.append({"type": t, "id": element, "key": key, "value": value, "op": o, **extra})

        if kind == "addV":
            _, vid, label = op
            labels, _props = self.vertices.setdefault(vid, (set(), {}))
            if label not in labels:
                labels.add(label)
                rec("vl", vid, "label", ("String", label), "ADD")
        elif kind == "prop" and op[1] in self.vertices:
            _, vid, key, value, single = op
            props = self.vertices[vid][1]
            values = props.setdefault(key, set())
            if single:
                for old in sorted(values):
                    rec("vp", vid, key, _raw(old), "REMOVE")
                values.clear()
            if identity(value) not in values:
                values.add(identity(value))
                rec("vp", vid, key, value, "ADD")
        elif kind == "dropProp" and op[1] in self.vertices:
            _, vid, key = op
            for old in sorted(self.vertices[vid][1].pop(key, set())):
                rec("vp", vid, key, _raw(old), "REMOVE")
        elif kind == "addE" and op[1] not in self.edges and op[2] in self.vertices and op[3] in self.vertices:
            _, eid, a, b, label = op
            self.edges[eid] = (label, a, b, {})
            rec("e", eid, "label", ("String", label), "ADD", **{"from": a, "to": b})
        elif kind == "edgeProp" and op[1] in self.edges:
            _, eid, key, value = op
            edge_props = self.edges[eid][3]
            if key in edge_props:
                rec("ep", eid, key, _raw(edge_props[key]), "REMOVE")
            edge_props[key] = identity(value)
            rec("ep", eid, key, value, "ADD")
        elif kind == "dropE" and op[1] in self.edges:
            out += self._drop_edge(op[1])
        elif kind == "dropV" and op[1] in self.vertices:
            vid = op[1]
            incident = [e for e, (_, a, b, _) in self.edges.items() if vid in (a, b)]
            for eid in incident:
                out += self._drop_edge(eid)
            labels, props = self.vertices.pop(vid)
            for key, values in sorted(props.items()):
                for old in sorted(values):
                    rec("vp", vid, key, _raw(old), "REMOVE")
            for label in sorted(labels):
                rec("vl", vid, "label", ("String", label), "REMOVE")
        return out

    def _drop_edge(self, eid: str) -> list[dict[str, Any]]:
        label, a, b, props = self.edges.pop(eid)
        out = [{"type": "ep", "id": eid, "key": k, "value": _raw(v), "op": "REMOVE"} for k, v in sorted(props.items())]
        return [*out, {"type": "e", "id": eid, "key": "label", "value": ("String", label), "op": "REMOVE", "from": a, "to": b}]

    def snapshot(self) -> dict[str, Any]:
        return {
            "vertices": {
                v: (sorted(labels), {k: sorted(vals) for k, vals in props.items()})
                for v, (labels, props) in self.vertices.items()
            },
            "edges": {e: (label, a, b, {k: [v] for k, v in props.items()}) for e, (label, a, b, props) in self.edges.items()},
        }


_RAW = {identity(v): v for v in VALUES}


def _raw(ident: Identity) -> tuple[str, Any]:
    return _RAW[ident]


def _item(record: dict[str, Any], commit: int, op: int, ts: int) -> dict[str, Any]:
    data_type, value = record["value"]
    event = StreamEvent(
        EventId(commit, op), ts, record["op"], record["id"], record["type"], record["key"], value, data_type,
        record.get("from"), record.get("to"), is_last_op=False,
    )  # fmt: skip
    return record_item(event, "neptune")


def _state(states: dict[str, ElementState]) -> dict[str, Any]:
    """An as-of fold in the reference's shape."""
    vertices, edges = {}, {}
    for state in states.values():
        v, e = state.vertex, state.edge
        if v.exists:
            vertices[v.id] = (sorted(v.labels), {k: sorted(x.identity for x in vals) for k, vals in v.properties.items()})
        if e.exists:
            assert e.label is not None and e.from_id is not None and e.to_id is not None
            edges[e.id] = (e.label, e.from_id, e.to_id, {k: [x.identity for x in vals] for k, vals in e.properties.items()})
    return {"vertices": vertices, "edges": edges}


ids = st.sampled_from(VERTICES)
values = st.sampled_from(VALUES)
steps = st.one_of(
    st.tuples(st.just("addV"), ids, st.sampled_from(LABELS)),
    st.tuples(st.just("prop"), ids, st.sampled_from(KEYS), values, st.booleans()),
    st.tuples(st.just("dropProp"), ids, st.sampled_from(KEYS)),
    st.tuples(st.just("addE"), st.sampled_from(EDGES), ids, ids, st.sampled_from(["knows", "bought"])),
    st.tuples(st.just("edgeProp"), st.sampled_from(EDGES), st.sampled_from(KEYS), values),
    st.tuples(st.just("dropE"), st.sampled_from(EDGES)),
    st.tuples(st.just("dropV"), ids),
)


@settings(max_examples=150, deadline=None)
@given(st.lists(steps, max_size=40), st.lists(st.integers(0, 3), min_size=40, max_size=40))
def test_the_property_graph_as_of_every_commit_is_the_reference_s_state_after_it(
    ops: list[tuple[Any, ...]], gaps: list[int]
) -> None:
    model = Model()
    by_element: dict[str, list[Change]] = defaultdict(list)
    snapshots: dict[int, dict[str, Any]] = {0: model.snapshot()}
    stamps: dict[int, int] = {}
    commit, ts = 0, 1_700_000_000_000
    for op, gap in zip(ops, gaps, strict=False):
        records = model.step(op)
        if not records:  # a step that changes nothing is no transaction
            continue
        commit += 1 + gap % 2  # commit numbers may skip (the other graph model's transactions)
        ts += gap  # timestamps may repeat
        stamps[commit] = ts
        for n, record in enumerate(records, start=1):
            change = Change.from_item(_item(record, commit, n, ts))
            by_element[change.element_id].append(change)
        snapshots[commit] = model.snapshot()

    commits = sorted(snapshots)
    for c in commits:
        states = {e: fold(e, changes, Point(commit_num=c)) for e, changes in by_element.items()}
        assert _state(states) == snapshots[c], f"as of commit {c}"
        assert all(not s.anomalies for s in states.values()), "a complete history folds without anomalies"
        for state in states.values():
            assert state.status in ("present", "dropped", "not yet")
            assert state.applied + state.later == len(by_element[state.element_id])
    for c, ts in stamps.items():  # a time: every commit requested at or before it
        newest = max(k for k, t in stamps.items() if t <= ts)
        states = {e: fold(e, changes, Point(time_ms=ts)) for e, changes in by_element.items()}
        assert _state(states) == snapshots[newest], f"as of the time of commit {c}"
    # A skipped commit number (no transaction) is the state of the commit before it.
    for c in range(1, commit):
        if c not in snapshots:
            before = max(k for k in commits if k < c)
            states = {e: fold(e, changes, Point(commit_num=c)) for e, changes in by_element.items()}
            assert _state(states) == snapshots[before]


RDF_SUBJECTS = ["<http://ex/a>", "<http://ex/b>", "_:n1"]
RDF_OBJECTS = ['"x"', '"x"@en', '"1"^^<http://www.w3.org/2001/XMLSchema#int>', "<http://ex/a>", "_:n1"]
GRAPHS = [None, "<http://ex/g>"]
quads = st.tuples(
    st.sampled_from(RDF_SUBJECTS),
    st.sampled_from(["<http://ex/p>", "<http://ex/q>"]),
    st.sampled_from(RDF_OBJECTS),
    st.sampled_from(GRAPHS),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.lists(st.tuples(st.booleans(), quads), min_size=1, max_size=4), max_size=25))
def test_the_rdf_graph_as_of_every_event_is_the_reference_set_of_quads(updates: list[list[tuple[bool, Any]]]) -> None:
    """Each update a transaction of statement ADDs and REMOVEs that change the set (as Neptune records only
    real changes); checked as of every event, inside transactions too."""
    graph: set[tuple[str, str, str, str]] = set()
    by_subject: dict[str, list[Change]] = defaultdict(list)
    snapshots: dict[EventId, set[tuple[str, str, str, str]]] = {}
    commit = 0
    for update in updates:
        ops = []
        for add, (s, p, o, g) in update:
            statement = parse_statement(f"{s} {p} {o}{' ' + g if g else ''} .")
            quad = (s, p, o, statement.graph_or_default())
            if add != (quad in graph):
                (graph.add if add else graph.discard)(quad)
                ops.append(("ADD" if add else "REMOVE", statement, set(graph)))
        if not ops:
            continue
        commit += 1
        for n, (op, statement, after) in enumerate(ops, start=1):
            stream_event = StreamEvent(
                EventId(commit, n),
                commit,
                op,
                statement.subject_key,
                statement.object_kind,
                None,
                None,
                None,
                None,
                None,
                False,
                statement,
            )
            change = Change.from_item(record_item(stream_event, "neptune"))
            by_subject[change.element_id].append(change)
            snapshots[EventId(commit, n)] = after
    for event, expected in snapshots.items():
        point = Point(commit_num=event.commit_num, op_num=event.op_num)
        states = [fold(s, changes, point) for s, changes in by_subject.items()]
        assert {q for st_ in states for q in st_.quads} == expected
        assert all(not s.anomalies for s in states)


def test_records_that_miss_an_element_s_first_changes_show_anomalies() -> None:
    model = Model()
    changes: list[Change] = []
    for commit, op in enumerate([("addV", "v0", "person"), ("prop", "v0", "name", ("String", "red"), True), ("dropV", "v0")], 1):
        changes += [Change.from_item(_item(r, commit, n, commit)) for n, r in enumerate(model.step(op), 1)]
    state = fold("v0", changes[1:])  # the label's ADD was never captured
    assert state.status == "dropped" and state.anomalies == ["event 3:2: REMOVE of vertex label 'person' not there"]
    assert fold("v0", changes[1:], Point(commit_num=2)).anomalies == ["vertex 'v0' has properties but no label"]
    assert fold("v0", changes, Point(commit_num=2)).vertex.as_dict() == {
        "id": "v0", "labels": ["person"], "properties": {"name": [{"dataType": "String", "value": "red"}]}
    }  # fmt: skip
    assert fold("v0", changes, Point(commit_num=0)).status == "not yet"
    assert fold("v9", []).status == "unknown"


@pytest.mark.parametrize(
    ("text", "point"),
    [
        ("1042", Point(commit_num=1042)),
        (" 1042:3 ", Point(commit_num=1042, op_num=3)),
        ("2024-05-01T10:00:00Z", Point(time_ms=1_714_557_600_000)),
        ("2024-05-01T10:00:00", Point(time_ms=1_714_557_600_000)),  # no offset: UTC
        ("2024-05-01T12:00:00.250+02:00", Point(time_ms=1_714_557_600_250)),
        ("2024-05-01", Point(time_ms=1_714_521_600_000)),
    ],
)
def test_a_point_is_a_commit_an_event_or_a_time(text: str, point: Point) -> None:
    assert Point.parse(text) == point


@pytest.mark.parametrize("text", ["", "abc", "12:", "12:0", "-3", "1042:3:1", "2024-13-01"])
def test_anything_else_is_refused_naming_what_a_point_may_be(text: str) -> None:
    with pytest.raises(PointError, match=r"commit|opNum"):
        Point.parse(text)


def test_a_commit_point_includes_its_every_operation_and_an_event_point_stops_at_it() -> None:
    assert Point(commit_num=5).includes(EventId(5, 10_000), 0) and not Point(commit_num=5).includes(EventId(6, 1), 0)
    assert Point(commit_num=5, op_num=2).includes(EventId(5, 2), 0)
    assert not Point(commit_num=5, op_num=2).includes(EventId(5, 3), 0)
    assert Point(commit_num=5, op_num=2).position_bound(0) == "00000000000000000005:0000000002"
    assert Point(commit_num=5, op_num=2).position_bound(1) == "g000001#00000000000000000005:0000000002"
    assert Point(time_ms=10).includes(EventId(99, 1), 10) and not Point(time_ms=10).includes(EventId(1, 1), 11)
