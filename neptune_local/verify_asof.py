"""The demo's time-travel check: snapshots of the emulator's graph taken while the workload writes, each with
the stream's last event at that moment (both read under the engine's lock, so no commit falls between them),
and at the end; then `export --as-of` each snapshot's event, the files read back as Neptune's loader reads them
(https://docs.aws.amazon.com/neptune/latest/userguide/bulk-load-tutorial-format-gremlin.html; N-Quads), and
compared with the snapshot, element by element."""

from __future__ import annotations

import re
import shutil
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from neptune_capture.asof import Point
from neptune_capture.contract import GraphModel
from neptune_capture.events import EventId
from neptune_capture.nquads import parse_statement
from neptune_ops import captured
from neptune_ops.export import export

if TYPE_CHECKING:
    from neptune_emulator.engine import Engine

# A canonical graph: vertices and edges by id, or RDF quads (as one "element" per subject).
Canonical = dict[str, Any]
PropertySet = dict[str, frozenset[tuple[str, str]]]  # name -> {(loader type, text)}
# The loader's names for the emulator's types (values.data_type): only these two differ.
LOADER_NAMES = {"Integer": "Int", "Boolean": "Bool"}
NOUNS = {"vertices": "vertex", "edges": "edge"}


@dataclass(frozen=True)
class Snapshot:
    event: EventId
    graph: Canonical


def _text(value: Any) -> tuple[str, str]:
    from neptune_emulator.values import data_type, json_value

    kind = data_type(value)
    plain = json_value(value)
    if isinstance(plain, bool):
        text = "true" if plain else "false"
    elif isinstance(plain, float):
        text = repr(plain)
    else:
        text = str(plain)
    return LOADER_NAMES.get(kind, kind), text


def take_snapshot(engine: Engine, model: GraphModel) -> Snapshot | None:
    """The graph and the stream's last event, read in one hold of the engine's lock (None: nothing written yet)."""
    with engine.lock:
        keys = engine.log(model).keys
        if not keys:
            return None
        event = EventId(*keys[-1])
        if model == GraphModel.RDF:
            quads = {(s.subject, s.predicate, s.object, s.graph_or_default()) for s in map(parse_statement, engine.rdf.quads())}
            return Snapshot(event, {"quads": frozenset(quads)})
        vertices = {
            v.id: (frozenset(v.labels), _props({k: list(vals) for k, vals in v.properties.items()}))
            for v in engine.graph.vertices.values()
        }
        edges = {
            e.id: (e.label, e.out_v.id, e.in_v.id, _props({k: [val] for k, val in e.properties.items()}))
            for e in engine.graph.edges.values()
        }
    return Snapshot(event, {"vertices": vertices, "edges": edges})


def _props(properties: dict[str, list[Any]]) -> PropertySet:
    return {k: frozenset(_text(v) for v in values) for k, values in properties.items() if values}


_UNESCAPED_SEMICOLON = re.compile(r"(?<!\\);")


def _split(text: str) -> list[str]:
    return [part.replace("\\;", ";") for part in _UNESCAPED_SEMICOLON.split(text)]


def read_export(out: Path) -> Canonical:
    """The files of an export, read back: every vertex and edge file (rows of one id merged, as the loader
    applies them to one element) or every N-Quads file."""
    quads = {
        (s.subject, s.predicate, s.object, s.graph_or_default())
        for path in sorted(out.glob("*.nq"))
        for s in map(parse_statement, path.read_text(encoding="utf-8").splitlines())
    }
    if quads:
        return {"quads": frozenset(quads)}
    labels: dict[str, set[str]] = defaultdict(set)
    vprops: dict[str, dict[str, set[tuple[str, str]]]] = defaultdict(lambda: defaultdict(set))
    edges: dict[str, tuple[str, str, str]] = {}
    eprops: dict[str, dict[str, set[tuple[str, str]]]] = defaultdict(lambda: defaultdict(set))
    for path in sorted(out.glob("*.csv")):
        rows = iter(csv_rows(path.read_text(encoding="utf-8")))
        header = [h or "" for h in next(rows)]
        columns = [_column(h) for h in header]
        for row in rows:
            cells = {h: c or "" for h, c in zip(header, row, strict=True)}
            element = cells["~id"]
            if "~from" in cells:
                edges[element] = (cells["~label"], cells["~from"], cells["~to"])
                target = eprops[element]
            else:
                labels[element].update(_split(cells["~label"]))
                target = vprops[element]
            for (name, kind, array), cell in zip(columns, row, strict=True):
                if name is None or cell is None:  # a blank field: no value (a quoted "" is an empty string)
                    continue
                target[name].update((kind, v) for v in (_split(cell) if array else [cell]))
    return {
        "vertices": {
            v: (frozenset(labels[v]), {k: frozenset(x) for k, x in vprops[v].items()}) for v in labels.keys() | vprops.keys()
        },
        "edges": {e: (*ends, {k: frozenset(x) for k, x in eprops[e].items()}) for e, ends in edges.items()},
    }


