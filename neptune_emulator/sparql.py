"""The RDF side of the emulator: SPARQL 1.1 Query and Update over a dataset of quads, run by rdflib's own
SPARQL engine, each update giving back its changes as a diff (quads added, quads removed) for the stream.

Neptune's graph semantics, as its user guide states them: "Amazon Neptune associates every triple with a named
graph. The default graph is defined as the union of all named graphs"
(https://docs.aws.amazon.com/neptune/latest/userguide/best-practices-sparql-query.html), so a query's pattern
without GRAPH sees every quad, each triple once; and "If you don't specify a named graph when loading,
inserting, or updating triples, Neptune uses the fallback named graph" (DEFAULT_GRAPH below,
https://docs.aws.amazon.com/neptune/latest/userguide/best-practices-sparql-graph.html), so an update's
template without GRAPH (INSERT DATA, DELETE DATA, DELETE WHERE, DELETE/INSERT WHERE, and
CLEAR/DROP/ADD/MOVE/COPY DEFAULT) acts on that graph, which `GRAPH ?g` names like any other. How a DELETE
without GRAPH treats the same triple in other graphs, the guide does not say: here it removes it from the
default named graph only, as its reading of "updating triples" says.

rdflib evaluates each operation; this module decides which graph an operation's default is (rdflib's own
Dataset handling would put a template triple in its private default graph) and journals the store, so an
update's changes are the quads whose presence differs before and after it, in the order first touched, and
an update that fails is undone whole. rdflib's writers are private functions of its N-Triples and N-Quads
serializers (`_nq_row`, `_quoteLiteral`): the pinned version's, tested through the stream fixture.

The emulator writes the stream the capture reads, so it never uses the capture's own N-Quads code
(neptune_capture.nquads): its statements are rdflib's, and the quads it saves are read back by its own
reader with rdflib's unescaping. A mistake on one side then shows as a failed capture, not as agreement."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, cast

import rdflib.plugins.sparql
from rdflib import BNode, Dataset, Graph, Literal, URIRef
from rdflib.plugins.parsers.ntriples import unquote
from rdflib.plugins.serializers import nquads as _nquads
from rdflib.plugins.serializers import nt as _nt
from rdflib.plugins.sparql import update as sparql_update
from rdflib.plugins.sparql.algebra import translateQuery, translateUpdate
from rdflib.plugins.sparql.evaluate import evalBGP, evalPart
from rdflib.plugins.sparql.evalutils import _fillTemplate, _join
from rdflib.plugins.sparql.parser import parseQuery, parseUpdate
from rdflib.plugins.sparql.parserutils import CompValue
from rdflib.plugins.sparql.sparql import QueryContext
from rdflib.plugins.stores.memory import Memory
from rdflib.term import Identifier, Node

# rdflib's row and literal writers (untyped): a quad with its graph, and a literal, in N-Quads.
_nq_row = cast(Callable[[tuple[Node, Node, Node], Node], str], _nquads._nq_row)
_quoteLiteral = cast(Callable[[Literal], str], _nt._quoteLiteral)  # noqa: N816 - rdflib's name

# A FROM or FROM NAMED names a graph of the database, as in Neptune: never a document to fetch. rdflib reads
# this flag when it evaluates a query, and nothing else in the process evaluates SPARQL.
rdflib.plugins.sparql.SPARQL_LOAD_GRAPHS = False

# Where Neptune puts a triple given without a graph: "If a triple is inserted without a named-graph context,
# Neptune stores it in a named graph designated http://aws.amazon.com/neptune/vocab/v01/DefaultNamedGraph"
# (https://docs.aws.amazon.com/neptune/latest/userguide/sparql-default-describe.html).
DEFAULT_GRAPH = URIRef("http://aws.amazon.com/neptune/vocab/v01/DefaultNamedGraph")
# The terms of an N-Quads statement as rdflib's writers write them (https://www.w3.org/TR/n-quads/#sec-grammar):
# an IRI, a blank node label, or a literal with its language tag or datatype IRI.
_TERM = re.compile(r'<[^>]*>|_:\S+|"(?:[^"\\]|\\.)*"(?:@[A-Za-z0-9-]+|\^\^<[^>]*>)?')
_LITERAL = re.compile(r'"(?P<lexical>(?:[^"\\]|\\.)*)"(?:@(?P<language>[A-Za-z0-9-]+)|\^\^<(?P<datatype>[^>]*)>)?')
# Neptune's query hints are triple patterns of this namespace, and "Query hints are semantics preserving"
# (https://docs.aws.amazon.com/neptune/latest/userguide/sparql-query-hints.html): the emulator drops them, where
# rdflib would match them against the data and find nothing.
QUERY_HINTS = "http://aws.amazon.com/neptune/vocab/v01/QueryHints#"
Quad = tuple[Node, Node, Node, URIRef | BNode]
# Operations that read no WHERE clause: their DEFAULT is the default named graph.
GRAPH_OPERATIONS = {
    "Clear": sparql_update.evalClear,
    "Drop": sparql_update.evalDrop,
    "Add": sparql_update.evalAdd,
    "Move": sparql_update.evalMove,
    "Copy": sparql_update.evalCopy,
}
# What Neptune answers for each kind of query when the request does not say
# (https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-sparql-http-rest.html): SPARQL JSON results
# for SELECT and ASK, N-Quads for CONSTRUCT and DESCRIBE. The others are the result formats of
# https://docs.aws.amazon.com/neptune/latest/userguide/sparql-media-type-support.html that rdflib writes.
RESULT_FORMATS = {
    "application/sparql-results+json": "json",
    "application/sparql-results+xml": "xml",
    "text/csv": "csv",
    "text/tab-separated-values": "tsv",
}
GRAPH_FORMATS = {
    "application/n-quads": "nt",  # a query's graph has no graph names: its N-Quads are N-Triples lines
    "application/n-triples": "nt",
    "text/turtle": "turtle",
    "application/rdf+xml": "xml",
    "application/ld+json": "json-ld",
}


class SparqlError(Exception):
    """A request Neptune would refuse: `code` is its error code (errors.STATUSES gives the HTTP status)."""

    def __init__(self, message: str, code: str = "MalformedQueryException") -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass(frozen=True)
class Change:
    op: str  # "ADD" or "REMOVE"
    statement: str  # the quad as one N-Quads statement, as the stream's data.stmt carries it
    quad: str  # the same with its graph always written: how the emulator saves it


class JournalingMemory(Memory):
    """rdflib's in-memory quad store that remembers, for every quad an update touches, whether it was there
    before: the update's diff is what differs at its end, whatever the operations did in between."""

    def __init__(self) -> None:
        super().__init__()
        self.before: dict[Quad, bool] = {}
        self.graphs: dict[Identifier, Graph] = {}

    def add(self, triple: Any, context: Any, quoted: bool = False) -> None:
        self._touch(triple, context)
        super().add(triple, context, quoted)

    def remove(self, triple_pattern: Any, context: Any = None) -> None:
        for triple, contexts in list(self.triples(triple_pattern, context=context)):
            for graph in [context] if context is not None else [c for c in contexts if c is not None]:
                self._touch(triple, graph)
        super().remove(triple_pattern, context)

    def _touch(self, triple: Any, graph: Graph) -> None:
        quad = (*triple, graph.identifier)
        if quad not in self.before:
            self.graphs.setdefault(graph.identifier, graph)
            self.before[quad] = self.has(triple, graph)

    def has(self, triple: Any, graph: Graph) -> bool:
        return next(iter(super().triples(triple, context=graph)), None) is not None

    def changes(self) -> list[tuple[str, Quad]]:
        """The journal's diff, in the order the quads were first touched; the journal starts afresh."""
        out = []
        for quad, was in self.before.items():
            now = self.has(quad[:3], self.graphs[quad[3]])
            if now != was:
                out.append(("ADD" if now else "REMOVE", quad))
        self.before = {}
        return out

    def rollback(self) -> None:
        """Every quad touched since the journal began goes back to what it was."""
        for quad, was in self.before.items():
            graph = self.graphs[quad[3]]
            if was and not self.has(quad[:3], graph):
                super().add(quad[:3], graph)
            elif not was and self.has(quad[:3], graph):
                super().remove(quad[:3], graph)
        self.before = {}


