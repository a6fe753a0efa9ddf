"""One test per behaviour of Neptune the user guide documents and a user could tell apart: each names the
page it follows. Driven as users drive Neptune: gremlinpython over a real WebSocket, the stream read back
through boto3's neptunedata client (or plain HTTP where boto3 would refuse the request first)."""

from __future__ import annotations

import gzip
import json
import re
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.driver.serializer import GraphBinarySerializersV1, GraphSONMessageSerializer
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Cardinality, T
from gremlin_python.statics import SingleByte, long, short
from gremlin_python.structure.io import graphbinaryV1, graphsonV3d0

from neptune_emulator.engine import Engine
from neptune_emulator.server import EmulatorServer, set_faults
from tests.emulator.conftest import read_all

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`


def changes(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["data"]["type"], r["op"], r["data"]["id"], r["data"]["key"], r["data"]["value"]["value"]) for r in records]


def since(neptune: Any, before: int) -> list[dict[str, Any]]:
    return read_all(neptune)[before:]


def neptune_error(error: pytest.ExceptionInfo[GremlinServerError]) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(error.value.status_message)
    return body


def test_default_cardinality_is_set(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#feature-gremlin-differences-vertex-property-cardinality:
    "If it isn't specified, set cardinality is selected ... it adds a new value to the property, but only if it doesn't
    already appear"."""
    g.add_v("person").property(T.id, "p").property("nick", "al").iterate()
    g.V("p").property("nick", "ally").iterate()
    g.V("p").property("nick", "al").iterate()  # already there: no change, no commit
    assert changes(read_all(neptune)) == [
        ("vl", "ADD", "p", "label", "person"),
        ("vp", "ADD", "p", "nick", "al"),
        ("vp", "ADD", "p", "nick", "ally"),
    ]
    assert sorted(g.V("p").values("nick").to_list()) == ["al", "ally"]


def test_single_cardinality_removes_every_value_then_adds(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#feature-gremlin-differences-vertex-property-update:
    property(single, ...) "removes all existing values";
    https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html: an update is "the first [record] for
    removing the previous value, and the second for inserting the new value"."""
    g.add_v("person").property(T.id, "p").property("nick", "al").property("nick", "ally").iterate()
    before = len(read_all(neptune))
    g.V("p").property(Cardinality.single, "nick", "bo").iterate()
    assert changes(since(neptune, before)) == [
        ("vp", "REMOVE", "p", "nick", "al"),
        ("vp", "REMOVE", "p", "nick", "ally"),
        ("vp", "ADD", "p", "nick", "bo"),
    ]
    assert g.V("p").values("nick").to_list() == ["bo"]


def test_list_cardinality_is_refused_and_changes_nothing(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#feature-gremlin-differences-vertex-property-cardinality:
    "List is not supported." (The guide does not name the error code; the emulator answers UnsupportedOperationException.)"""
    with pytest.raises(GremlinServerError) as error:
        g.add_v("person").property(Cardinality.list_, "nick", "al").iterate()
    assert error.value.status_code == 400
    assert neptune_error(error)["code"] == "UnsupportedOperationException"
    assert "list cardinality" in neptune_error(error)["detailedMessage"]
    assert g.V().count().next() == 0


def test_a_vertex_has_one_record_per_label_on_insert_and_drop(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#feature-gremlin-differences-labels:
    addV("Label1::Label2") adds a vertex with two labels; hasLabel matches either, never "Label1::Label2".
    https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html: "A separate change record is generated
    for each label"."""
    g.add_v("person::customer").property(T.id, "c").property("name", "cy").iterate()
    assert changes(read_all(neptune)) == [
        ("vl", "ADD", "c", "label", "person"),
        ("vl", "ADD", "c", "label", "customer"),
        ("vp", "ADD", "c", "name", "cy"),
    ]
    assert g.V().has_label("person").id_().to_list() == ["c"]
    assert g.V().has_label("customer").id_().to_list() == ["c"]
    assert g.V().has_label("person::customer").to_list() == []
    assert g.V("c").label().next() == "person::customer"
    before = len(read_all(neptune))
    g.V("c").drop().iterate()
    assert changes(since(neptune, before)) == [
        ("vp", "REMOVE", "c", "name", "cy"),
        ("vl", "REMOVE", "c", "label", "person"),
        ("vl", "REMOVE", "c", "label", "customer"),
    ]


def test_add_v_with_an_existing_id_and_a_new_label_adds_the_label(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#feature-gremlin-differences-user-supplied-ids:
    addV('label2').property(id, 'customid') on an existing vertex "adds the new label and any additional properties ...
    Nothing is overwritten", and label() answers label1::label2; with a label it already has, "the operation fails"."""
    g.add_v("label1").property(T.id, "customid").property("k", "v1").iterate()
    before = len(read_all(neptune))
    g.add_v("label2").property(T.id, "customid").property("k", "v2").iterate()
    assert changes(since(neptune, before)) == [
        ("vl", "ADD", "customid", "label", "label2"),
        ("vp", "ADD", "customid", "k", "v2"),
    ]
    assert g.V("customid").label().next() == "label1::label2"
    assert sorted(g.V("customid").values("k").to_list()) == ["v1", "v2"]
    assert g.V().count().next() == 1
    with pytest.raises(GremlinServerError) as error:
        g.add_v("label1").property(T.id, "customid").iterate()
    assert neptune_error(error)["code"] == "ConstraintViolationException"
    assert neptune_error(error)["detailedMessage"] == "Vertex with id already exists: customid"


def test_ids_are_strings(g: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#feature-gremlin-differences-vertex-edge-ids:
    "Neptune Gremlin Vertex and Edge IDs must be of type String"; without one, Neptune generates a UUID string.
    (The guide does not name the error for another type; the emulator answers IllegalArgumentException.)"""
    generated = g.add_v("x").id_().next()
    assert isinstance(generated, str) and uuid.UUID(generated)
    with pytest.raises(GremlinServerError) as error:
        g.add_v("x").property(T.id, 7).iterate()
    assert neptune_error(error)["code"] == "IllegalArgumentException"
    assert neptune_error(error)["detailedMessage"] == "Neptune vertex and edge ids must be strings, got int 7"
    assert g.V().count().next() == 1


def test_properties_drop_removes_values(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html: "A separate change record is generated
    for each element property that is deleted"; properties(k).drop() is Gremlin's way to delete a property,
    properties(k).hasValue(v).drop() one value of a set
    (https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#feature-gremlin-differences-vertex-property-cardinality)."""
    g.add_v("a").property(T.id, "a").property("tag", "x").property("tag", "y").property("tag", "z").iterate()
    g.add_v("b").property(T.id, "b").iterate()
    g.V("a").add_e("r").to(__.V("b")).property(T.id, "e").property("w", 1).iterate()
    before = len(read_all(neptune))
    g.V("a").properties("tag").has_value("y").drop().iterate()
    g.V("a").properties("tag").drop().iterate()
    g.E("e").properties("w").drop().iterate()
    assert changes(since(neptune, before)) == [
        ("vp", "REMOVE", "a", "tag", "y"),
        ("vp", "REMOVE", "a", "tag", "x"),
        ("vp", "REMOVE", "a", "tag", "z"),
        ("ep", "REMOVE", "e", "w", 1),
    ]
    assert g.V("a").properties().to_list() == [] and g.E("e").values().to_list() == []


def test_meta_properties_are_refused(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#gremlin-api-vertex-features:
    the MetaProperties feature is false, so property(k, v, metaKey, metaValue) fails (UnsupportedOperationException) and
    changes nothing."""
    with pytest.raises(GremlinServerError) as error:
        g.add_v("a").property("name", "ann", "since", 2020).iterate()
    assert error.value.status_code == 400
    assert neptune_error(error)["code"] == "UnsupportedOperationException"
    assert "meta-properties" in neptune_error(error)["detailedMessage"]
    with pytest.raises(ClientError, match="StreamRecordsNotFoundException"):
        read_all(neptune)


def test_gremlin_errors_carry_neptunes_json_body_and_status(g: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/errors-engine-codes.html: "Neptune error messages return a relevant
    HTTP error code and a JSON-formatted response" with requestId, code and detailedMessage; over WebSocket that body is the
    status message (https://github.com/apache/tinkerpop/pull/1729 shows "500: {...ConcurrentModificationException...}")."""
    g.add_v("x").property(T.id, "dup").iterate()
    with pytest.raises(GremlinServerError) as error:
        g.add_v("x").property(T.id, "dup").iterate()
    body = neptune_error(error)
    assert set(body) == {"requestId", "code", "detailedMessage"}
    assert body["code"] == "ConstraintViolationException" and error.value.status_code == 400
    uuid.UUID(body["requestId"])
    with pytest.raises(GremlinServerError) as error:
        g.V().order().to_list()
    assert neptune_error(error)["code"] == "UnsupportedOperationException"
    assert "emulator does not support the Gremlin step 'order'" in neptune_error(error)["detailedMessage"]


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ConcurrentModificationException", 500),
        ("TimeLimitExceededException", 500),
        ("MemoryLimitExceededException", 500),
        ("ReadOnlyViolationException", 400),
        ("TooManyRequestsException", 429),
    ],
)
def test_injected_gremlin_errors_exercise_a_clients_retry_on_code(
    emulator: EmulatorServer, g: Any, neptune: Any, code: str, status: int
) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/errors-engine-codes.html: each code with its HTTP status; a refused
    traversal is rolled back. A client that retries on the code (as the Lambda examples of
    https://docs.aws.amazon.com/neptune/latest/userguide/lambda-functions-examples.html do) gets through once the fault
    clears."""
    set_faults(emulator.endpoint, code, rate=1.0, limit=2, api="gremlin")
    seen: list[tuple[int, str]] = []
    for _ in range(5):
        try:
            g.add_v("x").property(T.id, "once").iterate()
            break
        except GremlinServerError as error:
            seen.append((error.status_code, json.loads(error.status_message)["code"]))
    assert seen == [(status, code), (status, code)]
    assert changes(read_all(neptune)) == [("vl", "ADD", "once", "label", "x")]
    assert emulator.engine.gremlin_faults.injected == 2


def test_the_stream_defaults_to_at_sequence_number(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html: iteratorType "AT_SEQUENCE_NUMBER
    (default)": reading starts at the event asked for."""
    for i in range(3):
        g.add_v("n").property("i", i).iterate()
    page = neptune.get_propertygraph_stream(commitNum=2, opNum=1, limit=10)
    assert page["records"][0]["eventId"] == {"commitNum": 2, "opNum": 1}


def test_past_the_end_is_404_naming_the_last_valid_event(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html and
    https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-exceptions.html: StreamRecordsNotFoundException
    (404); its message names the last valid event id in the words AWS's neptune-export parses
    (StreamRecordsNotFoundExceptionParser, https://github.com/aws/neptune-export)."""
    g.add_v("n").property("i", 1).iterate()
    with pytest.raises(ClientError) as end:
        neptune.get_propertygraph_stream(iteratorType="AFTER_SEQUENCE_NUMBER", commitNum=1, opNum=2)
    assert end.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    message = end.value.response["Error"]["Message"]
    assert message == "Requested startEventId is from the future. Last valid eventId is [commitNum = 1, opNum = 2]"
    assert [int(n) for n in re.findall(r"\d+", message)] == [1, 2]  # neptune-export's parse


def test_gzip_when_asked(emulator: EmulatorServer, g: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html: "Neptune supports gzip compression of
    the response, provided that the HTTP request includes an Accept-Encoding header that specifies gzip"."""
    g.add_v("n").property("text", "abc" * 1000).iterate()
    url = f"{emulator.endpoint}/pg/stream?iteratorType=TRIM_HORIZON&limit=10"
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept-Encoding": "gzip"}), timeout=10) as resp:
        assert resp.headers["Content-Encoding"] == "gzip"
        compressed = resp.read()
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept-Encoding": "identity"}), timeout=10) as resp:
        assert resp.headers.get("Content-Encoding") is None
        plain = resp.read()
    assert json.loads(gzip.decompress(compressed)) == json.loads(plain) and len(compressed) < len(plain) / 10
    with urllib.request.urlopen(urllib.request.Request(url, headers={"Accept-Encoding": "deflate"}), timeout=10) as resp:
        assert resp.headers.get("Content-Encoding") is None  # gzip is the one the guide names


def test_a_dropped_vertex_removes_edge_properties_then_edges_then_its_properties_then_labels(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html: "When a Gremlin vertex is deleted, all
    the incoming and outgoing edge properties are deleted first, then the edge labels, then the vertex properties, and finally
    the vertex labels"."""
    g.add_v("a::b").property(T.id, "v").property("p", 1).add_v("o").property(T.id, "o").iterate()
    g.V("v").add_e("out").to(__.V("o")).property(T.id, "e1").property("w", 1).property("x", 2).iterate()
    g.V("o").add_e("in").to(__.V("v")).property(T.id, "e2").property("w", 3).iterate()
    g.V("v").add_e("self").to(__.V("v")).property(T.id, "e3").iterate()
    before = len(read_all(neptune))
    g.V("v").drop().iterate()
    removed = since(neptune, before)
    assert [(r["data"]["type"], r["data"]["id"], r["data"]["key"]) for r in removed] == [
        ("ep", "e1", "w"),
        ("ep", "e1", "x"),
        ("ep", "e2", "w"),
        ("e", "e1", "label"),
        ("e", "e3", "label"),
        ("e", "e2", "label"),
        ("vp", "v", "p"),
        ("vl", "v", "label"),
        ("vl", "v", "label"),
    ]
    assert {r["op"] for r in removed} == {"REMOVE"} and len({r["eventId"]["commitNum"] for r in removed}) == 1


class JavaFloat(float):
    """What a Java client's Float is; gremlinpython has no type of its own for it."""


@pytest.mark.parametrize("serializer", ["graphbinary", "graphson"])
def test_each_gremlin_type_is_recorded_with_the_type_the_client_sent(
    emulator: EmulatorServer, neptune: Any, serializer: str
) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html: each record carries the value and its
    dataType;
    https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#gremlin-api-vertex-property-features
    lists Boolean, Byte, Double, Float, Integer, Long and String values, plus Date. GraphBinary and GraphSON carry the type,
    so a Long stays a Long even when it would fit 32 bits. The names and the Date form (ISO-8601 instant, milliseconds, Z) are
    those of AWS's neptune-export stream format; the guide lists none of them but String (see docs/emulator.md)."""
    message = (
        GraphBinarySerializersV1(writer=graphbinaryV1.GraphBinaryWriter({JavaFloat: graphbinaryV1.FloatIO}))
        if serializer == "graphbinary"
        else GraphSONMessageSerializer(writer=graphsonV3d0.GraphSONWriter({JavaFloat: graphsonV3d0.FloatIO}))
    )
    connection = DriverRemoteConnection(emulator.gremlin_url, "g", message_serializer=message)
    g = traversal().with_(connection)
    sent: list[tuple[str, Any, Any, str]] = [
        ("int", 7, 7, "Integer"),
        ("long", long(7), 7, "Long"),
        ("short", short(7), 7, "Short"),
        ("byte", SingleByte(7), 7, "Byte"),
        ("double", 2.5, 2.5, "Double"),
        ("float", JavaFloat(2.5), 2.5, "Float"),
        ("bool", True, True, "Boolean"),
        ("text", "héllo", "héllo", "String"),
        ("date", datetime(2024, 5, 1, 10, 0, 0, 250000), "2024-05-01T10:00:00.250Z", "Date"),
        ("zoned", datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2))), "2024-05-01T10:00:00Z", "Date"),
    ]
    try:
        t = g.add_v("typed").property(T.id, "t")
        for key, value, _, _ in sent:
            t = t.property(key, value)
        t.iterate()
        assert g.V("t").values("date").next() == datetime(2024, 5, 1, 10, 0, 0, 250000)
        for bad in (uuid.uuid4(), [1, 2], {"a": 1}):
            with pytest.raises(GremlinServerError) as error:
                g.V("t").property("bad", bad).iterate()
            assert neptune_error(error)["code"] == "UnsupportedOperationException"
    finally:
        connection.close()
    recorded = {r["data"]["key"]: r["data"]["value"] for r in read_all(neptune) if r["data"]["type"] == "vp"}
    assert recorded == {key: {"value": value, "dataType": kind} for key, _, value, kind in sent}
    assert all(r["data"]["value"]["dataType"] == "String" for r in read_all(neptune) if r["data"]["type"] == "vl")


def test_typed_values_and_labels_survive_a_restart(tmp_path: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/streams-change-formats.html: a REMOVE record carries the value
    removed, with its dataType, also after the emulator reloaded its graph from disk; labels
    (https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html#feature-gremlin-differences-labels)
    too."""
    db = str(tmp_path / "graph.db")
    with EmulatorServer(Engine(db)) as server:
        connection = DriverRemoteConnection(server.gremlin_url, "g")
        g = traversal().with_(connection)
        g.add_v("a::b").property(T.id, "v").property("n", long(5)).property("d", datetime(2024, 1, 2, tzinfo=UTC)).iterate()
        connection.close()
    with EmulatorServer(Engine(db)) as server:
        connection = DriverRemoteConnection(server.gremlin_url, "g")
        g = traversal().with_(connection)
        assert g.V("v").label().next() == "a::b"
        g.V("v").drop().iterate()
        connection.close()
        import boto3

        neptune = boto3.client("neptunedata", endpoint_url=server.endpoint, region_name="us-east-1")
        removed = [r for r in read_all(neptune) if r["op"] == "REMOVE"]
    assert [(r["data"]["type"], r["data"]["value"]) for r in removed] == [
        ("vp", {"value": 5, "dataType": "Long"}),
        ("vp", {"value": "2024-01-02T00:00:00Z", "dataType": "Date"}),
        ("vl", {"value": "a", "dataType": "String"}),
        ("vl", {"value": "b", "dataType": "String"}),
    ]


def test_invalid_gremlin_fault_kinds_are_refused(emulator: EmulatorServer) -> None:
    """The fault-injection endpoint names what it accepts rather than injecting something undocumented."""
    with pytest.raises(urllib.error.HTTPError) as error:
        set_faults(emulator.endpoint, "NoSuchException", api="gremlin")
    assert error.value.code == 400 and "ConcurrentModificationException" in json.loads(error.value.read())["error"]


def test_latest_answers_the_newest_record_alone(g: Any, neptune: Any) -> None:
    """https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-api-call.html: LATEST "Indicates that reading
    should start at the most recent record in the system", and "at most one record is returned". The newest record is
    the last op of the newest transaction: a transaction's changes appear together once it is complete
    (https://docs.aws.amazon.com/neptune/latest/userguide/streams.html)."""
    with pytest.raises(ClientError) as empty:
        neptune.get_propertygraph_stream(iteratorType="LATEST", limit=10)
    assert empty.value.response["Error"]["Code"] == "StreamRecordsNotFoundException"
    g.add_v("n").property("i", 1).iterate()
    g.add_v("n").property("i", 2).property("j", 3).iterate()
    page = neptune.get_propertygraph_stream(iteratorType="LATEST", limit=10)
    (record,) = page["records"]
    assert record["eventId"] == {"commitNum": 2, "opNum": 3} and record["isLastOp"] is True


def test_a_cluster_without_streams_says_so_and_serves_no_change_log(tmp_path: Any) -> None:
    """A cluster whose parameter group has neptune_streams=0 (https://docs.aws.amazon.com/neptune/latest/userguide/
    streams-using-enabling.html): /status reports "Streams": "disabled" in `features`, as the public-endpoints page shows
    a cluster without Streams answering (https://docs.aws.amazon.com/neptune/latest/userguide/neptune-public-endpoints.html,
    tests/fixtures/status_streams_disabled.json); "you can't access the change-log data"
    (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-disabling.html), while the graph works as ever.
    The error the Streams endpoint then answers is the emulator's choice: the guide does not document it."""
    fixture = json.loads((Path(__file__).parents[1] / "fixtures" / "status_streams_disabled.json").read_text())
    with EmulatorServer(Engine(str(tmp_path / "graph.db"), streams_enabled=False)) as server:
        neptune = boto3.client("neptunedata", endpoint_url=server.endpoint, region_name="us-east-1")
        status: dict[str, Any] = dict(neptune.get_engine_status())
        streams: Any = status["features"]["Streams"]
        assert streams == fixture["features"]["Streams"] == "disabled"
        assert set(status) - {"ResponseMetadata"} <= set(fixture)
        connection = DriverRemoteConnection(server.gremlin_url, "g")
        g = traversal().with_(connection)
        g.add_v("n").property(T.id, "a").iterate()
        assert g.V("a").count().next() == 1
        connection.close()
        with pytest.raises(ClientError) as refused:
            neptune.get_propertygraph_stream(iteratorType="TRIM_HORIZON")
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        assert "neptune_streams" in refused.value.response["Error"]["Message"]
    # Enabled at the next "reboot": changes made meanwhile were never logged; the graph kept them.
    with EmulatorServer(Engine(str(tmp_path / "graph.db"))) as server:
        neptune = boto3.client("neptunedata", endpoint_url=server.endpoint, region_name="us-east-1")
        enabled: Any = neptune.get_engine_status()["features"]["Streams"]
        assert enabled == "enabled"
        assert read_all_or_none(neptune) == []


def read_all_or_none(neptune: Any) -> list[dict[str, Any]]:
    try:
        return read_all(neptune)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "StreamRecordsNotFoundException"
        return []
