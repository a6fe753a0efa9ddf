"""The emulator driven the way users drive Neptune: gremlinpython over a real WebSocket, the stream
read back through boto3's neptunedata client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.driver.serializer import GraphSONSerializersV3d0
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Cardinality, Direction, Merge, P, T

from neptune_capture.errors import MalformedPageError
from neptune_capture.events import StreamPage, parse_page
from neptune_capture.stream_source import to_documented_shape
from neptune_emulator.engine import Engine
from neptune_emulator.server import EmulatorServer, set_faults
from tests.emulator.conftest import read_all

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`

FIXTURE = json.loads((Path(__file__).parent.parent / "fixtures" / "propertygraph_stream_response.json").read_text())


def ops(records: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    return [(r["eventId"]["commitNum"], r["eventId"]["opNum"], r["data"]["type"], r["op"], r["data"].get("key")) for r in records]


def test_the_reference_page_is_reproduced_field_for_field(g: Any, neptune: Any) -> None:
    g.add_v("state").property(T.id, "0").property("name", "Texas").add_v("review").property(T.id, "768").iterate()
    page = neptune.get_propertygraph_stream(limit=10, iteratorType="TRIM_HORIZON")
    records = page["records"]
    for ours, theirs in zip(records, FIXTURE["records"], strict=True):
        assert ours["eventId"] == theirs["eventId"]
        assert ours["data"] == theirs["data"]
        assert ours["op"] == theirs["op"]
        assert isinstance(ours["commitTimestampInMillis"], int)
    # The one documented difference: this emulator flags the transaction's last op, which the 1.1.1.0
    # fixture predates.
    assert [r.get("isLastOp", False) for r in records] == [False, False, True]
    assert page["lastEventId"] == FIXTURE["lastEventId"] and page["format"] == "PG_JSON" and page["totalRecords"] == 3


def test_each_traversal_is_one_transaction_numbered_in_order(g: Any, neptune: Any) -> None:
    a = (
        g.add_v("person")
        .property("name", "ann")
        .property(Cardinality.set_, "tag", "x")
        .property(Cardinality.set_, "tag", "y")
        .next()
    )
    b = g.add_v("person").property("name", "bob").next()
    g.V(a.id).add_e("knows").to(__.V(b.id)).property("since", 2020).iterate()
    g.V(a.id).property(Cardinality.single, "name", "anne").iterate()  # REMOVE old, ADD new
    g.V().has("person", "name", "nobody").drop().iterate()  # changes nothing: no commit
    assert ops(read_all(neptune)) == [
        (1, 1, "vl", "ADD", "label"),
        (1, 2, "vp", "ADD", "name"),
        (1, 3, "vp", "ADD", "tag"),
        (1, 4, "vp", "ADD", "tag"),
        (2, 1, "vl", "ADD", "label"),
        (2, 2, "vp", "ADD", "name"),
        (3, 1, "e", "ADD", "label"),
        (3, 2, "ep", "ADD", "since"),
        (4, 1, "vp", "REMOVE", "name"),
        (4, 2, "vp", "ADD", "name"),
    ]
    records = read_all(neptune)
    assert [r["eventId"]["opNum"] for r in records if r.get("isLastOp")] == [4, 2, 2, 2]
    edge = records[6]["data"]
    assert edge["from"] == a.id and edge["to"] == b.id and edge["value"] == {"value": "knows", "dataType": "String"}
    assert records[7]["data"]["value"] == {"value": 2020, "dataType": "Integer"}
    assert len(a.id) == 36, "Neptune assigns UUID string ids"


def test_dropping_a_vertex_removes_its_properties_edges_and_label(g: Any, neptune: Any) -> None:
    g.add_v("a").property(T.id, "a").property("p", 1).add_v("b").property(T.id, "b").iterate()
    g.V("a").add_e("e").to(__.V("b")).property(T.id, "e1").property("w", 0.5).iterate()
    before = len(read_all(neptune))
    g.V("a").drop().iterate()
    removed = read_all(neptune)[before:]
    assert [(r["data"]["type"], r["data"]["id"], r["op"]) for r in removed] == [
        ("ep", "e1", "REMOVE"),
        ("e", "e1", "REMOVE"),
        ("vp", "a", "REMOVE"),
        ("vl", "a", "REMOVE"),
    ]
    assert {r["eventId"]["commitNum"] for r in removed} == {3}
    assert g.V().id_().to_list() == ["b"] and g.E().count().next() == 0


def test_read_steps_answer_like_gremlin(g: Any) -> None:
    g.add_v("city").property(T.id, "c1").property("name", "Austin").property("pop", 950_000).iterate()
    g.add_v("city").property(T.id, "c2").property("name", "Dallas").property("pop", 1_300_000).iterate()
    g.V("c1").add_e("road").to(__.V("c2")).property("km", 312).iterate()
    assert g.V().has("pop", P.gt(1_000_000)).values("name").to_list() == ["Dallas"]
    assert g.V().has_label("city").count().next() == 2
    assert g.V("c1").out("road").id_().to_list() == ["c2"]
    assert g.V("c2").in_("road").values("name").to_list() == ["Austin"]
    assert g.V("c1").out_e().in_v().id_().to_list() == ["c2"]
    assert g.V("c2").both().label().to_list() == ["city"]
    assert g.V().has_id("c1", "c2").limit(1).count().next() == 1
    assert g.V("c1").value_map().next() == {"name": ["Austin"], "pop": [950_000]}
    assert g.V("c1").element_map().next() == {T.id: "c1", T.label: "city", "name": "Austin", "pop": 950_000}
    edge = g.E().element_map().next()
    assert edge[Direction.OUT] == {T.id: "c1", T.label: "city"} and edge["km"] == 312
    assert g.V().values("name").fold().next() == ["Austin", "Dallas"]
    assert g.V().fold().unfold().count().next() == 2


def test_upserts_with_coalesce_and_merge(g: Any, neptune: Any) -> None:
    def upsert(name: str) -> Any:
        return g.V().has("user", "name", name).fold().coalesce(__.unfold(), __.add_v("user").property("name", name)).next()

    first, again = upsert("kim"), upsert("kim")
    assert first.id == again.id and g.V().count().next() == 1
    merged = (
        g.merge_v({T.label: "user", "name": "lee"})
        .option(Merge.on_create, {"visits": 1})
        .option(Merge.on_match, {"visits": 2})
        .next()
    )
    g.merge_v({T.label: "user", "name": "lee"}).option(Merge.on_create, {"visits": 1}).option(
        Merge.on_match, {"visits": 2}
    ).iterate()
    assert g.V(merged.id).values("visits").to_list() == [2]
    g.merge_e({T.label: "follows", Direction.OUT: first.id, Direction.IN: merged.id}).iterate()
    g.merge_e({T.label: "follows", Direction.OUT: first.id, Direction.IN: merged.id}).iterate()
    assert g.E().count().next() == 1
    kinds = [(r["data"]["type"], r["op"]) for r in read_all(neptune)]
    assert kinds.count(("e", "ADD")) == 1 and kinds.count(("vl", "ADD")) == 2


def test_an_unsupported_step_is_an_error_naming_it_and_changes_nothing(g: Any, neptune: Any) -> None:
    with pytest.raises(GremlinServerError, match="does not support the Gremlin step 'order'"):
        g.add_v("x").order().to_list()
    with pytest.raises(GremlinServerError, match="Vertex with id already exists: dup"):
        g.add_v("x").property(T.id, "dup").add_v("x").property(T.id, "dup").iterate()
    assert g.V().count().next() == 0
    with pytest.raises(ClientError, match="StreamRecordsNotFoundException"):
        read_all(neptune)


def test_graphson3_clients_work_too(emulator: EmulatorServer, neptune: Any) -> None:
    connection = DriverRemoteConnection(emulator.gremlin_url, "g", message_serializer=GraphSONSerializersV3d0())
    g = traversal().with_(connection)
    try:
        v = g.add_v("thing").property("n", 1.5).next()
        assert g.V(v.id).values("n").next() == 1.5
    finally:
        connection.close()
    assert [r["data"]["type"] for r in read_all(neptune)] == ["vl", "vp"]


def test_iterator_types_limit_and_end_of_stream(g: Any, neptune: Any) -> None:
    for i in range(5):
        g.add_v("n").property("i", i).iterate()  # commits 1..5, two ops each
    get = neptune.get_propertygraph_stream
    assert ops(get(limit=3, iteratorType="TRIM_HORIZON")["records"])[-1][:2] == (2, 1)
    assert ops(get(limit=2, iteratorType="AT_SEQUENCE_NUMBER", commitNum=3, opNum=2)["records"])[0][:2] == (3, 2)
    assert ops(get(limit=2, iteratorType="AFTER_SEQUENCE_NUMBER", commitNum=3, opNum=2)["records"])[0][:2] == (4, 1)
    assert ops(get(limit=10, iteratorType="LATEST")["records"]) == [(5, 2, "vp", "ADD", "i")]
    with pytest.raises(ClientError) as end:
        get(limit=10, iteratorType="AFTER_SEQUENCE_NUMBER", commitNum=5, opNum=2)
    assert end.value.response["Error"]["Code"] == "StreamRecordsNotFoundException"
    assert end.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


@pytest.mark.parametrize(
    "query", ["limit=0&iteratorType=TRIM_HORIZON", "limit=100001&iteratorType=TRIM_HORIZON", "iteratorType=NEWEST"]
)
def test_invalid_parameters_are_400_with_the_documented_code(emulator: EmulatorServer, query: str) -> None:
    # boto3 refuses these before sending, so ask over plain HTTP what the server itself says.
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(f"{emulator.endpoint}/pg/stream?{query}", timeout=10)
    assert error.value.code == 400
    assert json.loads(error.value.read())["code"] == "InvalidParameterException"


def test_the_10mb_cap_includes_the_record_that_crosses_it(g: Any, neptune: Any) -> None:
    for i in range(5):
        g.add_v("blob").property(T.id, f"b{i}").property("data", "x" * 3_000_000).iterate()
    page = neptune.get_propertygraph_stream(limit=100, iteratorType="TRIM_HORIZON")
    # 2 records per commit: label (small) and 3 MB value. 3 big values fit 10 MB; the 4th crosses it and is
    # still returned; nothing after it.
    assert page["totalRecords"] == 8 and page["lastEventId"] == {"commitNum": 4, "opNum": 2}


def test_retention_expires_old_positions(emulator: EmulatorServer, g: Any, neptune: Any, clock: Any) -> None:
    g.add_v("old").iterate()
    clock.t += 61  # retention is 60 s in this fixture
    g.add_v("new").iterate()
    with pytest.raises(ClientError) as expired:
        neptune.get_propertygraph_stream(limit=10, iteratorType="AT_SEQUENCE_NUMBER", commitNum=1, opNum=1)
    assert expired.value.response["Error"]["Code"] == "ExpiredStreamException"
    assert expired.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert ops(read_all(neptune)) == [(2, 1, "vl", "ADD", "label")]
    # Reading after the newest expired record is still fine.
    assert (
        neptune.get_propertygraph_stream(limit=10, iteratorType="AFTER_SEQUENCE_NUMBER", commitNum=1, opNum=1)["totalRecords"]
        == 1
    )


def test_status_and_fast_reset(g: Any, neptune: Any) -> None:
    status = neptune.get_engine_status()
    assert status["status"] == "healthy" and status["role"] == "writer" and status["features"]["Streams"] == "enabled"
    g.add_v("x").iterate()
    with pytest.raises(ClientError, match="InvalidParameterException"):
        neptune.execute_fast_reset(action="performDatabaseReset", token="guess")
    token = neptune.execute_fast_reset(action="initiateDatabaseReset")["payload"]["token"]
    neptune.execute_fast_reset(action="performDatabaseReset", token=token)
    assert g.V().count().next() == 0
    with pytest.raises(ClientError, match="StreamRecordsNotFoundException"):
        read_all(neptune)
    g.add_v("y").iterate()
    assert read_all(neptune)[0]["eventId"] == {"commitNum": 1, "opNum": 1}


@pytest.mark.parametrize(
    ("kind", "status"), [("ThrottlingException", 500), ("MemoryLimitExceededException", 500), ("InternalFailure", 503)]
)
def test_fault_injection(emulator: EmulatorServer, g: Any, neptune: Any, kind: str, status: int) -> None:
    g.add_v("x").iterate()
    set_faults(emulator.endpoint, kind, rate=1.0)
    with pytest.raises(ClientError) as error:
        read_all(neptune)
    assert error.value.response["Error"]["Code"] == kind
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == status
    set_faults(emulator.endpoint, None)
    assert len(read_all(neptune)) == 1


def test_malformed_pages_up_to_a_limit_then_whole_ones(emulator: EmulatorServer, g: Any, neptune: Any) -> None:
    g.add_v("x").property("name", "a").iterate()
    set_faults(emulator.endpoint, "malformed", rate=1.0, limit=3, seed=3)

    def read() -> StreamPage:
        return parse_page(to_documented_shape(neptune.get_propertygraph_stream(iteratorType="TRIM_HORIZON", limit=10)), None)

    for _ in range(3):
        with pytest.raises(MalformedPageError):
            read()
    assert len(read().events) == 2
    assert emulator.engine.faults.injected == 3


def test_a_restart_keeps_every_committed_change_and_continues_numbering(tmp_path: Path) -> None:
    db = str(tmp_path / "graph.db")
    with EmulatorServer(Engine(db)) as server:
        connection = DriverRemoteConnection(server.gremlin_url, "g")
        g = traversal().with_(connection)
        g.add_v("a").property(T.id, "a").property("k", "v").add_v("b").property(T.id, "b").iterate()
        g.V("a").add_e("r").to(__.V("b")).property("w", 2).iterate()
        g.V("a").property(Cardinality.set_, "tags", "t1").iterate()
        connection.close()
    with EmulatorServer(Engine(db)) as server:
        connection = DriverRemoteConnection(server.gremlin_url, "g")
        g = traversal().with_(connection)
        assert g.V("a").value_map().next() == {"k": ["v"], "tags": ["t1"]}
        assert g.V("a").out_e("r").values("w").to_list() == [2]
        g.add_v("c").iterate()
        connection.close()
        import boto3

        neptune = boto3.client("neptunedata", endpoint_url=server.endpoint, region_name="us-east-1")
        assert [r["eventId"]["commitNum"] for r in read_all(neptune)] == [1, 1, 1, 2, 2, 3, 4]
