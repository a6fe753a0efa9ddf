"""The RDF capture path without servers: the N-Quads statement parser held to rdflib's reading and to the
grammar's edge cases, NQUADS pages validated like PG_JSON ones, quad items, and the graph model's setting."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rdflib import BNode, Dataset, Literal, URIRef

from neptune_capture import schema
from neptune_capture.contract import GraphModel
from neptune_capture.errors import MalformedPageError
from neptune_capture.events import EventId, parse_page
from neptune_capture.items import MAX_ITEM_BYTES, MAX_VALUE_BYTES, item_size, record_item
from neptune_capture.nquads import NEPTUNE_DEFAULT_GRAPH, StatementError, parse_statement, term_value
from neptune_capture.schema import TableNames
from neptune_capture.settings import Env, HandlerSettings, parse_graph_model

FIXTURE: dict[str, Any] = json.loads((Path(__file__).parent.parent / "fixtures" / "sparql_stream_response.json").read_text())
DEFAULT = f"<{NEPTUNE_DEFAULT_GRAPH}>"


# -- the statement parser
@pytest.mark.parametrize(
    ("text", "terms"),
    [
        (FIXTURE["records"][0]["data"]["stmt"], ("<https://test.com/s>", "<https://test.com/p>", "<https://test.com/o>", None)),
        ('_:b0 <http://p> "caf\\u00E9"@fr-CA <http://g> .\n', ("_:b0", "<http://p>", '"caf\\u00E9"@fr-CA', "<http://g>")),
        (
            '<http://s><http://p>"1"^^<http://www.w3.org/2001/XMLSchema#int>.',
            ("<http://s>", "<http://p>", '"1"^^<http://www.w3.org/2001/XMLSchema#int>', None),
        ),
        ("\t<urn:a>  <urn:b>\t_:x.y _:g . # a comment\r\n", ("<urn:a>", "<urn:b>", "_:x.y", "_:g")),
        (
            '<http://s> <http://p> "a \\"quoted\\" \\\\ \\n line" .',
            ("<http://s>", "<http://p>", '"a \\"quoted\\" \\\\ \\n line"', None),
        ),
        ('<http://s> <http://p> "" .', ("<http://s>", "<http://p>", '""', None)),
    ],
)
def test_a_statement_is_read_into_its_four_terms_as_written(text: str, terms: tuple[str, ...]) -> None:
    statement = parse_statement(text)
    assert (statement.subject, statement.predicate, statement.object, statement.graph) == terms


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("<http://s> <http://p> <http://o>", "not one N-Quads statement"),  # no final dot
        ('"s" <http://p> <http://o> .', "not one N-Quads statement"),  # a literal subject
        ("<http://s> _:p <http://o> .", "not one N-Quads statement"),  # a blank node predicate
        ('<http://s> <http://p> "o" "g" .', "not one N-Quads statement"),  # a literal graph
        ("<http://s> <http://p> <http://o> . <http://s> <http://p> <http://o> .", "not one N-Quads statement"),
        ("<http://s> <http://p> <http://o> .\n<http://s> <http://p> <http://o> .\n", "not one N-Quads statement"),
        ('<http://s> <http://p> "o"@ .', "not one N-Quads statement"),  # an empty language tag
        ('<http://s> <http://p> "o"^^"t" .', "not one N-Quads statement"),
        ("<http://s p> <http://p> <http://o> .", "not one N-Quads statement"),  # a space in an IRI
        ("<http://s> <http://p> _:-b .", "not one N-Quads statement"),  # a label may not begin with '-'
        ('<http://s> <http://p> "a\nb" .', "not one N-Quads statement"),  # a raw line break in a literal
        ('<http://s> <http://p> "\\q" .', "not one N-Quads statement"),  # an unknown escape
        ("<relative> <http://p> <http://o> .", "not an absolute IRI"),
        ("<http://s\\u0020x> <http://p> <http://o> .", "may not, even escaped"),
        ('<http://s> <http://p> "\\U00110000" .', "not a Unicode scalar value"),
        ("", "not one N-Quads statement"),
    ],
)
def test_anything_else_is_refused_saying_why(text: str, problem: str) -> None:
    with pytest.raises(StatementError, match=problem):
        parse_statement(text)


def test_an_iri_subject_is_keyed_by_its_text_a_blank_node_by_its_label() -> None:
    assert parse_statement("<http://a/caf\\u00E9> <http://p> <http://o> .").subject_key == "http://a/café"
    assert parse_statement("_:node1 <http://p> <http://o> .").subject_key == "_:node1"
    assert term_value('"x"@en') == '"x"@en'


# Terms rdflib itself builds and writes; the parser must read back exactly what rdflib does.
_iris = st.builds(lambda path: URIRef("http://example.org/" + path), st.from_regex(r"[A-Za-z0-9._~/é中\-]{0,12}", fullmatch=True))
_bnodes = st.builds(BNode, st.from_regex(r"[A-Za-z][A-Za-z0-9_]{0,8}", fullmatch=True))
_literals = st.one_of(
    st.builds(Literal, st.text(max_size=20)),  # any text but lone surrogates, which no RDF string holds
    st.builds(
        lambda t, lang: Literal(t, lang=lang), st.text(max_size=10), st.sampled_from(["en", "fr-CA", "pt-BR", "zh-Hant-TW"])
    ),
    st.builds(Literal, st.integers()),
    st.builds(Literal, st.floats(allow_nan=False, allow_infinity=False)),
    st.builds(Literal, st.booleans()),
)


@settings(max_examples=300, deadline=None)
@given(
    subject=st.one_of(_iris, _bnodes),
    predicate=_iris,
    obj=st.one_of(_iris, _bnodes, _literals),
    graph=st.one_of(st.none(), _iris, _bnodes),
)
def test_the_parser_reads_what_rdflib_writes_as_rdflib_reads_it(subject: Any, predicate: Any, obj: Any, graph: Any) -> None:
    dataset = Dataset()
    target = dataset.graph(graph) if graph is not None else dataset.default_graph
    target.add((subject, predicate, obj))
    text = dataset.serialize(format="nquads")
    # Only \n ends an N-Quads line (str.splitlines would also cut at \x1e and the like, legal in a literal).
    (line,) = [line + "\n" for line in text.split("\n") if line.strip()]
    ours = parse_statement(line)
    # rdflib's reading of the same line, blank node labels kept as written.
    theirs = Dataset()
    theirs.parse(data=line, format="nquads", skolemize=False, bnode_context=_Labels())
    ((s, p, o, g),) = [(s, p, o, c) for s, p, o, c in theirs.quads((None, None, None, None))]
    assert ours.subject == s.n3() and ours.predicate == p.n3()
    assert term_value(ours.subject) == (f"_:{s}" if isinstance(s, BNode) else str(s))
    if isinstance(o, Literal):
        parsed_back = Dataset().parse(data=f"<urn:s> <urn:p> {ours.object} .", format="nquads")
        assert next(iter(parsed_back.triples((None, None, None))))[2] == o
    else:
        assert ours.object == o.n3()
    if graph is None:
        assert ours.graph is None and ours.graph_or_default() == DEFAULT
    else:
        assert g is not None and ours.graph == (g.identifier if hasattr(g, "identifier") else g).n3()


class _Labels(dict[str, BNode]):
    """rdflib's bnode_context: a label maps to a node of that same label, so both readings can be compared."""

    def get(self, key: str, default: Any = None) -> BNode:
        return BNode(key)


