"""One N-Quads statement, as a SPARQL stream record's `data.stmt` carries it, read strictly by the W3C
grammar (https://www.w3.org/TR/n-quads/#sec-grammar). Pure, standard library only.

Neptune's SPARQL stream "simply contains a stmt field that holds an N-QUADS statement expressing the changed
quad" (https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html): one statement, one
line. Why this module and not rdflib's parser in the Lambda (docs/rdf.md): the statement's
grammar is regular, so one compiled expression per term reads it exactly; the terms are kept as the text
Neptune wrote (rdflib's parser rewrites literals it normalizes, and renames blank nodes unless told not to);
the layer stays standard-library only in both Powertools modes, with nothing more to import at a cold start;
and it costs a few microseconds per statement instead of rdflib's ~7-14. The unit tests hold it to rdflib's
reading of the same statements, and to the grammar's own edge cases."""

from __future__ import annotations

import re
from dataclasses import dataclass

# Where Neptune puts a triple given without a graph: "If a triple is inserted without a named-graph context,
# Neptune stores it in a named graph designated http://aws.amazon.com/neptune/vocab/v01/DefaultNamedGraph"
# (https://docs.aws.amazon.com/neptune/latest/userguide/sparql-default-describe.html).
NEPTUNE_DEFAULT_GRAPH = "http://aws.amazon.com/neptune/vocab/v01/DefaultNamedGraph"

# The grammar's terminals, as written in the recommendation.
_HEX = "[0-9A-Fa-f]"
_UCHAR = rf"\\u{_HEX}{{4}}|\\U{_HEX}{{8}}"
_ECHAR = r"""\\[tbnrf"'\\]"""
_PN_CHARS_BASE = (
    "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u02ff\u0370-\u037d\u037f-\u1fff\u200c-\u200d\u2070-\u218f"
    "\u2c00-\u2fef\u3001-\ud7ff\uf900-\ufdcf\ufdf0-\ufffd\U00010000-\U000effff"
)
_PN_CHARS_U = _PN_CHARS_BASE + "_:"
_PN_CHARS = _PN_CHARS_U + "\\-0-9\u00b7\u0300-\u036f\u203f-\u2040"
# Runs of plain characters are matched whole (possessive `++`): an escape is the only other way on.
IRIREF = rf"""<(?:[^\x00-\x20<>"{{}}|^`\\]++|{_UCHAR})*+>"""
BLANK_NODE_LABEL = rf"_:[{_PN_CHARS_U}0-9](?:[{_PN_CHARS}.]*[{_PN_CHARS}])?"
STRING_LITERAL_QUOTE = rf'"(?:[^"\\\n\r]++|{_ECHAR}|{_UCHAR})*+"'
LANGTAG = r"@[a-zA-Z]+(?:-[a-zA-Z0-9]+)*"
LITERAL = rf"{STRING_LITERAL_QUOTE}(?:\^\^{IRIREF}|{LANGTAG})?"
_WS = "[ \t]*"
STATEMENT = re.compile(
    rf"{_WS}(?P<s>{IRIREF}|{BLANK_NODE_LABEL}){_WS}(?P<p>{IRIREF}){_WS}(?P<o>{IRIREF}|{BLANK_NODE_LABEL}|{LITERAL})"
    rf"{_WS}(?P<g>{IRIREF}|{BLANK_NODE_LABEL})?{_WS}\.{_WS}(?:#[^\n\r]*)?(?:\r\n|\n|\r)?"
)
_ESCAPE = re.compile(rf"{_UCHAR}|{_ECHAR}")
_ECHARS = {"t": "\t", "b": "\b", "n": "\n", "r": "\r", "f": "\f", '"': '"', "'": "'", "\\": "\\"}
# An IRI in N-Quads is absolute: it begins with a scheme (RFC 3987, as the grammar's note on IRIREF says).
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_IRI_FORBIDDEN = re.compile(r'[\x00-\x20<>"{}|^`\\]')