class RdfStore:
    """The emulated RDF graph. Not thread-safe on its own: the engine calls it under its lock."""

    def __init__(self) -> None:
        self.store = JournalingMemory()
        self.dataset = Dataset(store=self.store, default_union=True)
        self.default_graph = self.dataset.graph(DEFAULT_GRAPH)

    # -- update
    def update(self, text: str, using: Sequence[str] = (), using_named: Sequence[str] = ()) -> list[Change]:
        """Runs one SPARQL Update request (one transaction): its changes, or SparqlError and no change.
        `using` and `using_named` are the protocol's using-graph-uri and using-named-graph-uri: the dataset of each
        DELETE/INSERT's WHERE, as USING and USING NAMED would give it (https://www.w3.org/TR/sparql11-protocol/#update-dataset)."""
        try:
            algebra = translateUpdate(parseUpdate(text))
        except Exception as error:
            raise SparqlError(f"malformed SPARQL update: {error}") from None
        if using or using_named:
            _protocol_using(algebra.algebra, using, using_named)
        self.store.before = {}
        try:
            for operation in algebra.algebra:
                self._run(operation)
        except SparqlError:
            self.store.rollback()
            raise
        except Exception as error:
            self.store.rollback()
            raise SparqlError(f"{type(error).__name__}: {error}", "InternalFailureException") from None
        return [Change(op, statement(quad), _nq_row(quad[:3], quad[3])) for op, quad in self.store.changes()]

    def _run(self, u: CompValue) -> None:
        if u.name in ("Load", "Create"):
            # LOAD fetches a document (and Neptune's UNLOAD too); CREATE makes an empty graph, which a store of
            # quads has no way to keep. Neither is emulated (docs/emulator.md).
            raise SparqlError(f"the emulator does not support {u.name.upper()}", "UnsupportedOperationException")
        _drop_hints(u)
        ctx = QueryContext(self.dataset, initBindings={})
        ctx.prologue = u.prologue
        if u.name in GRAPH_OPERATIONS:
            ctx.graph = self.default_graph
            _run_operation(GRAPH_OPERATIONS[u.name], ctx, u)
        elif u.name in ("InsertData", "DeleteData"):
            _to_default_graph(u)
            _fresh_blank_nodes(u)
            ctx.graph = self.default_graph
            _run_operation(sparql_update.evalInsertData if u.name == "InsertData" else sparql_update.evalDeleteData, ctx, u)
        elif u.name == "Modify":
            for template in (u.delete, u.insert):
                if template:
                    _to_default_graph(template)
            if dict.get(u, "using"):
                self._modify_over(u)
            else:
                _run_operation(sparql_update.evalModify, ctx, u)
        elif u.name == "DeleteWhere":
            self._delete_where(ctx, u)
        else:
            raise SparqlError(f"unknown update operation {u.name}", "UnsupportedOperationException")

    def _modify_over(self, u: CompValue) -> None:
        """DELETE/INSERT whose WHERE reads the dataset its USING and USING NAMED name (or the protocol's
        using-graph-uri and using-named-graph-uri): "the RDF Dataset ... for the WHERE clause"
        (https://www.w3.org/TR/sparql11-update/#deleteInsert), so a GRAPH pattern sees the USING NAMED graphs only and
        the default graph is the merge of the USING graphs (empty with USING NAMED alone). rdflib's own evaluation
        narrows the default graph but not the named ones. The templates write to the database's graphs."""
        clauses = [
            CompValue("DatasetClause", default=d.default) if d.default else CompValue("DatasetClause", named=d.named)
            for d in u.using
        ]
        where = QueryContext(self.dataset, initBindings={}, datasetClause=clauses)
        where.prologue = u.prologue
        for solution in list(evalPart(where, u.where)):
            for template, remove in ((u.delete, True), (u.insert, False)):
                for graph_term, quads in ((template or {}).get("quads") or {}).items():
                    graph = self.dataset.get_context(solution.get(graph_term))
                    triples = _fillTemplate(quads, solution)
                    if remove:
                        graph -= triples
                    else:
                        graph += triples

    def _delete_where(self, ctx: QueryContext, u: CompValue) -> None:
        """rdflib's DELETE WHERE, with the pattern matched over the union and its template's triples deleted from
        the default named graph."""
        solutions: Iterable[Any] = evalBGP(ctx, u.triples)
        for graph_term in u.quads:
            graph_ctx = ctx.pushGraph(ctx.dataset.get_context(graph_term))
            solutions = _join(solutions, list(evalBGP(graph_ctx, u.quads[graph_term])))
        for solution in list(solutions):
            self.default_graph -= _fillTemplate(u.triples, solution)
            for graph_term in u.quads:
                self.dataset.get_context(solution.get(graph_term)).__isub__(_fillTemplate(u.quads[graph_term], solution))

    # -- query
    def query(
        self, text: str, accept: str | None, default_graphs: Sequence[str] = (), named_graphs: Sequence[str] = ()
    ) -> tuple[str, bytes]:
        """(content type, body) of a SPARQL query's answer, in the format asked for (Accept), else Neptune's default.
        `default_graphs` and `named_graphs` are the protocol's default-graph-uri and named-graph-uri: when given they
        are the query's dataset, in place of its FROM and FROM NAMED (https://www.w3.org/TR/sparql11-protocol/#dataset).
        With none, the default graph is Neptune's: "the union of all named graphs"
        (https://docs.aws.amazon.com/neptune/latest/userguide/best-practices-sparql-query.html); with named graphs only,
        it is empty ("If there is no FROM clause and there are one or more FROM NAMED clauses, then the default graph
        is empty": https://docs.aws.amazon.com/neptune/latest/userguide/sparql-default-describe.html)."""
        try:
            parsed = translateQuery(parseQuery(text))
        except Exception as error:
            raise SparqlError(f"malformed SPARQL query: {error}") from None
        if default_graphs or named_graphs:
            parsed.algebra["datasetClause"] = [CompValue("DatasetClause", default=URIRef(g)) for g in default_graphs] + [
                CompValue("DatasetClause", named=URIRef(g)) for g in named_graphs
            ]
        _drop_hints(parsed.algebra)
        if _mentions_service(parsed.algebra):
            raise SparqlError("the emulator does not run SERVICE (federated) queries", "UnsupportedOperationException")
        try:
            result = self.dataset.query(parsed)
        except Exception as error:
            raise SparqlError(f"{type(error).__name__}: {error}", "MalformedQueryException") from None
        if result.type in ("SELECT", "ASK"):
            # CSV and TSV carry variable bindings: an ASK's boolean has only the JSON and XML forms.
            formats = (
                RESULT_FORMATS if result.type == "SELECT" else {k: v for k, v in RESULT_FORMATS.items() if v in ("json", "xml")}
            )
            media = _negotiate(accept, formats, "application/sparql-results+json")
            return media, result.serialize(format=RESULT_FORMATS[media]) or b""
        media = _negotiate(accept, GRAPH_FORMATS, "application/n-quads")
        graph = result.graph
        assert graph is not None
        return media, graph.serialize(format=GRAPH_FORMATS[media], encoding="utf-8")

    # -- persistence
    def quads(self) -> Iterator[str]:
        """Every quad, as an N-Quads statement."""
        for s, p, o, g in self.dataset.quads((None, None, None, None)):
            if g is not None:
                yield _nq_row((s, p, o), g.identifier if isinstance(g, Graph) else g)

    def load(self, statements: Iterable[str]) -> None:
        """Adds quads saved as N-Quads statements (a restart), outside any transaction, each term exactly as it
        was: the stream named it so before the restart and goes on naming it so. rdflib's own N-Quads parser
        would give each blank node a new label and rewrite some literals (a dateTime's `Z` as `+00:00`)."""
        for text in statements:
            terms = _TERM.findall(text)
            if len(terms) not in (3, 4) or not text.rstrip().endswith("."):
                raise ValueError(f"not an N-Quads statement the emulator saved: {text[:120]!r}")
            label = _term(terms[3]) if len(terms) == 4 else DEFAULT_GRAPH
            assert isinstance(label, (URIRef, BNode))  # the grammar allows nothing else as a graph label
            graph = self.dataset.graph(label)
            graph.add((_term(terms[0]), _term(terms[1]), _term(terms[2])))
        self.store.before = {}

    def clear(self) -> None:
        for graph in list(self.dataset.graphs()):
            self.dataset.remove_graph(graph)
        self.store.before = {}