# -- NQUADS pages
def test_the_documented_sparql_page_parses_field_for_field() -> None:
    page = parse_page(FIXTURE, None, GraphModel.RDF)
    (event,) = page.events
    assert event.event_id == EventId(1, 1) and event.op == "ADD" and event.is_last_op
    assert event.commit_timestamp == 1571252030566 == page.last_trx_timestamp
    assert event.element_id == "https://test.com/s" and event.type == "iri"
    assert event.statement is not None and event.statement.graph is None and event.statement.graph_or_default() == DEFAULT


def _broken(mutate: Any) -> dict[str, Any]:
    body = copy.deepcopy(FIXTURE)
    mutate(body)
    return body


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: b["records"][0]["data"].pop("stmt"), r"event 1/1: data.stmt must be a non-empty string"),
        (
            lambda b: b["records"][0]["data"].update(stmt="<https://test.com/s> <https://test.com/p> ."),
            r"event 1/1: data.stmt is not one N-Quads statement",
        ),
        (lambda b: b["records"][0]["data"].update(stmt=42), r"event 1/1: data.stmt must be a non-empty string"),
        (lambda b: b["records"][0].update(op="UPSERT"), r"event 1/1: op must be ADD or REMOVE"),
        (lambda b: b.update(format="PG_JSON"), r"format must be NQUADS"),
    ],
)
def test_a_malformed_nquads_page_names_the_event_and_the_problem(mutate: Any, message: str) -> None:
    with pytest.raises(MalformedPageError, match=message):
        parse_page(_broken(mutate), None, GraphModel.RDF)


