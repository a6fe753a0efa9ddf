"""The emulator's RDF side driven as users drive Neptune's: SPARQL 1.1 Update and Query POSTed form-encoded to
/sparql, the stream read back through boto3's neptunedata get_sparql_stream, and read by the capture's parser."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from neptune_capture.contract import GraphModel
from neptune_capture.errors import MalformedPageError
from neptune_capture.events import parse_page
from neptune_capture.nquads import NEPTUNE_DEFAULT_GRAPH
from neptune_capture.stream_source import to_documented_shape
from neptune_emulator.engine import Engine
from neptune_emulator.server import EmulatorServer, set_faults
from tests.emulator.conftest import Clock

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`

FIXTURE = json.loads((Path(__file__).parent.parent / "fixtures" / "sparql_stream_response.json").read_text())
EX = "PREFIX ex: <http://example.org/> PREFIX xsd: <http://www.w3.org/2001/XMLSchema#> "
DEFAULT = f"<{NEPTUNE_DEFAULT_GRAPH}>"


def post(emulator: EmulatorServer, field: str, text: str, accept: str | None = None) -> tuple[int, str, bytes]:
    request = urllib.request.Request(
        f"{emulator.endpoint}/sparql",
        data=urllib.parse.urlencode({field: text}).encode(),
        headers={"Accept": accept} if accept else {},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.headers.get("Content-Type", ""), response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Content-Type", ""), error.read()


def update(emulator: EmulatorServer, text: str) -> None:
    status, _, body = post(emulator, "update", EX + text)
    assert status == 200, body


def select(emulator: EmulatorServer, text: str) -> list[dict[str, Any]]:
    status, media, body = post(emulator, "query", EX + text)
    assert status == 200 and media.startswith("application/sparql-results+json"), (status, media, body)
    bindings: list[dict[str, Any]] = json.loads(body)["results"]["bindings"]
    return bindings


def records(neptune: Any) -> list[tuple[int, int, str, str]]:
    page = neptune.get_sparql_stream(limit=100_000, iteratorType="TRIM_HORIZON")
    return [(r["eventId"]["commitNum"], r["eventId"]["opNum"], r["op"], r["data"]["stmt"]) for r in page["records"]]


def test_the_documented_sparql_page_is_reproduced_field_for_field(emulator: EmulatorServer, neptune: Any) -> None:
    # The update of https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-sparql-http-rest.html, read
    # as https://docs.aws.amazon.com/neptune/latest/userguide/streams-examples.html reads its change log.
    status, _, _ = post(emulator, "update", "INSERT DATA { <https://test.com/s> <https://test.com/p> <https://test.com/o> . }")
    assert status == 200
    page = neptune.get_sparql_stream(limit=1, commitNum=1, opNum=1, iteratorType="AT_SEQUENCE_NUMBER")
    (ours,), (theirs,) = page["records"], FIXTURE["records"]
    assert ours["eventId"] == theirs["eventId"] and ours["data"] == theirs["data"]
    assert ours["op"] == theirs["op"] and ours["isLastOp"] is theirs["isLastOp"] is True
    assert isinstance(ours["commitTimestampInMillis"], int)
    assert page["lastEventId"] == FIXTURE["lastEventId"] and page["format"] == FIXTURE["format"] == "NQUADS"
    assert page["totalRecords"] == FIXTURE["totalRecords"]
    # What the handler reads from it: the triple, in Neptune's default named graph.
    (event,) = parse_page(to_documented_shape(dict(page)), None, GraphModel.RDF).events
    assert event.statement is not None and event.statement.graph_or_default() == DEFAULT


def test_each_update_is_one_transaction_of_its_changes_as_a_diff(emulator: EmulatorServer, neptune: Any) -> None:
    update(emulator, 'INSERT DATA { ex:ana ex:age 31 ; ex:name "Ana"@pt . GRAPH ex:g { ex:ana ex:knows ex:bob } }')
    update(emulator, 'INSERT DATA { ex:ana ex:name "Ana"@pt }')  # there already: no change, no transaction
    update(emulator, "DELETE { ?s ex:age ?a } INSERT { ?s ex:age ?b } WHERE { ?s ex:age ?a BIND(?a + 1 AS ?b) }")
    update(emulator, 'INSERT DATA { ex:x ex:y "z" } ; DELETE DATA { ex:x ex:y "z" }')  # in and out: nothing
    update(emulator, "DELETE WHERE { GRAPH ex:g { ?s ?p ?o } }")
    got = records(neptune)
    assert [(c, o, op) for c, o, op, _ in got] == [
        (1, 1, "ADD"),
        (1, 2, "ADD"),
        (1, 3, "ADD"),
        (2, 1, "REMOVE"),
        (2, 2, "ADD"),
        (3, 1, "REMOVE"),
    ]
    statements = {stmt for *_, stmt in got}
    assert '<http://example.org/ana> <http://example.org/name> "Ana"@pt .\n' in statements
    assert "<http://example.org/ana> <http://example.org/knows> <http://example.org/bob> <http://example.org/g> .\n" in statements
    assert got[4][3] == '<http://example.org/ana> <http://example.org/age> "32"^^<http://www.w3.org/2001/XMLSchema#integer> .\n'
    page = neptune.get_sparql_stream(limit=100, iteratorType="TRIM_HORIZON")
    assert [r["eventId"]["opNum"] for r in page["records"] if r.get("isLastOp")] == [3, 2, 1]


def test_queries_see_every_graph_as_neptune_s_default_graph(emulator: EmulatorServer) -> None:
    update(emulator, 'INSERT DATA { ex:ana ex:name "Ana" . GRAPH ex:g { ex:ana ex:name "Ana" . ex:bob ex:name "Bob" } }')
    names = sorted(b["n"]["value"] for b in select(emulator, "SELECT ?n WHERE { ?s ex:name ?n }"))
    assert names == ["Ana", "Bob"], "the union of all graphs, a triple in two graphs once"
    graphs = sorted(b["g"]["value"] for b in select(emulator, "SELECT DISTINCT ?g WHERE { GRAPH ?g { ?s ?p ?o } }"))
    assert graphs == sorted(["http://example.org/g", NEPTUNE_DEFAULT_GRAPH]), "the default named graph is a named graph"
    status, media, body = post(emulator, "query", EX + "CONSTRUCT { ?s ex:name ?n } WHERE { ?s ex:name ?n }")
    assert status == 200 and media.startswith("application/n-quads") and body.count(b"\n") == 2
    status, media, body = post(emulator, "query", EX + "ASK { ex:bob ex:name ?n }", accept="application/sparql-results+xml")
    assert status == 200 and media.startswith("application/sparql-results+xml") and b"<boolean>true</boolean>" in body


def test_query_hints_change_no_answer(emulator: EmulatorServer) -> None:
    # "Query hints are semantics preserving" (https://docs.aws.amazon.com/neptune/latest/userguide/sparql-query-hints.html).
    update(emulator, 'INSERT DATA { ex:ana ex:name "Ana" . ex:bob ex:name "Bob" }')
    hint = "PREFIX hint: <http://aws.amazon.com/neptune/vocab/v01/QueryHints#> "
    plain = select(emulator, "SELECT ?n WHERE { ?s ex:name ?n } ORDER BY ?n")
    hinted = select(emulator, hint + 'SELECT ?n WHERE { hint:Query hint:joinOrder "Ordered" . ?s ex:name ?n } ORDER BY ?n')
    assert hinted == plain and len(plain) == 2
    where = 'hint:Query hint:joinOrder "Ordered" . ?s ex:name "Bob" ; ex:name ?n'
    update(emulator, hint + f"DELETE {{ ?s ex:name ?n }} WHERE {{ {where} }}")
    assert select(emulator, "SELECT ?n WHERE { ?s ex:name ?n }") == [{"n": {"type": "literal", "value": "Ana"}}]


def test_a_blank_node_label_names_a_new_node_in_each_request(emulator: EmulatorServer, neptune: Any) -> None:
    for street in ("Main", "Side"):
        update(emulator, f'INSERT DATA {{ ex:ana ex:address _:home . _:home ex:street "{street}" }}')
    got = [stmt for *_, stmt in records(neptune)]
    homes = {s.split()[0] for s in got if "street" in s}
    assert len(homes) == 2 and all(h.startswith("_:") for h in homes)
    update(emulator, "DELETE WHERE { ex:ana ex:address ?h . ?h ex:street ?s }")
    removed = {stmt for _, _, op, stmt in records(neptune) if op == "REMOVE"}
    assert removed == set(got), "the REMOVEs name each node as its ADDs did"


def test_refused_requests_answer_neptune_s_error_and_change_nothing(emulator: EmulatorServer, neptune: Any) -> None:
    update(emulator, "INSERT DATA { ex:a ex:b ex:c }")
    for field, text, code in [
        ("update", EX + "INSERT DATA { ex:a ex:b", "MalformedQueryException"),
        ("update", EX + "INSERT DATA { ex:x ex:y ex:z } ; LOAD <http://example.org/data.ttl>", "UnsupportedOperationException"),
        ("update", EX + "DELETE DATA { _:b ex:b ex:c }", "MalformedQueryException"),
        ("query", "SELECT * WHERE { SERVICE <http://remote.test/sparql> { ?s ?p ?o } }", "UnsupportedOperationException"),
    ]:
        status, _, body = post(emulator, field, text)
        assert status == 400 and json.loads(body)["code"] == code, body
    assert len(records(neptune)) == 1, "the update refused half-way left nothing behind"
    status, _, body = post(emulator, "nothing", "x")
    assert status == 400 and json.loads(body)["code"] == "MissingParameterException"


def test_the_sparql_stream_keeps_the_property_graph_stream_s_rules(emulator: EmulatorServer, neptune: Any, clock: Clock) -> None:
    update(emulator, "INSERT DATA { ex:a ex:b ex:c }")
    with pytest.raises(ClientError) as future:
        neptune.get_sparql_stream(iteratorType="AFTER_SEQUENCE_NUMBER", commitNum=1, opNum=1)
    assert future.value.response["Error"]["Code"] == "StreamRecordsNotFoundException"
    assert "Last valid eventId is [commitNum = 1, opNum = 1]" in future.value.response["Error"]["Message"]
    with pytest.raises(urllib.error.HTTPError) as bad:  # boto3 refuses to send it: ask over HTTP
        urllib.request.urlopen(f"{emulator.endpoint}/sparql/stream?iteratorType=TRIM_HORIZON&limit=0", timeout=30)
    assert bad.value.code == 400 and json.loads(bad.value.read())["code"] == "InvalidParameterException"
    clock.t += 61  # past the emulator's 60 s retention
    update(emulator, "INSERT DATA { ex:d ex:e ex:f }")
    with pytest.raises(ClientError) as expired:
        neptune.get_sparql_stream(iteratorType="AT_SEQUENCE_NUMBER", commitNum=1, opNum=1)
    assert expired.value.response["Error"]["Code"] == "ExpiredStreamException"
    assert [c for c, *_ in records(neptune)] == [2]
    # The property graph's stream holds none of it: each model has its own.
    with pytest.raises(ClientError) as empty:
        neptune.get_propertygraph_stream(iteratorType="TRIM_HORIZON")
    assert empty.value.response["Error"]["Code"] == "StreamRecordsNotFoundException"


def test_a_damaged_nquads_page_is_refused_naming_the_event(emulator: EmulatorServer, neptune: Any) -> None:
    update(emulator, "INSERT DATA { ex:a ex:b ex:c . ex:a ex:b ex:d . ex:a ex:b ex:e }")
    set_faults(emulator.endpoint, "malformed", rate=1.0, seed=3, limit=20)
    refused = 0
    for _ in range(20):
        try:
            page = neptune.get_sparql_stream(limit=10, iteratorType="TRIM_HORIZON")
        except Exception:  # a page cut short does not parse at all
            refused += 1
            continue
        with pytest.raises(MalformedPageError, match=r"event 1/\d: (data.stmt|out of order)|no records list"):
            parse_page(to_documented_shape(dict(page)), None, GraphModel.RDF)
        refused += 1
    assert refused == 20 == emulator.engine.faults.injected


def test_the_rdf_graph_and_its_stream_survive_a_restart_term_for_term(tmp_path: Path) -> None:
    path = str(tmp_path / "graph.db")
    with EmulatorServer(Engine(path)) as first:
        update(
            first, 'INSERT DATA { ex:a ex:b "c"@en ; ex:at "2018-04-13T08:30:00Z"^^xsd:dateTime . GRAPH ex:g { ex:a ex:b _:n } }'
        )
        added = {json.loads(b)["data"]["stmt"] for b in first.engine.sparql_stream.bodies}
    with EmulatorServer(Engine(path)) as second:
        assert len(second.engine.rdf.dataset) == 3
        assert [b["o"]["type"] for b in select(second, "SELECT ?o WHERE { GRAPH ex:g { ex:a ex:b ?o } }")] == ["bnode"]
        update(second, "DELETE WHERE { ex:a ?p ?o } ; DELETE WHERE { GRAPH ex:g { ex:a ex:b ?o } }")
        assert second.engine.sparql_stream.keys == [(1, 1), (1, 2), (1, 3), (2, 1), (2, 2), (2, 3)]
        removed = {json.loads(b)["data"]["stmt"] for b in second.engine.sparql_stream.bodies[3:]}
        # The REMOVEs name every term as the ADDs did: the blank node's label, the dateTime's "Z" (rdflib's own
        # N-Quads parser, reloading, would have renamed the one and rewritten the other as "+00:00").
        assert removed == added