def csv_rows(text: str) -> list[list[str | None]]:
    """RFC 4180 rows, as the format page reads them: a blank field is None, a quoted one its text (`""` an empty
    string; the standard library's reader cannot tell the two apart before Python 3.12)."""
    rows: list[list[str | None]] = []
    row: list[str | None] = []
    i, n = 0, len(text)
    while i < n:
        if text[i] == '"':
            end, parts = i + 1, []
            while True:
                close = text.index('"', end)
                parts.append(text[end:close])
                if text.startswith('""', close):
                    parts.append('"')
                    end = close + 2
                    continue
                i = close + 1
                break
            row.append("".join(parts))
        else:
            stop = min((j for j in (text.find(",", i), text.find("\n", i)) if j != -1), default=n)
            row.append(text[i:stop].strip() or None)
            i = stop
        if i >= n or text[i] == "\n":
            rows.append(row)
            row = []
        i += 1
    return rows


def _column(header: str) -> tuple[str | None, str, bool]:
    if header.startswith("~"):
        return None, "", False
    name, kind = header.rsplit(":", 1)
    array = kind.endswith("[]")
    return name.replace("\\:", ":"), kind.removesuffix("[]"), array


def differences(expected: Canonical, got: Canonical) -> list[str]:
    """The elements that differ (at most a few named)."""
    out: list[str] = []
    for kind in sorted(expected.keys() | got.keys()):
        a, b = expected.get(kind, {}), got.get(kind, {})
        if kind == "quads":
            out += [f"statement only in the graph: {q}" for q in sorted(a - b)]
            out += [f"statement only in the export: {q}" for q in sorted(b - a)]
            continue
        for element in sorted(a.keys() | b.keys()):
            if a.get(element) != b.get(element):
                out.append(f"{NOUNS[kind]} {element}: graph {a.get(element)!r}, export {b.get(element)!r}")
    return out


@dataclass
class AsOfChecks:
    """Snapshots to take while the workload writes (after these counts of changes), and the results."""

    engine: Engine
    model: GraphModel
    at: frozenset[int]
    snapshots: list[Snapshot] = field(default_factory=list)
    mismatches: int = 0
    details: list[str] = field(default_factory=list)

    @classmethod
    def thirds(cls, engine: Engine, model: GraphModel, changes: int) -> AsOfChecks:
        return cls(engine, model, frozenset(n for n in (changes // 3, 2 * changes // 3) if 0 < n < changes))

    def after_step(self, written: int) -> None:
        """Called by the workload between its steps (its own thread): a snapshot at each count asked for."""
        if written in self.at:
            snap = take_snapshot(self.engine, self.model)
            if snap is not None:
                self.snapshots.append(snap)

    def check(self, source: captured.Source, data_dir: Path) -> dict[str, int]:
        """Adds the final snapshot (the graph once capture is done) and checks an export as of each."""
        final = take_snapshot(self.engine, self.model)
        for snap in [*self.snapshots, *([final] if final else [])]:
            out = data_dir / f"as-of-{snap.event.commit_num}-{snap.event.op_num}"
            shutil.rmtree(out, ignore_errors=True)  # a previous run's, in a reused data directory
            # What `neptune-stream export` does: a parallel Scan of the current generation (docs/time-travel.md).
            export(source, Point(commit_num=snap.event.commit_num, op_num=snap.event.op_num), out)
            found = differences(snap.graph, read_export(out))
            self.mismatches += len(found)
            self.details += found[:5]
        return {"points": len(self.snapshots) + (1 if final else 0), "mismatches": self.mismatches}