def test_a_page_of_the_other_model_is_refused_by_its_format() -> None:
    with pytest.raises(MalformedPageError, match="format must be PG_JSON"):
        parse_page(FIXTURE, None)


# -- quad items
def _event(stmt: str, op: str = "ADD") -> Any:
    body = _broken(lambda b: b["records"][0].update(op=op, data={"stmt": stmt}))
    return parse_page(body, None, GraphModel.RDF).events[0]


def test_a_quad_item_holds_the_four_terms_keyed_by_its_subject() -> None:
    item = record_item(_event('<http://ex/ana> <http://ex/name> "Ana"@pt <http://ex/g> .\n', "REMOVE"), "neptune")
    assert {k: next(iter(v.values())) for k, v in item.items()} == {
        schema.COMMIT_NUM: "1",
        schema.OP_NUM: "1",
        schema.GENERATION: "0",
        schema.POSITION: schema.position(1, 1, 0),
        schema.ELEMENT_ID: "http://ex/ana",
        schema.STREAM_ID: "neptune",
        schema.SUBJECT: "<http://ex/ana>",
        schema.PREDICATE: "<http://ex/name>",
        schema.OBJECT: '"Ana"@pt',
        schema.GRAPH: "<http://ex/g>",
        schema.OBJECT_TYPE: "literal",
        "op": "REMOVE",
        "commitTimestamp": "1571252030566",
        "isLastOp": True,
    }
    triple = record_item(_event("_:n1 <http://ex/p> _:n2 .\n"), "neptune")
    assert triple[schema.GRAPH] == {"S": DEFAULT} and triple[schema.ELEMENT_ID] == {"S": "_:n1"}
    assert triple[schema.OBJECT_TYPE] == {"S": "bnode"}


def test_a_huge_literal_is_stored_truncated_like_a_huge_property_value() -> None:
    literal = '"' + "é" * 300_000 + '"'
    item = record_item(_event(f"<http://ex/blob> <http://ex/data> {literal} .\n"), "neptune")
    raw = literal.encode()
    assert item["truncated"] == {"BOOL": True} and int(item["originalValueBytes"]["N"]) == len(raw)
    assert item["valueSha256"]["S"] == hashlib.sha256(raw).hexdigest()
    assert len(item[schema.OBJECT]["S"].encode()) <= MAX_VALUE_BYTES and item_size(item) <= MAX_ITEM_BYTES
    small = record_item(_event('<http://ex/a> <http://ex/b> "c" .\n'), "neptune")
    assert "truncated" not in small


def test_iris_too_long_for_an_item_are_capped_and_named() -> None:
    long_iri = "<http://ex/" + "a" * 200_000 + ">"
    item = record_item(_event(f"{long_iri} {long_iri} {long_iri} {long_iri} .\n"), "neptune")
    assert item_size(item) <= MAX_ITEM_BYTES
    assert set(item["truncatedFields"]["SS"]) == {schema.SUBJECT, schema.PREDICATE, schema.GRAPH}
    assert item[schema.ELEMENT_ID]["S"].startswith("sha256:"), "the index key of a long subject is its hash"


# -- the setting
def test_the_graph_model_travels_through_the_environment() -> None:
    tables = TableNames("r", "h", "c")
    env = HandlerSettings(tables=tables, neptune_endpoint="http://n", graph_model=GraphModel.RDF).to_env()
    assert env[Env.GRAPH_MODEL] == "rdf"
    assert HandlerSettings.from_env(env).graph_model == GraphModel.RDF
    del env[Env.GRAPH_MODEL]
    assert HandlerSettings.from_env(env).graph_model == GraphModel.PROPERTY_GRAPH, "the default: the property graph"
    assert parse_graph_model(" RDF ", "x") == GraphModel.RDF
    with pytest.raises(ValueError, match="GRAPH_MODEL must be one of propertygraph, rdf, got 'sparql'"):
        HandlerSettings.from_env({**env, Env.GRAPH_MODEL: "sparql"})
