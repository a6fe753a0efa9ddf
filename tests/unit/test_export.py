"""`export --as-of` on tables as the handler writes them (record items and history batches, in moto): the files
read back as the loader reads them equal the reference model's graph at each point; a capture that does not
start at the graph's first change is refused, or exported with --partial saying what is missing; and the CSV
the format page describes, cell by cell."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pytest

from neptune_capture import schema
from neptune_capture.asof import Edge, Point, Value, Vertex
from neptune_capture.bulkload import EDGE_SYSTEM, VERTEX_SYSTEM, Skipped, csv_files, edge_row, field_text, vertex_row
from neptune_capture.events import EventId, StreamEvent
from neptune_capture.items import record_item
from neptune_capture.nquads import parse_statement
from neptune_capture.plan import BatchContext, Lease, history_item
from neptune_capture.schema import TableNames
from neptune_entry.errors import NoDataError, UsageError
from neptune_local.verify_asof import differences, read_export
from neptune_ops import captured
from neptune_ops.export import MANIFEST, bucket_of, export
from tests.unit.test_asof import EDGES, KEYS, LABELS, VALUES, VERTICES, Model

STREAM = "neptune"
# What a loader reads in a cell for each value of the reference's pool: written out by hand from the format
# page's types (Int, Long, Double, Bool, Date, String), not computed by the code under test.
CELLS = {
    ("String", "red"): ("String", "red"),
    ("String", "a;b, c"): ("String", "a;b, c"),
    ("String", ""): ("String", ""),
    ("Integer", 5): ("Int", "5"),
    ("Long", 5): ("Long", "5"),
    ("Double", 1.5): ("Double", "1.5"),
    ("Boolean", True): ("Bool", "true"),
    ("Date", "2024-05-01T10:00:00Z"): ("Date", "2024-05-01T10:00:00Z"),
}


def _event(record: dict[str, Any], commit: int, op: int, last: bool) -> StreamEvent:
    data_type, value = record["value"]
    return StreamEvent(
        EventId(commit, op), 1_700_000_000_000 + commit, record["op"], record["id"], record["type"], record["key"], value,
        data_type, record.get("from"), record.get("to"), is_last_op=last,
    )  # fmt: skip


def write_capture(client: Any, tables: TableNames, events: list[StreamEvent], batch: int = 7, generation: int = 0) -> None:
    """The records and history batches the handler writes for `events` (batches of `batch` events)."""
    context = BatchContext(STREAM, Lease("test", 0, "lease"), 1_800_000_000_000, None)
    for event in events:
        client.put_item(TableName=tables.records, Item=record_item(event, STREAM, generation))
    for i in range(0, len(events), batch):
        client.put_item(TableName=tables.history, Item=history_item(events[i : i + batch], context, generation))


def expected(model: Model) -> dict[str, Any]:
    """The reference's graph as the export's files, read back, must hold it."""
    raw = {(t, _text(t, v)): (t, v) for t, v in VALUES}
    snap = model.snapshot()
    return {
        "vertices": {
            v: (frozenset(labels), {k: frozenset(CELLS[raw[i]] for i in ids) for k, ids in props.items()})
            for v, (labels, props) in snap["vertices"].items()
        },
        "edges": {
            e: (label, a, b, {k: frozenset(CELLS[raw[i]] for i in ids) for k, ids in props.items()})
            for e, (label, a, b, props) in snap["edges"].items()
        },
    }


def _text(data_type: str, value: Any) -> str:
    from neptune_capture.items import encode_value

    return encode_value(value, data_type)


def random_steps(seed: int, n: int) -> list[tuple[Any, ...]]:
    rng = random.Random(seed)
    out: list[tuple[Any, ...]] = []
    for _ in range(n):
        kind = rng.choice(["addV", "addV", "prop", "prop", "dropProp", "addE", "edgeProp", "dropE", "dropV"])
        v, e, k, val = rng.choice(VERTICES), rng.choice(EDGES), rng.choice(KEYS), rng.choice(VALUES)
        out.append(
            {
                "addV": ("addV", v, rng.choice(LABELS)),
                "prop": ("prop", v, k, val, rng.random() < 0.3),
                "dropProp": ("dropProp", v, k),
                "addE": ("addE", e, v, rng.choice(VERTICES), "knows"),
                "edgeProp": ("edgeProp", e, k, val),
                "dropE": ("dropE", e),
                "dropV": ("dropV", v),
            }[kind]
        )
    return out


@pytest.mark.parametrize("segments", [1, 3])
def test_an_export_as_of_each_point_reads_back_as_the_reference_graph_then(
    dynamo: tuple[Any, TableNames], tmp_path: Path, segments: int
) -> None:
    client, tables = dynamo
    model, events, snapshots = Model(), [], {}
    commit = 0
    for step in random_steps(11, 120):
        records = model.step(step)
        if records:
            commit += 1
            events += [_event(r, commit, n, n == len(records)) for n, r in enumerate(records, 1)]
            snapshots[commit] = expected(model)
    write_capture(client, tables, events)
    source = captured.Source(client, tables, STREAM)
    for point in sorted({1, commit // 3, commit // 2, commit}):
        out = tmp_path / f"as-of-{point}"
        report = export(source, Point(commit_num=point), out, segments=segments)
        assert report.complete and report.anomalies == 0 and report.skipped.total == 0
        assert read_export(out) == snapshots[point], f"as of commit {point}"
        assert report.newest == max(e.event_id for e in events if e.event_id.commit_num <= point)
        assert (out / MANIFEST).is_file() and not list(out.glob(".spill-*")), "spill files are removed"
    assert report.records_read == report.records_included == len(events)


def test_an_export_and_history_read_only_the_current_capture_generation(dynamo: tuple[Any, TableNames], tmp_path: Path) -> None:
    # A fast reset reuses commit numbers; the generation before it stays in the tables under its own keys
    # (docs/reset-and-generations.md). As of commit 1 of generation 1 the graph is that generation's alone.
    client, tables = dynamo
    old = {"type": "vl", "id": "before-reset", "key": "label", "value": ("String", "person"), "op": "ADD"}
    new = {"type": "vl", "id": "after-reset", "key": "label", "value": ("String", "product"), "op": "ADD"}
    write_capture(client, tables, [_event(old, 1, 1, True)], generation=0)
    write_capture(client, tables, [_event(new, 1, 1, True)], generation=1)
    before, after = captured.Source(client, tables, STREAM, generation=0), captured.Source(client, tables, STREAM, generation=1)
    assert set(read_export(export(before, Point(commit_num=1), tmp_path / "g0").out)["vertices"]) == {"before-reset"}
    assert set(read_export(export(after, Point(commit_num=1), tmp_path / "g1").out)["vertices"]) == {"after-reset"}
    assert [i["elementId"]["S"] for i in captured.element_records(after, "before-reset")] == []
    assert len(list(captured.element_records(before, "before-reset"))) == 1
    # Without a generation given, the checkpoint's is read.
    client.put_item(TableName=tables.checkpoint, Item={schema.STREAM_ID: {"S": STREAM}, schema.GENERATION: {"N": "1"}})
    assert captured.Source(client, tables, STREAM).current_generation == 1


def test_an_export_goes_into_a_new_or_empty_directory(dynamo: tuple[Any, TableNames], tmp_path: Path) -> None:
    (tmp_path / "something").write_text("x")
    with pytest.raises(UsageError, match="is not empty"):
        export(captured.Source(*dynamo, STREAM), Point(commit_num=1), tmp_path)


def _one_vertex_capture(client: Any, tables: TableNames, first_commit: int) -> None:
    records = [{"type": "vl", "id": "v", "key": "label", "value": ("String", "person"), "op": "ADD"}]
    write_capture(client, tables, [_event(records[0], first_commit, 1, True)])


def test_a_capture_that_starts_after_the_graph_s_first_change_is_refused_naming_its_first_event(
    dynamo: tuple[Any, TableNames], tmp_path: Path
) -> None:
    client, tables = dynamo
    _one_vertex_capture(client, tables, 57)
    source = captured.Source(client, tables, STREAM)
    with pytest.raises(NoDataError) as refused:
        export(source, Point(commit_num=100), tmp_path / "x")
    assert "first captured event 57:1" in refused.value.problem and "retention" in refused.value.problem
    assert "--partial" in str(refused.value.next_step)
    assert not (tmp_path / "x").exists(), "nothing written"
    report = export(source, Point(commit_num=100), tmp_path / "y", partial=True)
    assert not report.complete and "57:1" in report.missing[0] and report.vertices == 1
    # A point before the first captured event lacks nothing the capture could have held.
    assert export(source, Point(commit_num=3), tmp_path / "z").complete


def test_a_capture_from_latest_or_with_a_gap_is_refused(dynamo: tuple[Any, TableNames], tmp_path: Path) -> None:
    client, tables = dynamo
    _one_vertex_capture(client, tables, 1)
    source = captured.Source(client, tables, STREAM)
    assert export(source, Point(commit_num=1), tmp_path / "a").complete
    client.put_item(
        TableName=tables.history,
        Item={
            schema.STREAM_ID: {"S": STREAM}, schema.POSITION: {"S": schema.position(1, 1, 0) + "#gap"},
            schema.KIND: {"S": schema.HistoryKind.GAP}, "reason": {"S": "expired"},
            "lastCapturedCommitNum": {"N": "1"}, "lastCapturedOpNum": {"N": "1"},
        },
    )  # fmt: skip
    assert export(source, Point(commit_num=1, op_num=1), tmp_path / "b").complete, "the GAP comes after the point"
    with pytest.raises(NoDataError, match="a GAP after event 1:1"):
        export(source, Point(commit_num=5), tmp_path / "c")
    client.put_item(
        TableName=tables.history,
        Item={
            schema.STREAM_ID: {"S": STREAM}, schema.POSITION: {"S": schema.position(0, 0, 0) + "#start"},
            schema.KIND: {"S": schema.HistoryKind.START_FROM_LATEST}, "reason": {"S": "latest"},
            "startedAfterCommitNum": {"N": "0"}, "startedAfterOpNum": {"N": "9"},
        },
    )  # fmt: skip
    with pytest.raises(NoDataError, match="capture began from LATEST after event 0:9"):
        export(source, Point(commit_num=1), tmp_path / "d")


def test_an_element_always_spills_into_the_same_bucket() -> None:
    assert bucket_of("v1", 7) == bucket_of("v1", 7) < 7


# -- the CSV, cell by cell
def test_vertex_and_edge_files_follow_the_gremlin_load_format() -> None:
    skipped = Skipped()
    ana = Vertex(
        "v,1",
        ["person", "customer"],
        {"name": [Value("String", 'say "hi"')], "tag": [Value("String", "a;b"), Value("String", "c")]},
    )
    bob = Vertex("v2", ["person"], {"age": [Value("Integer", "29")], "a:b": [Value("Boolean", "true")]})
    vertices = csv_files([vertex_row(ana, skipped), vertex_row(bob, skipped)], VERTEX_SYSTEM, arrays=True)
    assert vertices == [
        "~id,~label,a\\:b:Bool,age:Int,name:String,tag:String[]\n"
        '"v,1","person;customer",,,"say ""hi""","a\\;b;c"\n'
        '"v2","person","true","29",,\n'
    ]
    knows = Edge(
        "e1", "knows", "v,1", "v2", {"since": [Value("Long", "2001")], "w": [Value("Double", "0.5"), Value("Double", "1.0")]}
    )
    edges = csv_files([edge_row(knows, skipped)], EDGE_SYSTEM, arrays=False)
    assert edges == ['~id,~from,~to,~label,since:Long,w:Double\n"e1","v,1","v2","knows","2001","0.5"\n']
    assert skipped.extra_edge_values == 1, "an edge property holds one value: the second is reported"