class StatementError(ValueError):
    """A statement that is not one N-Quads statement: the message says what is wrong with it."""


@dataclass(frozen=True)
class Statement:
    """The four terms as the statement wrote them (`graph` None when it had no graph label), with the
    subject's value: the IRI itself, or `_:label` for a blank node."""

    subject: str
    predicate: str
    object: str
    graph: str | None
    subject_key: str

    @property
    def object_kind(self) -> str:
        return term_kind(self.object)

    def graph_or_default(self) -> str:
        """The graph the statement is in: its label, or Neptune's default named graph for a triple."""
        return self.graph if self.graph is not None else f"<{NEPTUNE_DEFAULT_GRAPH}>"

    def text(self) -> str:
        """The statement in N-Quads, one line (single spaces between the terms)."""
        terms = [self.subject, self.predicate, self.object, *([self.graph] if self.graph is not None else [])]
        return " ".join(terms) + " .\n"


def term_kind(term: str) -> str:
    """`iri`, `bnode` or `literal`, for a term in N-Quads syntax."""
    if term.startswith("<"):
        return "iri"
    if term.startswith("_:"):
        return "bnode"
    return "literal"


def parse_statement(text: str) -> Statement:
    """The one statement `text` holds, or StatementError naming what is wrong."""
    if not isinstance(text, str):
        raise StatementError(f"the statement is not a string: {type(text).__name__}")
    match = STATEMENT.fullmatch(text)
    if match is None:
        raise StatementError(f"not one N-Quads statement: {_excerpt(text)}")
    subject, predicate, obj, graph = match.group("s", "p", "o", "g")
    for term in (subject, predicate, obj, graph):
        if term is not None:
            _check_term(term)
    return Statement(subject, predicate, obj, graph, subject_key=term_value(subject))


def term_value(term: str) -> str:
    """An IRI's text without its brackets and escapes, a blank node as `_:label`, a literal as written."""
    if term.startswith("<"):
        return unescape(term[1:-1])
    return term


def literal_parts(term: str) -> tuple[str, str | None, str | None]:
    """A literal term's lexical form (escapes undone), language tag and datatype IRI (each None if absent)."""
    end = term.rindex('"')
    lexical, rest = unescape(term[1:end]), term[end + 1 :]
    if rest.startswith("@"):
        return lexical, rest[1:], None
    if rest.startswith("^^"):
        return lexical, None, unescape(rest[3:-1])
    return lexical, None, None


def unescape(text: str) -> str:
    return _ESCAPE.sub(_unescape_one, text) if "\\" in text else text


def _unescape_one(match: re.Match[str]) -> str:
    escape = match.group(0)
    if escape[1] in "uU":
        codepoint = int(escape[2:], 16)
        if codepoint > 0x10FFFF or 0xD800 <= codepoint <= 0xDFFF:
            raise StatementError(f"{escape} is not a Unicode scalar value")
        return chr(codepoint)
    return _ECHARS[escape[1]]


def _check_term(term: str) -> None:
    if term.startswith("<"):
        iri = unescape(term[1:-1])
        if not _SCHEME.match(iri):
            raise StatementError(f"{_excerpt(term)} is not an absolute IRI (no scheme)")
        # The expression refused these written plainly; an escape must not bring them back.
        if "\\" in term and _IRI_FORBIDDEN.search(iri):
            raise StatementError(f"{_excerpt(term)} holds a character an IRI may not, even escaped")
    elif term.startswith('"'):
        end = term.rindex('"')
        unescape(term[1:end])  # a \U escape beyond Unicode is refused here
        if term[end + 1 :].startswith("^^"):
            _check_term(term[end + 3 :])


def _excerpt(text: str, limit: int = 120) -> str:
    return repr(text if len(text) <= limit else text[:limit] + "...")


__all__ = [
    "NEPTUNE_DEFAULT_GRAPH",
    "Statement",
    "StatementError",
    "literal_parts",
    "parse_statement",
    "term_kind",
    "term_value",
    "unescape",
]