def _term(text: str) -> Node:
    """An rdflib term from its N-Quads text, as written: a literal is not normalized."""
    if text.startswith("<"):
        return URIRef(unquote(text[1:-1]))
    if text.startswith("_:"):
        return BNode(text[2:])
    match = _LITERAL.fullmatch(text)
    assert match is not None  # _TERM matched it
    datatype = match["datatype"]
    return Literal(
        unquote(match["lexical"]),
        lang=match["language"],
        datatype=URIRef(unquote(datatype)) if datatype else None,
        normalize=False,
    )


def statement(quad: Quad) -> str:
    """A quad as the stream's `stmt`: its terms as rdflib's N-Triples writer writes them, single spaces, and the
    graph label left out for the default named graph, as the user guide's example shows a triple inserted
    without a graph (https://docs.aws.amazon.com/neptune/latest/userguide/streams-examples.html: the stmt
    "<https://test.com/s> <https://test.com/p> <https://test.com/o> .\n"). Whether the capture reads it is what
    the RDF tests of the local run check (the emulator does not ask the capture's parser)."""
    s, p, o, g = quad
    terms = [s.n3(), p.n3(), _quoteLiteral(o) if isinstance(o, Literal) else o.n3()]
    if g != DEFAULT_GRAPH:
        terms.append(g.n3())
    return " ".join(terms) + " .\n"


