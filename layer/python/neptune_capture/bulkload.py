"""Folded element state (asof) written in Neptune's bulk-load formats. Pure: text in, text out.

Property graph: the Gremlin load data format
(https://docs.aws.amazon.com/neptune/latest/userguide/bulk-load-tutorial-format-gremlin.html), CSV per RFC 4180,
vertices and edges in separate files, each with its own header: `~id`, `~label` (a vertex's labels separated by
`;`), `~from`, `~to`, and a column per property, `name:Type`. A vertex property with more than one value in a file
gets an array column, `name:Type[]` (the page: set cardinality, multi-valued), its values separated by `;`, a `;`
inside a string escaped as `\\;`; an edge property always has one value (edges accept no arrays). A colon in a
property name is escaped as `\\:`; a name with a space, comma, CR or LF cannot be a column (the page forbids
them) and is reported, not written. A blank field is left empty (no quotes: `""` would load an empty string).

A property name with values of two types in one file cannot share one column: the second type's values go to a
second file of the same kind, whose rows name the same ids ("Multiple vertex rows with identical ~id values are
applied to a single vertex", and likewise for edges, on the same page).

RDF: N-Quads (https://docs.aws.amazon.com/neptune/latest/userguide/bulk-load-tutorial-format-rdf.html), one
statement a line as the stream carried it, always with its graph: a statement of Neptune's default named graph
names it (http://aws.amazon.com/neptune/vocab/v01/DefaultNamedGraph,
https://docs.aws.amazon.com/neptune/latest/userguide/sparql-default-describe.html), so it loads there whatever
the load's `namedGraphUri` (the graph the loader gives an N-Quads line without one, whose default the loader page,
https://docs.aws.amazon.com/neptune/latest/userguide/load-api-reference-load.html, spells with http and the Data
API's StartLoaderJob, https://docs.aws.amazon.com/neptune/latest/data-api/API_StartLoaderJob.html, with https)."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from .asof import Edge, Quad, Value, Vertex

# PG_JSON dataType names (as neptune_emulator.values documents them) -> the loader's type names.
LOADER_TYPES = {
    "String": "String",
    "Boolean": "Bool",
    "Byte": "Byte",
    "Short": "Short",
    "Integer": "Int",
    "Long": "Long",
    "Float": "Float",
    "Double": "Double",
    "Date": "Date",
}
_FORBIDDEN_IN_NAME = (" ", ",", "\r", "\n")


def loader_type(data_type: str) -> str:
    """The loader's type for a dataType; one it does not name is written as a String."""
    return LOADER_TYPES.get(data_type, "String")


def field_text(value: Value) -> str:
    """A value as a CSV field holds it: a string as it is; a number, boolean or date as the JSON text the record
    stored, unquoted (a Date's ISO 8601 instant, NaN and Infinity as Java spells them)."""
    if value.data_type == "String":
        return value.text
    try:
        parsed: Any = json.loads(value.text)
    except ValueError:
        return value.text
    if isinstance(parsed, bool):
        return "true" if parsed else "false"
    if isinstance(parsed, float) and not math.isfinite(parsed):
        return "NaN" if math.isnan(parsed) else ("Infinity" if parsed > 0 else "-Infinity")
    if isinstance(parsed, str):
        return parsed
    return json.dumps(parsed)


def column_name(name: str) -> str | None:
    """A property name as a header writes it, or None when the format cannot name it."""
    if any(c in name for c in _FORBIDDEN_IN_NAME) or not name:
        return None
    return name.replace(":", "\\:")