def test_a_name_with_values_of_two_types_gets_a_second_file_and_what_no_file_can_hold_is_reported() -> None:
    skipped = Skipped()
    rows = [
        vertex_row(Vertex("a", ["x"], {"n": [Value("Integer", "1"), Value("String", "one")]}), skipped),
        vertex_row(Vertex("b", ["x"], {"n": [Value("Integer", "2")], "bad name": [Value("String", "v")]}), skipped),
        vertex_row(Vertex("c", ["x"], {"n": [Value("String", "sha256:00", truncated=True)]}), skipped),
    ]
    assert csv_files(rows, VERTEX_SYSTEM, arrays=True) == [
        '~id,~label,n:Int\n"a","x","1"\n"b","x","2"\n"c","x",\n',
        '~id,~label,n:String\n"a","x","one"\n',
    ]
    assert skipped.as_dict() == {"unnamedProperties": {"bad name": 1}, "truncatedValues": 1, "extraEdgeValues": 0}


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        (Value("String", '"quoted"'), '"quoted"'),  # a string is as it is, even when it looks like JSON
        (Value("Double", '"NaN"'), "NaN"),
        (Value("Double", '"-Infinity"'), "-Infinity"),
        (Value("Date", '"2024-05-01T10:00:00.250Z"'), "2024-05-01T10:00:00.250Z"),
        (Value("Boolean", "false"), "false"),
        (Value("Long", "9223372036854775807"), "9223372036854775807"),
    ],
)
def test_a_value_s_cell_is_its_text_without_json_quoting(value: Value, cell: str) -> None:
    assert field_text(value) == cell


