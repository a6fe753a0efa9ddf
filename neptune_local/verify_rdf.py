"""What an RDF capture must hold beyond exactly once (verify.py): each record is the statement the stream
carried, and the captured log, replayed in stream order, is the graph Neptune holds.

Blank nodes have no name outside the database: a label in INSERT DATA names a new node for that request only,
and the stream names each node by a label of the database's own (the user guide does not say how Neptune
forms it; the emulator uses rdflib's, which stay the same for a node's whole life). So a blank node is
matched by that label: replaying the records works only if every record names a node as the records before
it did (a REMOVE of an address must name the node its ADD named), and the workload's address inserts must
have given as many distinct nodes as there were inserts."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from neptune_capture import schema
from neptune_capture.events import EventId
from neptune_capture.nquads import parse_statement
from neptune_capture.schema import RecordAttr as R
from neptune_capture.schema import TableNames
from neptune_local.rdf_workload import STREET

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

    from neptune_emulator.engine import Engine

Quad = tuple[str, str, str, str]


@dataclass
class RdfVerification:
    records_checked: int
    mismatched: int  # records whose op or terms differ from the stream's statement
    replay_conflicts: int  # an ADD of a quad already there, or a REMOVE of one that is not (0 when not replayed)
    replay_equals_graph: bool | None  # None: the stream no longer starts at the first change (retention)
    blank_nodes: int | None = None  # distinct address nodes the captured ADDs name
    expected_blank_nodes: int | None = None  # address inserts the workload made

    @property
    def ok(self) -> bool:
        return (
            self.mismatched == 0
            and self.replay_conflicts == 0
            and self.replay_equals_graph is not False
            and self.blank_nodes == self.expected_blank_nodes
        )

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def stream_statements(engine: Engine) -> dict[EventId, tuple[str, Quad]]:
    """Each event of the emulator's SPARQL stream: its op and its quad (the graph filled in for a triple)."""
    out: dict[EventId, tuple[str, Quad]] = {}
    with engine.lock:
        bodies = list(engine.sparql_stream.bodies)
    for body in bodies:
        record = json.loads(body)
        statement = parse_statement(record["data"]["stmt"])
        event = EventId(record["eventId"]["commitNum"], record["eventId"]["opNum"])
        out[event] = (
            record["op"],
            (statement.subject, statement.predicate, statement.object, statement.graph_or_default()),
        )
    return out


def graph_quads(engine: Engine) -> set[Quad]:
    with engine.lock:
        statements = list(engine.rdf.quads())
    return {(s.subject, s.predicate, s.object, s.graph_or_default()) for s in map(parse_statement, statements)}


def captured(client: DynamoDBClient, table: str, generation: int = 0) -> dict[EventId, dict[str, Any]]:
    """The records of one capture generation (the graph now is the replay of the current one alone)."""
    paginator = client.get_paginator("scan")
    items: dict[EventId, dict[str, Any]] = {}
    for page in paginator.paginate(TableName=table, ConsistentRead=True):
        for item in page.get("Items", []):
            g, commit, op = schema.record_generation_and_event(item)
            if g == generation:
                items[EventId(commit, op)] = item
    return items


def verify_rdf(
    client: DynamoDBClient,
    tables: TableNames,
    engine: Engine,
    *,
    expected_blank_nodes: int | None = None,
    generation: int = 0,
) -> RdfVerification:
    trimmed = engine.sparql_stream.trimmed_through
    return check_rdf(
        captured(client, tables.records, generation),
        stream_statements(engine),
        graph_quads(engine) if trimmed is None else None,
        expected_blank_nodes,
        trimmed_through=EventId(*trimmed) if trimmed else None,
    )


def check_rdf(
    records: dict[EventId, dict[str, Any]],
    stream: dict[EventId, tuple[str, Quad]],
    graph: set[Quad] | None,
    expected_blank_nodes: int | None = None,
    *,
    trimmed_through: EventId | None = None,
) -> RdfVerification:
    """`graph`: the quads the database holds now, when the stream still holds every change (else None). Records
    up to `trimmed_through` were captured before retention removed their events: nothing is left to hold them to."""
    mismatched = 0
    for event, item in records.items():
        if trimmed_through is not None and event <= trimmed_through:
            continue
        if event not in stream or not _same(item, *stream[event]):
            mismatched += 1
    # Replayed only from the first change on: after retention, a REMOVE may undo an ADD no longer in the stream.
    replayed, conflicts = _replay(stream[e] for e in sorted(stream) if e in records) if graph is not None else (set(), 0)
    nodes = None
    if expected_blank_nodes is not None:
        nodes = len(
            {
                item[schema.SUBJECT]["S"]
                for item in records.values()
                if item[R.OP]["S"] == "ADD" and item[schema.PREDICATE]["S"] == f"<{STREET}>"
            }
        )
    return RdfVerification(
        records_checked=len(records),
        mismatched=mismatched,
        replay_conflicts=conflicts,
        replay_equals_graph=None if graph is None else replayed == graph and len(records) == len(stream),
        blank_nodes=nodes,
        expected_blank_nodes=expected_blank_nodes,
    )


def _same(item: dict[str, Any], op: str, quad: Quad) -> bool:
    stored = tuple(item[k]["S"] for k in (schema.SUBJECT, schema.PREDICATE, schema.OBJECT, schema.GRAPH))
    if item.get(R.TRUNCATED, {}).get("BOOL"):
        # The object was too large to store whole: its prefix, size and hash stand for it.
        raw = quad[2].encode()
        whole = hashlib.sha256(raw).hexdigest() == item[R.VALUE_SHA256]["S"] and int(item[R.ORIGINAL_VALUE_BYTES]["N"]) == len(
            raw
        )
        return item[R.OP]["S"] == op and whole and stored[2] == raw[: len(stored[2].encode())].decode(errors="ignore")
    return item[R.OP]["S"] == op and stored == quad


def _replay(changes: Iterable[tuple[str, Quad]]) -> tuple[set[Quad], int]:
    """The quads a log of changes leaves from an empty graph, and how many changes did not apply cleanly."""
    quads: set[Quad] = set()
    conflicts = 0
    for op, quad in changes:
        if op == "ADD":
            conflicts += quad in quads
            quads.add(quad)
        else:
            conflicts += quad not in quads
            quads.discard(quad)
    return quads, conflicts


def summary_line(report: RdfVerification) -> str:
    nodes = (
        f"; {report.blank_nodes} address blank nodes for {report.expected_blank_nodes} inserts"
        if report.expected_blank_nodes is not None
        else ""
    )
    replay = {True: "equals the graph", False: "DIFFERS from the graph", None: "not checked (retention)"}[
        report.replay_equals_graph
    ]
    return (
        f"RDF content: {report.records_checked:,} records, {report.mismatched} differ from the stream's statements; "
        f"replayed in order ({report.replay_conflicts} conflicts) it {replay}{nodes}"
    )


__all__: Sequence[str] = ["RdfVerification", "check_rdf", "summary_line", "verify_rdf"]