def quoted(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def array_part(text: str) -> str:
    return text.replace(";", "\\;")


@dataclass
class Skipped:
    """What a file could not hold: property names no column can have, values stored truncated, and a second
    value of an edge property."""

    names: dict[str, int] = field(default_factory=dict)
    truncated: int = 0
    extra_edge_values: int = 0

    def merge(self, other: Skipped) -> None:
        for name, n in other.names.items():
            self.names[name] = self.names.get(name, 0) + n
        self.truncated += other.truncated
        self.extra_edge_values += other.extra_edge_values

    @property
    def total(self) -> int:
        return sum(self.names.values()) + self.truncated + self.extra_edge_values

    def as_dict(self) -> dict[str, Any]:
        return {"unnamedProperties": self.names, "truncatedValues": self.truncated, "extraEdgeValues": self.extra_edge_values}


Row = tuple[list[str], dict[tuple[str, str], list[str]]]  # system fields, (column name, loader type) -> values


def _property_fields(properties: dict[str, list[Value]], skipped: Skipped, *, single: bool) -> dict[tuple[str, str], list[str]]:
    out: dict[tuple[str, str], list[str]] = {}
    for name, values in properties.items():
        column = column_name(name)
        if column is None:
            skipped.names[name] = skipped.names.get(name, 0) + len(values)
            continue
        for value in values:
            if value.truncated:
                skipped.truncated += 1
                continue
            cell = out.setdefault((column, loader_type(value.data_type)), [])
            if single and cell:
                skipped.extra_edge_values += 1
                continue
            cell.append(field_text(value))
    return out


def vertex_row(vertex: Vertex, skipped: Skipped) -> Row:
    return [vertex.id, ";".join(array_part(label) for label in vertex.labels)], _property_fields(
        vertex.properties, skipped, single=False
    )


def edge_row(edge: Edge, skipped: Skipped) -> Row:
    assert edge.label is not None and edge.from_id is not None and edge.to_id is not None
    return [edge.id, edge.from_id, edge.to_id, edge.label], _property_fields(edge.properties, skipped, single=True)


VERTEX_SYSTEM = ("~id", "~label")
EDGE_SYSTEM = ("~id", "~from", "~to", "~label")


def csv_files(rows: Sequence[Row], system: Sequence[str], *, arrays: bool) -> list[str]:
    """The rows as one or more CSV texts (more when a property name has values of two types): each a header line,
    then a line per row that has a field in it."""
    layers: list[dict[str, str]] = []  # per file: column name -> its type
    placed: list[list[tuple[int, dict[tuple[str, str], list[str]]]]] = []
    for index, (_, properties) in enumerate(rows):
        by_layer: dict[int, dict[tuple[str, str], list[str]]] = {}
        for column, values in properties.items():
            name, kind = column
            layer = next((i for i, types in enumerate(layers) if types.get(name, kind) == kind), None)
            if layer is None:
                layers.append({})
                placed.append([])
                layer = len(layers) - 1
            layers[layer][name] = kind
            by_layer.setdefault(layer, {})[column] = values
        for layer, columns in by_layer.items():
            placed[layer].append((index, columns))
        if not by_layer:  # a row without properties still goes in the first file
            if not layers:
                layers.append({})
                placed.append([])
            placed[0].append((index, {}))
    texts = []
    for types, entries in zip(layers, placed, strict=True):
        multi = {name for _, columns in entries for (name, _kind), values in columns.items() if arrays and len(values) > 1}
        names = sorted(types)
        header = [*system, *(f"{n}:{types[n]}{'[]' if n in multi else ''}" for n in names)]
        lines = [",".join(header)]
        for index, columns in entries:
            # Every row of an id carries its labels (and an edge's ends): a blank ~label could be read as none.
            cells = [quoted(f) for f in rows[index][0]]
            for n in names:
                values = columns.get((n, types[n]), [])
                if not values:
                    cells.append("")
                elif n in multi:
                    cells.append(quoted(";".join(array_part(v) for v in values)))
                else:
                    cells.append(quoted(values[0]))
            lines.append(",".join(cells))
        texts.append("\n".join(lines) + "\n")
    return texts


def nquads_line(quad: Quad) -> str:
    subject, predicate, obj, graph = quad
    return f"{subject} {predicate} {obj} {graph} .\n"


def nquads_lines(quads: Iterable[Quad], skipped: Skipped) -> list[str]:
    lines = []
    for quad in quads:
        if quad[2].startswith("sha256:"):  # an object stored truncated: known by its hash only
            skipped.truncated += 1
            continue
        lines.append(nquads_line(quad))
    return lines


__all__ = [
    "EDGE_SYSTEM",
    "VERTEX_SYSTEM",
    "Skipped",
    "csv_files",
    "edge_row",
    "field_text",
    "loader_type",
    "nquads_line",
    "nquads_lines",
    "vertex_row",
]
