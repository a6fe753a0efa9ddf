"""The in-memory property graph with an undo log, so one traversal is one atomic transaction, and the
PG_JSON change records (vl, vp, e, ep; ADD/REMOVE) that the transaction produces.

Neptune's rules it keeps (https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html):
a vertex has one or more labels (`a::b` is two), vertex properties have set or single cardinality, and
adding a vertex with an existing id and a new label adds that label to the existing vertex. The records
follow "Calling the Neptune Streams REST API"
(https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html): one per label and per
property on insert, a REMOVE and an ADD when a property changes, and for a dropped vertex every incident
edge's properties, then those edges' labels, then the vertex's properties, then its labels."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neptune_emulator.errors import GraphError, constraint_violation
from neptune_emulator.values import identity, pg_json_value

LABEL_SEPARATOR = "::"


def user_id(value: Any) -> str:
    """ "Neptune Gremlin Vertex and Edge IDs must be of type String" (Vertex and edge IDs, in the guide)."""
    if not isinstance(value, str):
        raise GraphError(f"Neptune vertex and edge ids must be strings, got {type(value).__name__} {value!r}")
    return value


def split_labels(label: str) -> list[str]:
    """`a::b` names two labels; the order is kept and a repeated one counts once."""
    labels = [part for part in label.split(LABEL_SEPARATOR) if part]
    if not labels:
        raise GraphError(f"a vertex label must not be empty, got {label!r}")
    return list(dict.fromkeys(labels))


@dataclass(eq=False)
class Vertex:
    id: str
    labels: list[str]
    properties: dict[str, list[Any]] = field(default_factory=dict)
    out_edges: dict[str, Edge] = field(default_factory=dict)
    in_edges: dict[str, Edge] = field(default_factory=dict)

    @property
    def label(self) -> str:
        # What label() answers for a vertex with several labels (the guide's example: label1::label2).
        return LABEL_SEPARATOR.join(self.labels)


@dataclass(eq=False)
class Edge:
    id: str
    label: str
    out_v: Vertex
    in_v: Vertex
    properties: dict[str, Any] = field(default_factory=dict)


class Graph:
    def __init__(self) -> None:
        self.vertices: dict[str, Vertex] = {}
        self.edges: dict[str, Edge] = {}

    def copy(self) -> Graph:
        """A private copy for a session's transaction: its writes stay out of the shared graph, which the
        copy replaces whole when the session commits."""
        other = Graph()
        for vid, v in self.vertices.items():
            other.vertices[vid] = Vertex(vid, list(v.labels), {k: list(vs) for k, vs in v.properties.items()})
        for eid, e in self.edges.items():
            out_v, in_v = other.vertices[e.out_v.id], other.vertices[e.in_v.id]
            copied = Edge(eid, e.label, out_v, in_v, dict(e.properties))
            other.edges[eid] = copied
            out_v.out_edges[eid] = copied
            in_v.in_edges[eid] = copied
        return other


class Transaction:
    """Mutations of one traversal: applied to the graph at once (reads see them), undone on error,
    turned into change records on commit."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.undo: list[Callable[[], None]] = []
        self.changes: list[tuple[str, Any, str, Any, str]] = []  # (type, element, key, value, op)
        self.created: set[int] = set()

    # -- vertices
    def add_vertex(self, label: str, vertex_id: Any = None) -> Vertex:
        labels = split_labels(label)
        vid = user_id(vertex_id) if vertex_id is not None else str(uuid.uuid4())
        existing = self.graph.vertices.get(vid)
        if existing is not None:
            self._add_labels(existing, labels)
            return existing
        v = Vertex(vid, labels)
        self.graph.vertices[vid] = v
        self.undo.append(lambda: _discard(self.graph.vertices, vid))
        self.created.add(id(v))
        for one in labels:
            self.changes.append(("vl", v, "label", one, "ADD"))
        return v

    def _add_labels(self, v: Vertex, labels: list[str]) -> None:
        """addV(label) with an existing id: Neptune adds the labels the vertex lacks, and fails when it
        has them all ("Vertex with id already exists")."""
        new = [one for one in labels if one not in v.labels]
        if not new:
            raise constraint_violation(f"Vertex with id already exists: {v.id}")
        before = list(v.labels)
        v.labels.extend(new)
        self.undo.append(lambda: setattr(v, "labels", before))
        for one in new:
            self.changes.append(("vl", v, "label", one, "ADD"))

    def rekey_vertex(self, v: Vertex, new_id: Any) -> Vertex:
        """property(T.id, x) right after addV(); returns the vertex the traversal goes on with: the new
        one, or the existing vertex x when it gains the new vertex's labels and properties instead."""
        if id(v) not in self.created or v.out_edges or v.in_edges:
            raise GraphError("property(T.id, ...) is only allowed right after addV")
        new = user_id(new_id)
        existing = self.graph.vertices.get(new)
        if existing is v:
            return v
        if existing is not None:
            return self._merge_into(v, existing)
        old = v.id
        del self.graph.vertices[old]
        v.id = new
        self.graph.vertices[new] = v

        def restore() -> None:
            self.graph.vertices.pop(new, None)
            v.id = old

        self.undo.append(restore)
        return v

    def _merge_into(self, fresh: Vertex, existing: Vertex) -> Vertex:
        self._add_labels(existing, fresh.labels)
        self.changes = [change for change in self.changes if change[1] is not fresh]
        del self.graph.vertices[fresh.id]
        self.undo.append(lambda: self.graph.vertices.__setitem__(fresh.id, fresh))
        for key, values in fresh.properties.items():
            for value in values:
                self.set_vertex_property(existing, key, value, "set")  # "Nothing is overwritten."
        return existing

    def set_vertex_property(self, v: Vertex, key: str, value: Any, cardinality: str = "set") -> None:
        old = list(v.properties.get(key, []))
        if cardinality == "single":
            for previous in old:
                self.changes.append(("vp", v, key, previous, "REMOVE"))
            v.properties[key] = [value]
        else:
            wanted = identity(value)
            if any(identity(previous) == wanted for previous in old):
                return
            v.properties[key] = [*old, value]
        self.changes.append(("vp", v, key, value, "ADD"))
        self.undo.append(lambda: _restore(v.properties, key, old))

    def remove_vertex_property(self, v: Vertex, key: str, value: Any = None, *, every: bool = True) -> None:
        """Removes every value of `key`, or (every=False) the one equal to `value`."""
        old = list(v.properties.get(key, []))
        unwanted = None if every else identity(value)
        gone = [x for x in old if unwanted is None or identity(x) == unwanted]
        if not gone:
            return
        for previous in gone:
            self.changes.append(("vp", v, key, previous, "REMOVE"))
        kept = [] if unwanted is None else [x for x in old if identity(x) != unwanted]
        if kept:
            v.properties[key] = kept
        else:
            del v.properties[key]
        self.undo.append(lambda: _restore(v.properties, key, old))

    def drop_vertex(self, v: Vertex) -> None:
        if self.graph.vertices.get(v.id) is not v:
            return
        edges = list({id(e): e for e in [*v.out_edges.values(), *v.in_edges.values()]}.values())
        for e in edges:
            for key, value in e.properties.items():
                self.changes.append(("ep", e, key, value, "REMOVE"))
        for e in edges:
            self.changes.append(("e", e, "label", e.label, "REMOVE"))
            self._detach(e)
        for key, values in v.properties.items():
            for value in values:
                self.changes.append(("vp", v, key, value, "REMOVE"))
        for one in v.labels:
            self.changes.append(("vl", v, "label", one, "REMOVE"))
        del self.graph.vertices[v.id]
        self.undo.append(lambda: self.graph.vertices.__setitem__(v.id, v))

    # -- edges
    def add_edge(self, label: str, out_v: Vertex, in_v: Vertex, edge_id: Any = None) -> Edge:
        eid = user_id(edge_id) if edge_id is not None else str(uuid.uuid4())
        if eid in self.graph.edges:
            raise constraint_violation(f"Edge with id already exists: {eid}")
        e = Edge(eid, label, out_v, in_v)
        self.graph.edges[eid] = e
        out_v.out_edges[eid] = e
        in_v.in_edges[eid] = e
        self.created.add(id(e))

        def remove() -> None:
            self.graph.edges.pop(eid, None)
            out_v.out_edges.pop(eid, None)
            in_v.in_edges.pop(eid, None)

        self.undo.append(remove)
        self.changes.append(("e", e, "label", label, "ADD"))
        return e

    def rekey_edge(self, e: Edge, new_id: Any) -> None:
        if id(e) not in self.created:
            raise GraphError("property(T.id, ...) is only allowed right after addE")
        new, old = user_id(new_id), e.id
        if new == old:
            return
        if new in self.graph.edges:
            raise constraint_violation(f"Edge with id already exists: {new}")
        for table in (self.graph.edges, e.out_v.out_edges, e.in_v.in_edges):
            table[new] = table.pop(old)
        e.id = new

        def restore() -> None:
            for table in (self.graph.edges, e.out_v.out_edges, e.in_v.in_edges):
                table[old] = table.pop(new)
            e.id = old

        self.undo.append(restore)

    def set_edge_property(self, e: Edge, key: str, value: Any) -> None:
        had, old = key in e.properties, e.properties.get(key)
        if had:
            self.changes.append(("ep", e, key, old, "REMOVE"))
        e.properties[key] = value
        self.changes.append(("ep", e, key, value, "ADD"))
        self.undo.append(lambda: e.properties.__setitem__(key, old) if had else e.properties.pop(key, None))

    def remove_edge_property(self, e: Edge, key: str) -> None:
        if key not in e.properties:
            return
        old = e.properties.pop(key)
        self.changes.append(("ep", e, key, old, "REMOVE"))
        self.undo.append(lambda: e.properties.__setitem__(key, old))

    def drop_edge(self, e: Edge) -> None:
        if self.graph.edges.get(e.id) is not e:
            return
        for key, value in e.properties.items():
            self.changes.append(("ep", e, key, value, "REMOVE"))
        self.changes.append(("e", e, "label", e.label, "REMOVE"))
        self._detach(e)

    def _detach(self, e: Edge) -> None:
        del self.graph.edges[e.id]
        e.out_v.out_edges.pop(e.id, None)
        e.in_v.in_edges.pop(e.id, None)

        def restore() -> None:
            self.graph.edges[e.id] = e
            e.out_v.out_edges[e.id] = e
            e.in_v.in_edges[e.id] = e

        self.undo.append(restore)

    def rollback(self) -> None:
        for action in reversed(self.undo):
            action()
        self.undo.clear()
        self.changes.clear()

    def records(self) -> list[dict[str, Any]]:
        """The change records without event ids: ids resolve now, after any re-keying."""
        out = []
        for kind, element, key, value, op in self.changes:
            data: dict[str, Any] = {"id": element.id, "type": kind, "key": key, "value": pg_json_value(value)}
            if kind == "e":
                data["from"] = element.out_v.id
                data["to"] = element.in_v.id
            out.append({"data": data, "op": op})
        return out


def _discard(table: dict[str, Any], key: str) -> None:
    table.pop(key, None)


def _restore(props: dict[str, list[Any]], key: str, old: list[Any]) -> None:
    if old:
        props[key] = old
    else:
        props.pop(key, None)


__all__ = ["LABEL_SEPARATOR", "Edge", "Graph", "GraphError", "Transaction", "Vertex", "split_labels"]