def _to_default_graph(template: CompValue) -> None:
    """An update template's triples without GRAPH are quads of Neptune's default named graph."""
    triples = list(template.get("triples") or [])
    if triples:
        quads = template.get("quads")
        if quads is None:
            quads = template["quads"] = {}
        quads.setdefault(DEFAULT_GRAPH, []).extend(triples)
        template["triples"] = []


def _fresh_blank_nodes(u: CompValue) -> None:
    """A blank node label in INSERT DATA names a new node, shared by that request's statements only ("blank
    node labels are scoped to the request", https://www.w3.org/TR/sparql11-update/#insertData); DELETE DATA may
    hold none (https://www.w3.org/TR/sparql11-update/#deleteData). rdflib's parser keeps the label as it is."""
    fresh: dict[BNode, BNode] = {}

    def rename(term: Node) -> Node:
        if not isinstance(term, BNode):
            return term
        if u.name == "DeleteData":
            raise SparqlError("DELETE DATA may not contain blank nodes (SPARQL 1.1 Update, 3.1.2)")
        return fresh.setdefault(term, BNode())

    for graph_term, triples in (u.get("quads") or {}).items():
        u["quads"][graph_term] = [tuple(rename(t) for t in triple) for triple in triples]


def _protocol_using(operations: Iterable[CompValue], using: Sequence[str], using_named: Sequence[str]) -> None:
    """The protocol's using-graph-uri and using-named-graph-uri as USING and USING NAMED clauses of each DELETE/INSERT.
    "It is an error to supply the using-graph-uri or using-named-graph-uri parameters when using this protocol to
    convey a SPARQL 1.1 Update request that contains an operation that uses the USING, USING NAMED, or WITH clause"
    (https://www.w3.org/TR/sparql11-protocol/#update-operation)."""
    clauses = [CompValue("UsingClause", default=URIRef(g)) for g in using] + [
        CompValue("UsingClause", named=URIRef(g)) for g in using_named
    ]
    for u in operations:
        if u.name != "Modify":
            continue
        if dict.get(u, "using") or dict.get(u, "withClause"):  # CompValue.get answers a missing key with its name
            raise SparqlError(
                "using-graph-uri or using-named-graph-uri was given for an update that has USING, USING NAMED or WITH: "
                "give the dataset one way only (SPARQL 1.1 Protocol, 2.2.3)"
            )
        u["using"] = clauses


def _run_operation(evaluate: Any, ctx: QueryContext, u: CompValue) -> None:
    evaluate(ctx, u)


def _drop_hints(node: Any) -> None:
    """Removes every query-hint pattern (its scope in the hints namespace) from the algebra's basic graph patterns."""
    if isinstance(node, CompValue):
        if node.name == "BGP":
            node["triples"] = [t for t in node["triples"] if not (isinstance(t[0], URIRef) and t[0].startswith(QUERY_HINTS))]
        for value in node.values():
            _drop_hints(value)
    elif isinstance(node, (list, tuple)):
        for value in node:
            _drop_hints(value)


def _mentions_service(node: Any) -> bool:
    if isinstance(node, CompValue):
        return node.name == "ServiceGraphPattern" or any(_mentions_service(v) for v in node.values())
    if isinstance(node, (list, tuple)):
        return any(_mentions_service(v) for v in node)
    return False


def _negotiate(accept: str | None, formats: dict[str, str], default: str) -> str:
    for part in (accept or "").split(","):
        media = part.split(";")[0].strip().lower()
        if media in formats:
            return media
    return default


__all__ = ["DEFAULT_GRAPH", "Change", "RdfStore", "SparqlError"]
