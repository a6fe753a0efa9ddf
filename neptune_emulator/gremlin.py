"""A Gremlin bytecode interpreter for the steps a change workload uses, with Neptune's rules for labels,
cardinality and ids (https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html).
A step it does not know is an error naming that step, never a guess."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from gremlin_python.process.traversal import Bytecode, P
from gremlin_python.structure import graph as gp

from neptune_emulator import values
from neptune_emulator.errors import GraphError, unsupported
from neptune_emulator.graph import Edge, Graph, Transaction, Vertex

Objects = list[Any]


def _enum_name(value: Any) -> str | None:
    return (
        value.name.rstrip("_")
        if hasattr(value, "name") and type(value).__name__ in {"T", "Cardinality", "Direction", "Merge"}
        else None
    )


def _is(value: Any, enum: str, name: str) -> bool:
    return type(value).__name__ == enum and value.name.rstrip("_") == name


def _test(predicate: Any, value: Any) -> bool:
    if not isinstance(predicate, P):
        return bool(value == predicate)
    op, arg = predicate.operator, predicate.value
    if op == "and":
        return bool(_test(arg, value) and _test(predicate.other, value))
    if op == "or":
        return bool(_test(arg, value) or _test(predicate.other, value))
    if op in ("within", "without"):
        members = arg if isinstance(arg, list | set | tuple) else [arg]
        return bool((value in members) == (op == "within"))
    if value is None:
        return False
    checks: dict[str, Callable[[], object]] = {
        "eq": lambda: value == arg,
        "neq": lambda: value != arg,
        "lt": lambda: value < arg,
        "lte": lambda: value <= arg,
        "gt": lambda: value > arg,
        "gte": lambda: value >= arg,
        "between": lambda: arg <= value < predicate.other,
        "inside": lambda: arg < value < predicate.other,
        "outside": lambda: value < arg or value > predicate.other,
        # TextP (https://tinkerpop.apache.org/docs/current/reference/#a-note-on-predicates): strings only.
        "containing": lambda: isinstance(value, str) and arg in value,
        "notContaining": lambda: isinstance(value, str) and arg not in value,
        "startingWith": lambda: isinstance(value, str) and value.startswith(arg),
        "notStartingWith": lambda: isinstance(value, str) and not value.startswith(arg),
        "endingWith": lambda: isinstance(value, str) and value.endswith(arg),
        "notEndingWith": lambda: isinstance(value, str) and not value.endswith(arg),
    }
    check = checks.get(op)
    if check is None:
        raise unsupported(f"neptune-stream emulator does not support the predicate P.{op}")
    try:
        return bool(check())
    except TypeError:
        return False


def _flatten(args: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for a in args:
        out.extend(a if isinstance(a, list | set | tuple) else [a])
    return out


def _id_of(value: Any) -> str:
    return str(value.id if isinstance(value, gp.Element | Vertex | Edge) else value)


@dataclass(frozen=True)
class PropertyRef:
    """One property of an element, as properties() yields it: one per value of a vertex property."""

    element: Vertex | Edge
    key: str
    value: Any


def _same(a: Any, b: Any) -> bool:
    # Numbers compare by value whatever their width (TinkerPop's rule), but True is not 1.
    return bool(a == b) and isinstance(a, bool) == isinstance(b, bool)


def _labels(element: Any) -> list[str]:
    return element.labels if isinstance(element, Vertex) else [element.label]


# Steps that see every traverser at once: a step label (as()) is bound per traverser up to the first of these.
BARRIERS = frozenset(
    {
        "count",
        "fold",
        "limit",
        "range",
        "tail",
        "dedup",
        "order",
        "group",
        "groupCount",
        "sum",
        "max",
        "min",
        "mean",
        "barrier",
        "cap",
        "aggregate",
        "store",
        "sample",
    }
)
# Steps that take the modulators right after them as arguments.
MODULATED = {"addE": ("from", "to"), "mergeV": ("option",), "mergeE": ("option",), "select": ("by",)}
UNSUPPORTED_METHODS = "https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html"


class Interpreter:
    def __init__(self, graph: Graph, tx: Transaction) -> None:
        self.graph, self.tx = graph, tx
        self.scopes: list[dict[str, Any]] = [{}]  # step labels (as()) bound for the traverser being run

    def run(self, bytecode: Bytecode, start: Objects | None = None) -> Objects:
        for source in bytecode.source_instructions:
            raise unsupported(f"neptune-stream emulator does not support the traversal source step '{source[0]}'")
        return self._steps(list(bytecode.step_instructions), [] if start is None else list(start), start is None)

    def _steps(self, steps: list[list[Any]], objects: Objects, first: bool) -> Objects:
        i = 0
        while i < len(steps):
            name, *args = steps[i]
            if name == "as":
                # Each traverser runs the steps up to the next barrier with the labels bound to it (TinkerPop's
                # path, kept only as far as select() can reach it here).
                end = next((j for j in range(i + 1, len(steps)) if steps[j][0] in BARRIERS), len(steps))
                out: Objects = []
                for o in [None] if first else objects:
                    self.scopes.append({**self.scopes[-1], **dict.fromkeys((str(a) for a in args), o)})
                    try:
                        out.extend(self._steps(steps[i + 1 : end], [] if o is None else [o], first and o is None))
                    finally:
                        self.scopes.pop()
                objects, first, i = out, False, end
                continue
            if name in MODULATED:
                modulators = []
                while i + 1 < len(steps) and steps[i + 1][0] in MODULATED[name]:
                    modulators.append(steps[i + 1])
                    i += 1
                objects = getattr(self, f"step_{name}")(objects, first, args, modulators)
            else:
                handler: Callable[..., Objects] | None = getattr(self, f"step_{name}", None)
                if handler is None:
                    raise unsupported(f"neptune-stream emulator does not support the Gremlin step '{name}'")
                objects = handler(objects, first, *args)
            first = False
            i += 1
        return objects

    def _sub(self, value: Any, obj: Any) -> Any:
        """A step argument that is an anonymous traversal evaluates against the current object."""
        if isinstance(value, Bytecode):
            result = self.run(value, [obj])
            if not result:
                raise GraphError("an anonymous traversal used as a value produced nothing")
            return result[0]
        return value

    # -- sources and navigation
    def step_V(self, objects: Objects, first: bool, *ids: Any) -> Objects:  # noqa: N802 - Gremlin's step name
        wanted = [_id_of(x) for x in _flatten(ids)]
        found = (
            [self.graph.vertices[i] for i in wanted if i in self.graph.vertices] if wanted else list(self.graph.vertices.values())
        )
        return found if first else [v for _ in objects for v in found]

    def step_E(self, objects: Objects, first: bool, *ids: Any) -> Objects:  # noqa: N802
        wanted = [_id_of(x) for x in _flatten(ids)]
        found = [self.graph.edges[i] for i in wanted if i in self.graph.edges] if wanted else list(self.graph.edges.values())
        return found if first else [e for _ in objects for e in found]

    def step_inject(self, objects: Objects, first: bool, *values: Any) -> Objects:
        return [*objects, *values]

    def _adjacent(self, objects: Objects, labels: tuple[Any, ...], direction: str, to_vertex: bool) -> Objects:
        out: Objects = []
        for v in objects:
            if not isinstance(v, Vertex):
                raise GraphError(f"{direction}{'' if to_vertex else 'E'}() needs vertices, got {type(v).__name__}")
            edges: list[Edge] = []
            if direction in ("out", "both"):
                edges += list(v.out_edges.values())
            if direction in ("in", "both"):
                edges += list(v.in_edges.values())
            for e in edges:
                if labels and e.label not in labels:
                    continue
                out.append((e.in_v if e.out_v is v else e.out_v) if to_vertex else e)
        return out

    def step_out(self, objects: Objects, first: bool, *labels: Any) -> Objects:
        return self._adjacent(objects, labels, "out", True)

    def step_in(self, objects: Objects, first: bool, *labels: Any) -> Objects:
        return self._adjacent(objects, labels, "in", True)

    def step_both(self, objects: Objects, first: bool, *labels: Any) -> Objects:
        return self._adjacent(objects, labels, "both", True)

    def step_outE(self, objects: Objects, first: bool, *labels: Any) -> Objects:  # noqa: N802
        return self._adjacent(objects, labels, "out", False)

    def step_inE(self, objects: Objects, first: bool, *labels: Any) -> Objects:  # noqa: N802
        return self._adjacent(objects, labels, "in", False)

    def step_bothE(self, objects: Objects, first: bool, *labels: Any) -> Objects:  # noqa: N802
        return self._adjacent(objects, labels, "both", False)

    def _edge_ends(self, objects: Objects, which: str) -> Objects:
        out: Objects = []
        for e in objects:
            if not isinstance(e, Edge):
                raise GraphError(f"{which}() needs edges, got {type(e).__name__}")
            out += {"outV": [e.out_v], "inV": [e.in_v], "bothV": [e.out_v, e.in_v]}[which]
        return out

    def step_outV(self, objects: Objects, first: bool) -> Objects:  # noqa: N802
        return self._edge_ends(objects, "outV")

    def step_inV(self, objects: Objects, first: bool) -> Objects:  # noqa: N802
        return self._edge_ends(objects, "inV")

    def step_bothV(self, objects: Objects, first: bool) -> Objects:  # noqa: N802
        return self._edge_ends(objects, "bothV")

    # -- filters
    def _value(self, element: Any, key: Any) -> list[Any]:
        if _is(key, "T", "id"):
            return [element.id]
        if _is(key, "T", "label"):
            return list(_labels(element))
        if isinstance(element, Vertex):
            return list(element.properties.get(key, []))
        if isinstance(element, Edge):
            return [element.properties[key]] if key in element.properties else []
        raise GraphError(f"has() needs vertices or edges, got {type(element).__name__}")

    def step_has(self, objects: Objects, first: bool, *args: Any) -> Objects:
        if len(args) == 1:
            return [o for o in objects if self._value(o, args[0])]
        if len(args) == 3:
            label, key, predicate = args
            objects = [o for o in objects if label in _labels(o)]
        elif len(args) == 2:
            key, predicate = args
        else:
            raise unsupported(f"neptune-stream emulator does not support has() with {len(args)} arguments")
        if isinstance(predicate, Bytecode):
            raise unsupported("neptune-stream emulator does not support has(key, traversal)")
        return [o for o in objects if any(_test(predicate, v) for v in self._value(o, key))]

    def step_hasNot(self, objects: Objects, first: bool, key: Any) -> Objects:  # noqa: N802
        return [o for o in objects if not self._value(o, key)]

    def step_hasLabel(self, objects: Objects, first: bool, *labels: Any) -> Objects:  # noqa: N802
        # A vertex matches any one of its labels; "a::b" names no single label, so it matches nothing.
        if len(labels) == 1 and isinstance(labels[0], P):
            return [o for o in objects if any(_test(labels[0], one) for one in _labels(o))]
        wanted = set(_flatten(labels))
        return [o for o in objects if not wanted.isdisjoint(_labels(o))]

    def step_hasId(self, objects: Objects, first: bool, *ids: Any) -> Objects:  # noqa: N802
        if len(ids) == 1 and isinstance(ids[0], P):
            return [o for o in objects if _test(ids[0], o.id)]
        wanted = {_id_of(i) for i in _flatten(ids)}
        return [o for o in objects if o.id in wanted]

    def step_limit(self, objects: Objects, first: bool, *args: Any) -> Objects:
        return objects[: int(args[-1])]

    def step_dedup(self, objects: Objects, first: bool, *args: Any) -> Objects:
        seen: list[Any] = []
        for o in objects:
            if o not in seen:
                seen.append(o)
        return seen

    # -- maps
    def step_id(self, objects: Objects, first: bool) -> Objects:
        return [o.id for o in objects]

    def step_label(self, objects: Objects, first: bool) -> Objects:
        return [o.label for o in objects]

    def step_values(self, objects: Objects, first: bool, *keys: Any) -> Objects:
        out: Objects = []
        for o in objects:
            if isinstance(o, Vertex):
                for k, vs in o.properties.items():
                    if not keys or k in keys:
                        out.extend(vs)
            elif isinstance(o, Edge):
                out.extend(v for k, v in o.properties.items() if not keys or k in keys)
            else:
                raise GraphError(f"values() needs vertices or edges, got {type(o).__name__}")
        return out

    def step_valueMap(self, objects: Objects, first: bool, *args: Any) -> Objects:  # noqa: N802
        tokens = bool(args and args[0] is True)
        keys = [a for a in args if isinstance(a, str)]
        out: Objects = []
        for o in objects:
            if isinstance(o, Vertex):
                m: dict[Any, Any] = {k: list(v) for k, v in o.properties.items() if not keys or k in keys}
            else:
                m = {k: v for k, v in o.properties.items() if not keys or k in keys}
            if tokens:
                m = {_token("id"): o.id, _token("label"): o.label, **m}
            out.append(m)
        return out

    def step_elementMap(self, objects: Objects, first: bool, *keys: Any) -> Objects:  # noqa: N802
        from gremlin_python.process.traversal import Direction

        out: Objects = []
        for o in objects:
            m: dict[Any, Any] = {_token("id"): o.id, _token("label"): o.label}
            if isinstance(o, Edge):
                m[Direction.IN] = {_token("id"): o.in_v.id, _token("label"): o.in_v.label}
                m[Direction.OUT] = {_token("id"): o.out_v.id, _token("label"): o.out_v.label}
                m.update({k: v for k, v in o.properties.items() if not keys or k in keys})
            else:
                m.update({k: vs[0] for k, vs in o.properties.items() if vs and (not keys or k in keys)})
            out.append(m)
        return out

    def step_count(self, objects: Objects, first: bool, *args: Any) -> Objects:
        if args and _is(args[0], "Scope", "local"):
            raise unsupported("neptune-stream emulator does not support count(local)")
        return [len(objects)]

    def step_fold(self, objects: Objects, first: bool) -> Objects:
        return [list(objects)]

    def step_unfold(self, objects: Objects, first: bool) -> Objects:
        out: Objects = []
        for o in objects:
            if isinstance(o, list):
                out.extend(o)
            elif isinstance(o, dict):
                out.extend({k: v} for k, v in o.items())
            else:
                out.append(o)
        return out

    def step_constant(self, objects: Objects, first: bool, value: Any) -> Objects:
        return [value for _ in objects]

    def step_identity(self, objects: Objects, first: bool) -> Objects:
        return objects

    def step_coalesce(self, objects: Objects, first: bool, *traversals: Bytecode) -> Objects:
        out: Objects = []
        for o in objects:
            for t in traversals:
                result = self.run(t, [o])
                if result:
                    out.extend(result)
                    break
        return out

    def step_by(self, objects: Objects, first: bool, *args: Any) -> Objects:
        raise unsupported("neptune-stream emulator supports by() only after select()")

    def step_sideEffect(self, objects: Objects, first: bool, traversal: Any) -> Objects:  # noqa: N802
        """sideEffect(traversal): the traversal runs for each traverser, which goes on unchanged. A lambda
        (sideEffect(Consumer)) never gets here: "Neptune does not support Lambda Steps" (the Gremlin differences page)."""
        if not isinstance(traversal, Bytecode):
            raise unsupported(f"Neptune supports sideEffect() with a traversal only, got {type(traversal).__name__}")
        for o in objects:
            self.run(traversal, [o])
        return objects

    def _lookup(self, o: Any, key: Any) -> tuple[bool, Any]:
        """select(key) for one traverser: the entry of a map it is at, else the step labeled `key` (TinkerPop's order)."""
        if isinstance(o, dict) and key in o:
            return True, o[key]
        scope = self.scopes[-1]
        if key in scope:
            return True, scope[key]
        return False, None

    def _by(self, value: Any, modulator: list[Any]) -> Any:
        args = modulator[1:]
        if not args:
            return value
        how = args[0]
        if isinstance(how, Bytecode):
            result = self.run(how, [value])
            if not result:
                raise GraphError("select().by(traversal): the traversal produced nothing")
            return result[0]
        if _is(how, "T", "id"):
            return value.id
        if _is(how, "T", "label"):
            return value.label
        if isinstance(how, str):
            if isinstance(value, dict):
                if how not in value:
                    raise GraphError(f"select().by('{how}'): the map has no key '{how}'")
                return value[how]
            found = self._value(value, how)
            if not found:
                raise GraphError(f"select().by('{how}'): the element has no property '{how}'")
            return found[0]
        raise unsupported(f"neptune-stream emulator does not support by({how!r}) after select()")

    def step_select(self, objects: Objects, first: bool, args: list[Any], modulators: list[list[Any]]) -> Objects:
        keys = [a for a in args if type(a).__name__ != "Pop"]
        if not keys or not all(isinstance(k, str) for k in keys):
            raise unsupported(f"neptune-stream emulator supports select() with step labels or map keys only, got {keys!r}")
        out: Objects = []
        for o in objects:
            found = [self._lookup(o, k) for k in keys]
            if not all(ok for ok, _ in found):
                continue  # a traverser without the key is filtered out, as in TinkerPop
            values_ = [v for _, v in found]
            if modulators:
                values_ = [self._by(v, modulators[n % len(modulators)]) for n, v in enumerate(values_)]
            out.append(values_[0] if len(keys) == 1 else dict(zip(keys, values_, strict=True)))
        return out

    def step_discard(self, objects: Objects, first: bool) -> Objects:
        return []

    step_none = step_discard  # what gremlinpython before 3.8 sent for iterate()

    # -- mutations
    def step_addV(self, objects: Objects, first: bool, label: Any = "vertex") -> Objects:  # noqa: N802
        starts = [None] if first else objects
        return [self.tx.add_vertex(str(self._sub(label, o))) for o in starts]

    def step_addE(self, objects: Objects, first: bool, args: list[Any], modulators: list[list[Any]]) -> Objects:  # noqa: N802
        label = args[0] if args else "edge"
        starts = [None] if first else objects
        out: Objects = []
        for o in starts:
            ends: dict[str, Vertex] = {}
            for name, *margs in modulators:
                raw = margs[0] if margs else None
                if isinstance(raw, gp.Element):
                    # Neptune lists GraphTraversal.from(Vertex) and to(Vertex) among the Gremlin methods it does not
                    # support (the "Unsupported Gremlin methods" of the differences page).
                    raise unsupported(
                        f"Neptune does not support addE().{name}(Vertex) (a vertex object, here {raw.id!r}): pass a "
                        f"traversal such as __.V({raw.id!r}) or a step label ({UNSUPPORTED_METHODS})"
                    )
                if isinstance(raw, str):
                    ok, bound = self._lookup(None, raw)
                    if not ok:
                        raise GraphError(f"addE().{name}('{raw}'): no step is labeled '{raw}' (as('{raw}'))")
                    ends[name] = self._vertex(bound, f"addE().{name}()")
                    continue
                ends[name] = self._vertex(self._sub(raw, o), f"addE().{name}()")
            if "from" not in ends or "to" not in ends:
                if not isinstance(o, Vertex):
                    raise GraphError("addE() needs from() and to() when it does not start from a vertex")
                ends.setdefault("from", o)
                ends.setdefault("to", o)
            out.append(self.tx.add_edge(str(self._sub(label, o)), ends["from"], ends["to"]))
        return out

    def _vertex(self, value: Any, where: str, *, string_is_id: bool = False) -> Vertex:
        if isinstance(value, Vertex):
            return value
        if isinstance(value, str) and not string_is_id:
            raise unsupported(f"neptune-stream emulator does not support {where} with a step label; pass a vertex or a traversal")
        vid = _id_of(value)
        if vid not in self.graph.vertices:
            raise GraphError(f"{where}: vertex {vid} does not exist")
        return self.graph.vertices[vid]

    def step_property(self, objects: Objects, first: bool, *args: Any) -> Objects:
        cardinality: str | None = None
        rest = list(args)
        if rest and type(rest[0]).__name__ == "Cardinality":
            cardinality = rest.pop(0).name.rstrip("_")
        if cardinality == "list":
            # "Neptune supports set cardinality and single cardinality ... List is not supported."
            raise unsupported("Neptune does not support list cardinality for vertex properties; use single or set")
        if len(rest) == 1 and isinstance(rest[0], dict):
            pairs = list(rest[0].items())  # property(Map): one property per entry
        elif len(rest) == 2:
            pairs = [(rest[0], rest[1])]
        elif len(rest) > 2 and len(rest) % 2 == 0:
            # property(k, v, mk, mv, ...) gives the new property meta-properties, which Neptune does not
            # support (the MetaProperties feature is false).
            raise unsupported(f"Neptune does not support meta-properties: property({rest[0]!r}, ...) was given {rest[2::2]!r}")
        else:
            raise GraphError(f"property() needs a key and a value, got {len(rest)} arguments")
        out: Objects = []
        for o in objects:
            element = o
            for key, raw in pairs:
                element = self._set_property(element, cardinality, key, self._sub(raw, element))
            out.append(element)
        return out

    def _set_property(self, o: Any, cardinality: str | None, key: Any, value: Any) -> Any:
        """Sets one property; returns the element the traversal goes on with (property(T.id, existing)
        after addV() continues with the existing vertex)."""
        if _is(key, "T", "id"):
            if isinstance(o, Vertex):
                return self.tx.rekey_vertex(o, value)
            if isinstance(o, Edge):
                self.tx.rekey_edge(o, value)
                return o
        elif _is(key, "T", "label"):
            raise GraphError("the label of an element cannot be changed")
        elif isinstance(o, Vertex):
            self.tx.set_vertex_property(o, str(key), values.accept(value), cardinality or "set")
            return o
        elif isinstance(o, Edge):
            if cardinality not in (None, "single"):
                raise GraphError(f"edge properties have no cardinality but single, got {cardinality}")
            self.tx.set_edge_property(o, str(key), values.accept(value))
            return o
        raise GraphError(f"property() needs vertices or edges, got {type(o).__name__}")

    def step_properties(self, objects: Objects, first: bool, *keys: Any) -> Objects:
        out: Objects = []
        for o in objects:
            if isinstance(o, Vertex):
                out.extend(PropertyRef(o, k, v) for k, vs in o.properties.items() if not keys or k in keys for v in vs)
            elif isinstance(o, Edge):
                out.extend(PropertyRef(o, k, v) for k, v in o.properties.items() if not keys or k in keys)
            else:
                raise GraphError(f"properties() needs vertices or edges, got {type(o).__name__}")
        return out

    def _refs(self, objects: Objects, step: str) -> list[PropertyRef]:
        for o in objects:
            if not isinstance(o, PropertyRef):
                raise GraphError(f"{step}() needs properties, got {type(o).__name__}")
        return objects

    def step_hasValue(self, objects: Objects, first: bool, *wanted: Any) -> Objects:  # noqa: N802
        refs = self._refs(objects, "hasValue")
        if len(wanted) == 1 and isinstance(wanted[0], P):
            return [r for r in refs if _test(wanted[0], r.value)]
        return [r for r in refs if any(_same(r.value, w) for w in _flatten(wanted))]

    def step_hasKey(self, objects: Objects, first: bool, *keys: Any) -> Objects:  # noqa: N802
        refs = self._refs(objects, "hasKey")
        if len(keys) == 1 and isinstance(keys[0], P):
            return [r for r in refs if _test(keys[0], r.key)]
        return [r for r in refs if r.key in _flatten(keys)]

    def step_key(self, objects: Objects, first: bool) -> Objects:
        return [r.key for r in self._refs(objects, "key")]

    def step_value(self, objects: Objects, first: bool) -> Objects:
        return [r.value for r in self._refs(objects, "value")]

    def step_drop(self, objects: Objects, first: bool) -> Objects:
        for o in objects:
            if isinstance(o, Vertex):
                self.tx.drop_vertex(o)
            elif isinstance(o, Edge):
                self.tx.drop_edge(o)
            elif isinstance(o, PropertyRef):
                if isinstance(o.element, Vertex):
                    self.tx.remove_vertex_property(o.element, o.key, o.value, every=False)
                else:
                    self.tx.remove_edge_property(o.element, o.key)
            else:
                raise GraphError(f"drop() needs vertices, edges or properties, got {type(o).__name__}")
        return []

    def _merge_options(self, modulators: list[list[Any]], o: Any) -> dict[str, dict[Any, Any]]:
        options: dict[str, dict[Any, Any]] = {}
        for name, *margs in modulators:
            if name != "option" or len(margs) != 2:
                raise GraphError(f"{name}() does not modulate mergeV()/mergeE()")
            which = _enum_name(margs[0]) or str(margs[0])
            options[which] = self._sub(margs[1], o) or {}
        return options

    def step_mergeV(self, objects: Objects, first: bool, args: list[Any], modulators: list[list[Any]]) -> Objects:  # noqa: N802
        starts = [None] if first else objects
        out: Objects = []
        for o in starts:
            search = self._sub(args[0], o) if args and args[0] is not None else {}
            options = self._merge_options(modulators, o)
            matches = list(self.graph.vertices.values())
            for key, value in search.items():
                matches = [v for v in matches if value in self._value(v, key)]
            if matches:
                for v in matches:
                    for key, value in options.get("on_match", {}).items():
                        # An update replaces the value (single cardinality); the guide is silent on mergeV.
                        self.tx.set_vertex_property(v, str(key), values.accept(value), "single")
                out.extend(matches)
                continue
            create = {**search, **options.get("on_create", {})}
            label = next((v for k, v in create.items() if _is(k, "T", "label")), "vertex")
            vid = next((v for k, v in create.items() if _is(k, "T", "id")), None)
            v = self.tx.add_vertex(str(label), vid)
            for key, value in create.items():
                if _enum_name(key) is None:
                    self.tx.set_vertex_property(v, str(key), values.accept(value))
            out.append(v)
        return out

    def step_mergeE(self, objects: Objects, first: bool, args: list[Any], modulators: list[list[Any]]) -> Objects:  # noqa: N802
        starts = [None] if first else objects
        out: Objects = []
        for o in starts:
            search = self._sub(args[0], o) if args and args[0] is not None else {}
            options = self._merge_options(modulators, o)
            label = next((v for k, v in search.items() if _is(k, "T", "label")), None)
            out_v = next(
                (
                    self._vertex(v, "mergeE() Direction.OUT", string_is_id=True)
                    for k, v in search.items()
                    if _is(k, "Direction", "OUT")
                ),
                None,
            )
            in_v = next(
                (
                    self._vertex(v, "mergeE() Direction.IN", string_is_id=True)
                    for k, v in search.items()
                    if _is(k, "Direction", "IN")
                ),
                None,
            )
            props = {k: v for k, v in search.items() if _enum_name(k) is None}
            matches = [
                e
                for e in self.graph.edges.values()
                if (label is None or e.label == label)
                and (out_v is None or e.out_v is out_v)
                and (in_v is None or e.in_v is in_v)
                and all(e.properties.get(k) == v for k, v in props.items())
            ]
            if matches:
                for e in matches:
                    for key, value in options.get("on_match", {}).items():
                        self.tx.set_edge_property(e, str(key), values.accept(value))
                out.extend(matches)
                continue
            if out_v is None or in_v is None:
                raise GraphError("mergeE() needs Direction.OUT and Direction.IN to create an edge")
            create = {**props, **{k: v for k, v in options.get("on_create", {}).items() if _enum_name(k) is None}}
            e = self.tx.add_edge(str(label or "edge"), out_v, in_v)
            for key, value in create.items():
                self.tx.set_edge_property(e, str(key), values.accept(value))
            out.append(e)
        return out


def _token(name: str) -> Any:
    from gremlin_python.process.traversal import T

    return T.id if name == "id" else T.label


def to_wire(value: Any) -> Any:
    """Emulator objects as gremlinpython structure objects, which its serializers know how to write."""
    if isinstance(value, Vertex):
        return gp.Vertex(value.id, value.label)
    if isinstance(value, Edge):
        return gp.Edge(
            value.id, gp.Vertex(value.out_v.id, value.out_v.label), value.label, gp.Vertex(value.in_v.id, value.in_v.label)
        )
    if isinstance(value, PropertyRef):
        if isinstance(value.element, Vertex):
            vertex = gp.Vertex(value.element.id, value.element.label)
            return gp.VertexProperty(_property_id(value), value.key, value.value, vertex)
        return gp.Property(value.key, value.value, None)
    if isinstance(value, list):
        return [to_wire(v) for v in value]
    if isinstance(value, dict):
        return {k: to_wire(v) for k, v in value.items()}
    return value


def _property_id(ref: PropertyRef) -> int:
    # Neptune generates vertex property ids, "positive or negative numbers"; stable within a run is enough.
    return hash((ref.element.id, ref.key, values.identity(ref.value))) & 0x7FFFFFFF