def test_the_demo_s_check_finds_an_export_that_differs_from_the_graph(dynamo: tuple[Any, TableNames], tmp_path: Path) -> None:
    client, tables = dynamo
    model, events = Model(), []
    for commit, step in enumerate([("addV", "v0", "person"), ("prop", "v0", "name", ("String", "red"), False)], 1):
        events += [_event(r, commit, n, True) for n, r in enumerate(model.step(step), 1)]
    write_capture(client, tables, events)
    export(captured.Source(client, tables, STREAM), Point(commit_num=2), tmp_path)
    assert differences(expected(model), read_export(tmp_path)) == []
    csv = tmp_path / "vertices-00000.csv"
    csv.write_text(csv.read_text().replace('"red"', '"blue"'))
    assert differences(expected(model), read_export(tmp_path)) == [
        "vertex v0: graph (frozenset({'person'}), {'name': frozenset({('String', 'red')})}), "
        "export (frozenset({'person'}), {'name': frozenset({('String', 'blue')})})"
    ]


def test_an_rdf_export_is_n_quads_each_with_its_graph(dynamo: tuple[Any, TableNames], tmp_path: Path) -> None:
    client, tables = dynamo
    statements = [
        ("ADD", '<http://ex/a> <http://ex/p> "x"@en .'),
        ("ADD", "_:n1 <http://ex/q> <http://ex/a> <http://ex/g> ."),
        ("ADD", '<http://ex/a> <http://ex/p> "y" .'),
        ("REMOVE", '<http://ex/a> <http://ex/p> "x"@en .'),
    ]
    events = []
    for commit, (op, text) in enumerate(statements, 1):
        s = parse_statement(text)
        events.append(
            StreamEvent(EventId(commit, 1), commit, op, s.subject_key, s.object_kind, None, None, None, None, None, True, s)
        )
    write_capture(client, tables, events, batch=3)
    source = captured.Source(client, tables, STREAM)
    report = export(source, Point(commit_num=3), tmp_path / "3")
    assert report.model == "rdf" and report.statements == 3
    lines = sorted(line for f in sorted((tmp_path / "3").glob("*.nq")) for line in f.read_text().splitlines())
    assert lines == [
        '<http://ex/a> <http://ex/p> "x"@en <http://aws.amazon.com/neptune/vocab/v01/DefaultNamedGraph> .',
        '<http://ex/a> <http://ex/p> "y" <http://aws.amazon.com/neptune/vocab/v01/DefaultNamedGraph> .',
        "_:n1 <http://ex/q> <http://ex/a> <http://ex/g> .",
    ]
    assert read_export(export(source, Point(commit_num=4), tmp_path / "4").out) == {
        "quads": frozenset(
            {
                ("<http://ex/a>", "<http://ex/p>", '"y"', "<http://aws.amazon.com/neptune/vocab/v01/DefaultNamedGraph>"),
                ("_:n1", "<http://ex/q>", "<http://ex/a>", "<http://ex/g>"),
            }
        )
    }
