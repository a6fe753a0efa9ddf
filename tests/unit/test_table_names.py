"""The tables' attribute names are single-sourced in `neptune_capture.schema`: every name a writer puts on a
record or history item is declared there, and no module that reads or writes the tables spells one of them
as a literal (a renamed attribute then cannot leave a reader behind)."""

from __future__ import annotations

import ast
from pathlib import Path

from neptune_capture import schema
from neptune_capture.events import EventId, StreamEvent
from neptune_capture.items import record_item
from neptune_capture.nquads import parse_statement
from neptune_capture.plan import BatchContext, Checkpoint, Lease, gap_items, generation_items, history_item, start_items
from neptune_capture.schema import HistoryAttr, RecordAttr

ROOT = Path(__file__).resolve().parents[2]
# What reads or writes the three tables. The parsers of Neptune's own responses (events, stream_source) and
# the emulator are left out: they spell Neptune's field names, which records keep on purpose (RecordAttr).
SOURCES = [
    *sorted((ROOT / "layer" / "python" / "neptune_capture").glob("*.py")),
    *sorted((ROOT / "neptune_ops").glob("*.py")),
    *sorted((ROOT / "neptune_cli").rglob("*.py")),
    *sorted((ROOT / "neptune_local").rglob("*.py")),
    *sorted((ROOT / "lambdas").rglob("*.py")),
    *sorted((ROOT / "bench").glob("*.py")),
]
NEPTUNE_FORMAT = {"schema.py", "events.py", "stream_source.py"}
# contract.py is the other single source: the keys of the state machine's state, some of which (executionId,
# lagMs) share a history attribute's name.
SINGLE_SOURCES = NEPTUNE_FORMAT | {"contract.py"}
# Names that are also everyday words of other payloads (a preflight check's "detail", an as-of state's "id",
# a Neptune record's "op") are not looked for: only the names that can mean nothing but our items.
GENERIC = {"id", "type", "op", "key", "value", "from", "to", "dataType", "commitTimestamp", "reason", "detail"}
DISTINCT = {str(a) for a in (*HistoryAttr, *RecordAttr)} - GENERIC


def literal_attribute_names(source: str) -> set[str]:
    """The distinctive attribute names a module's source spells as string literals (docstrings aside)."""
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return {
        node.value
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and node.value in DISTINCT
    }


def test_the_check_finds_a_literal_attribute_name() -> None:
    # Shown failing on bad input: a reader that spells a history name itself is caught, its docstring is not.
    bad = '"""Reads recordCount."""\ndef count(item):\n    return int(item["recordCount"]["N"])\n'
    assert literal_attribute_names(bad) == {"recordCount"}
    assert literal_attribute_names('def count(item):\n    return int(item[H.RECORD_COUNT]["N"])\n') == set()


def test_no_reader_or_writer_spells_an_attribute_name() -> None:
    assert len(SOURCES) > 40, "the modules that touch the tables were not found"
    spelled = {
        path.relative_to(ROOT).as_posix(): sorted(names)
        for path in SOURCES
        if path.name not in SINGLE_SOURCES and (names := literal_attribute_names(path.read_text()))
    }
    assert spelled == {}, f"use neptune_capture.schema's HistoryAttr / RecordAttr instead: {spelled}"


KEYS = {schema.STREAM_ID, schema.POSITION, schema.KIND, schema.GENERATION}
RECORD_KEYS = {schema.POSITION, schema.COMMIT_NUM, schema.OP_NUM, schema.GENERATION, schema.ELEMENT_ID, schema.STREAM_ID}
RDF = {schema.SUBJECT, schema.PREDICATE, schema.OBJECT, schema.GRAPH, schema.OBJECT_TYPE}


def _edge_property(value: str) -> StreamEvent:
    return StreamEvent(EventId(7, 2), 1_700_000_000_000, "ADD", "e1", "ep", "since", value, "String", "v1", "v2", True)


def test_every_name_a_record_carries_is_declared() -> None:
    long_value = "x" * 500_000  # truncated: the flag, the original size and the hash join the item
    # Still over the item limit with its value capped: the id and key are capped too, and named.
    long_id = StreamEvent(EventId(7, 3), 1, "ADD", "i" * 30_000, "vp", "k" * 30_000, long_value, "String", None, None, False)
    items = [record_item(_edge_property(v), "s", 2) for v in ("1999", long_value)] + [record_item(long_id, "s")]
    statement = parse_statement('<http://e/s> <http://e/p> "' + "o" * 500_000 + '" <http://e/g> .')
    subject, kind = statement.subject_key, statement.object_kind
    rdf = StreamEvent(EventId(8, 1), 1, "ADD", subject, kind, None, None, None, None, None, True, statement)
    items.append(record_item(rdf, "s"))
    declared = RECORD_KEYS | RDF | {str(a) for a in RecordAttr}
    for item in items:
        assert set(item) <= declared, set(item) - declared
    # Every declared record name is written by one of these items: none is declared and never used.
    assert {str(a) for a in RecordAttr} <= set().union(*items)


def test_every_name_a_history_item_carries_is_declared() -> None:
    context = BatchContext("s", Lease("owner", 10**13), 5, 4, execution_id="exec")
    events = [_edge_property("1"), _edge_property("2")]
    latest = _edge_property("3")
    checkpoint = Checkpoint("s", EventId(7, 1), 3, generation=1)
    items = [
        history_item(events, context, 1),
        gap_items(checkpoint, context, "expired")[0],
        start_items(Checkpoint("s", None, 0), context, latest)[0],
        generation_items(checkpoint, schema.GenerationReason.STREAM_RESTARTED, 9, "evidence", context)[0],
    ]
    declared = KEYS | {str(a) for a in HistoryAttr}
    for item in items:
        assert set(item) <= declared, set(item) - declared
    assert {str(a) for a in HistoryAttr} <= set().union(*items)
