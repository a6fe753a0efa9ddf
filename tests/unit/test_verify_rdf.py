"""The RDF content check the demo and chaos end with (verify_rdf.check_rdf), on records built by the capture's own
item code: it passes a faithful capture and names each way an unfaithful one differs."""

from __future__ import annotations

from typing import Any

from neptune_capture import schema
from neptune_capture.contract import GraphModel
from neptune_capture.events import EventId, parse_record
from neptune_capture.items import record_item
from neptune_capture.nquads import parse_statement
from neptune_local.rdf_workload import STREET
from neptune_local.verify_rdf import Quad, check_rdf, summary_line

# A small log: an address (blank node) added, a name added then replaced, the address removed.
LOG = [
    ("ADD", "<http://ex/ana> <http://ex/address> _:n1 .\n"),
    ("ADD", f'_:n1 <{STREET}> "Main" .\n'),
    ("ADD", '<http://ex/ana> <http://ex/name> "Ana"@pt <http://ex/g> .\n'),
    ("REMOVE", '<http://ex/ana> <http://ex/name> "Ana"@pt <http://ex/g> .\n'),
    ("ADD", '<http://ex/ana> <http://ex/name> "Anna"@pt <http://ex/g> .\n'),
    ("REMOVE", f'_:n1 <{STREET}> "Main" .\n'),
]


def stream(log: list[tuple[str, str]]) -> dict[EventId, tuple[str, Quad]]:
    out = {}
    for n, (op, stmt) in enumerate(log, start=1):
        s = parse_statement(stmt)
        out[EventId(n, 1)] = (op, (s.subject, s.predicate, s.object, s.graph_or_default()))
    return out


def records(log: list[tuple[str, str]]) -> dict[EventId, dict[str, Any]]:
    out = {}
    for n, (op, stmt) in enumerate(log, start=1):
        record = {
            "eventId": {"commitNum": n, "opNum": 1},
            "commitTimestamp": 1,
            "op": op,
            "data": {"stmt": stmt},
            "isLastOp": True,
        }
        out[EventId(n, 1)] = record_item(parse_record(record, 0, GraphModel.RDF), "neptune")
    return out


def graph_after(log: list[tuple[str, str]]) -> set[Quad]:
    quads: set[Quad] = set()
    for op, quad in stream(log).values():
        (quads.add if op == "ADD" else quads.discard)(quad)
    return quads


def test_a_faithful_capture_passes() -> None:
    report = check_rdf(records(LOG), stream(LOG), graph_after(LOG), expected_blank_nodes=1)
    assert report.ok, summary_line(report)
    assert (report.records_checked, report.mismatched, report.replay_conflicts, report.blank_nodes) == (6, 0, 0, 1)
    assert "0 differ" in summary_line(report) and "it equals the graph" in summary_line(report)


def test_a_record_that_differs_from_its_statement_fails() -> None:
    captured = records(LOG)
    captured[EventId(5, 1)][schema.OBJECT] = {"S": '"Anna"@en'}
    report = check_rdf(captured, stream(LOG), graph_after(LOG))
    assert not report.ok and report.mismatched == 1


def test_a_missing_record_fails_the_replay() -> None:
    captured = records(LOG)
    del captured[EventId(6, 1)]
    report = check_rdf(captured, stream(LOG), graph_after(LOG))
    assert not report.ok and report.replay_equals_graph is False and "DIFFERS" in summary_line(report)


def test_a_blank_node_renamed_by_the_stream_fails_the_replay() -> None:
    # The REMOVE names another label than the ADD did: replayed, it removes nothing and the old node stays.
    renamed = [*LOG[:5], ("REMOVE", f'_:other <{STREET}> "Main" .\n')]
    report = check_rdf(records(renamed), stream(renamed), graph_after(LOG))
    assert not report.ok and report.replay_conflicts == 1


def test_fewer_blank_nodes_than_address_inserts_fails() -> None:
    report = check_rdf(records(LOG), stream(LOG), graph_after(LOG), expected_blank_nodes=2)
    assert not report.ok and report.blank_nodes == 1 and "1 address blank nodes for 2 inserts" in summary_line(report)


def test_a_truncated_literal_is_held_to_its_size_and_hash() -> None:
    log = [("ADD", '<http://ex/blob> <http://ex/data> "' + "é" * 300_000 + '" .\n')]
    captured = records(log)
    assert check_rdf(captured, stream(log), graph_after(log)).ok
    captured[EventId(1, 1)]["valueSha256"] = {"S": "0" * 64}
    assert check_rdf(captured, stream(log), graph_after(log)).mismatched == 1


def test_after_retention_only_what_the_stream_still_holds_is_compared() -> None:
    later = dict(list(stream(LOG).items())[3:])
    report = check_rdf(records(LOG), later, None, trimmed_through=EventId(3, 1))
    assert report.ok and report.replay_equals_graph is None and "not checked (retention)" in summary_line(report)
