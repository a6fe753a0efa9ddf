"""The in-memory property graph with an undo log, so one traversal is one atomic transaction, and the
PG_JSON change records (vl, vp, e, ep; ADD/REMOVE) that the transaction produces."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from neptune_emulator.values import pg_json_value


@dataclass(eq=False)
class Vertex:
    id: str
    label: str
    properties: dict[str, list[Any]] = field(default_factory=dict)
    out_edges: dict[str, Edge] = field(default_factory=dict)
    in_edges: dict[str, Edge] = field(default_factory=dict)


@dataclass(eq=False)
class Edge:
    id: str
    label: str
    out_v: Vertex
    in_v: Vertex
    properties: dict[str, Any] = field(default_factory=dict)


Change = tuple[str, str, Any, str]  # (type, element, key/payload, op), resolved to records at commit


class Graph:
    def __init__(self) -> None:
        self.vertices: dict[str, Vertex] = {}
        self.edges: dict[str, Edge] = {}


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
        vid = str(vertex_id) if vertex_id is not None else str(uuid.uuid4())
        if vid in self.graph.vertices:
            raise GraphError(f"Vertex with id already exists: {vid}")
        v = Vertex(vid, label)
        self.graph.vertices[vid] = v
        self.undo.append(lambda: _discard(self.graph.vertices, vid))
        self.created.add(id(v))
        self.changes.append(("vl", v, "label", label, "ADD"))
        return v

    def rekey_vertex(self, v: Vertex, new_id: Any) -> None:
        if id(v) not in self.created or v.out_edges or v.in_edges:
            raise GraphError("property(T.id, ...) is only allowed right after addV")
        new = str(new_id)
        if new in self.graph.vertices:
            raise GraphError(f"Vertex with id already exists: {new}")
        old = v.id
        del self.graph.vertices[old]
        v.id = new
        self.graph.vertices[new] = v

        def restore() -> None:
            self.graph.vertices.pop(new, None)
            v.id = old

        self.undo.append(restore)

    def set_vertex_property(self, v: Vertex, key: str, value: Any, cardinality: str = "single") -> None:
        old = list(v.properties.get(key, []))
        if cardinality == "single":
            for previous in old:
                self.changes.append(("vp", v, key, previous, "REMOVE"))
            v.properties[key] = [value]
        else:
            if cardinality == "set" and value in old:
                return
            v.properties[key] = [*old, value]
        self.changes.append(("vp", v, key, value, "ADD"))
        self.undo.append(lambda: _restore(v.properties, key, old))

    def remove_vertex_property(self, v: Vertex, key: str) -> None:
        old = list(v.properties.get(key, []))
        for previous in old:
            self.changes.append(("vp", v, key, previous, "REMOVE"))
        v.properties.pop(key, None)
        self.undo.append(lambda: _restore(v.properties, key, old))

    def drop_vertex(self, v: Vertex) -> None:
        if v.id not in self.graph.vertices:
            return
        for e in list(v.out_edges.values()) + list(v.in_edges.values()):
            self.drop_edge(e)
        for key, values in v.properties.items():
            for value in values:
                self.changes.append(("vp", v, key, value, "REMOVE"))
        self.changes.append(("vl", v, "label", v.label, "REMOVE"))
        del self.graph.vertices[v.id]
        self.undo.append(lambda: self.graph.vertices.__setitem__(v.id, v))

    # -- edges
    def add_edge(self, label: str, out_v: Vertex, in_v: Vertex, edge_id: Any = None) -> Edge:
        eid = str(edge_id) if edge_id is not None else str(uuid.uuid4())
        if eid in self.graph.edges:
            raise GraphError(f"Edge with id already exists: {eid}")
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
        new, old = str(new_id), e.id
        if new in self.graph.edges:
            raise GraphError(f"Edge with id already exists: {new}")
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

    def drop_edge(self, e: Edge) -> None:
        if e.id not in self.graph.edges:
            return
        for key, value in e.properties.items():
            self.changes.append(("ep", e, key, value, "REMOVE"))
        self.changes.append(("e", e, "label", e.label, "REMOVE"))
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


class GraphError(Exception):
    """A Gremlin evaluation error, reported to the client with the offending step."""
