"""The emulator meets Neptune's clients as they are configured for Neptune (issue 22): TLS, Gremlin sessions,
every serializer gremlinpython offers and every enum token it sends, the bulk-insert steps, Neptune's JSON error
for what is not served, and the SPARQL 1.1 Protocol's dataset parameters. Each test names the page whose
behaviour it holds."""

from __future__ import annotations

import asyncio
import json
import signal
import ssl
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import boto3
import pytest
from botocore.exceptions import ClientError, SSLError
from gremlin_python.driver.driver_remote_connection import DriverRemoteConnection
from gremlin_python.driver.protocol import GremlinServerError
from gremlin_python.driver.request import RequestMessage
from gremlin_python.driver.serializer import GraphBinarySerializersV1, GraphSONSerializersV2d0, GraphSONSerializersV3d0
from gremlin_python.process.anonymous_traversal import traversal
from gremlin_python.process.graph_traversal import __
from gremlin_python.process.traversal import Cardinality, Column, Direction, Merge, Operator, Order, P, Pop, Scope, T, TextP

from neptune_emulator.engine import Engine
from neptune_emulator.server import EmulatorServer
from neptune_emulator.tls import CA_FILE, client_context, server_tls
from tests.emulator.conftest import Clock, read_all

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`

SERIALIZERS = {
    "graphbinary": GraphBinarySerializersV1,
    "graphson3": GraphSONSerializersV3d0,
    "graphson2": GraphSONSerializersV2d0,
}
# Pages the session tests follow: https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-sessions.html,
# https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-transactions.html and
# https://docs.aws.amazon.com/neptune/latest/userguide/transactions-neptune.html.


def records_of(neptune: Any) -> list[dict[str, Any]]:
    """Every record of the stream; an empty stream answers StreamRecordsNotFoundException (streams-using-api-call.html)."""
    try:
        return read_all(neptune)
    except ClientError as error:
        assert error.response["Error"]["Code"] == "StreamRecordsNotFoundException"
        return []


def commits(records: list[dict[str, Any]]) -> list[int]:
    return sorted({r["eventId"]["commitNum"] for r in records})


def _json_error(error: urllib.error.HTTPError) -> dict[str, Any]:
    assert error.headers.get_content_type() == "application/json"
    body: dict[str, Any] = json.loads(error.read())
    assert set(body) == {"requestId", "code", "detailedMessage"}
    return body


# -- 1. TLS (https://docs.aws.amazon.com/neptune/latest/userguide/security-ssl.html: HTTPS only, TLS 1.2 or later)


@pytest.fixture
def tls_emulator(tmp_path: Path, clock: Clock) -> Iterator[EmulatorServer]:
    with EmulatorServer(Engine(expiry_seconds=60, clock=clock), tls=server_tls(tmp_path)) as server:
        yield server


def test_tls_serves_https_and_wss_that_verify_against_the_local_ca(tls_emulator: EmulatorServer, tmp_path: Path) -> None:
    assert tls_emulator.endpoint.startswith("https://127.0.0.1:") and tls_emulator.gremlin_url.startswith("wss://")
    ca = tmp_path / CA_FILE
    connection = DriverRemoteConnection(tls_emulator.gremlin_url, "g", ssl=client_context(ca))
    g = traversal().with_(connection)
    g.add_v("person").property(T.id, "p1").iterate()
    connection.close()
    neptune = boto3.client("neptunedata", endpoint_url=tls_emulator.endpoint, region_name="us-east-1", verify=str(ca))
    assert [r["data"]["id"] for r in neptune.get_propertygraph_stream(iteratorType="TRIM_HORIZON")["records"]] == ["p1"]
    # The certificate names localhost too, as a client configured with the host name checks.
    port = tls_emulator.port
    with urllib.request.urlopen(f"https://localhost:{port}/status", context=client_context(ca), timeout=10) as resp:
        assert json.loads(resp.read())["status"] == "healthy"


def test_a_client_that_does_not_trust_the_ca_is_refused_and_plain_http_is_not_served(tls_emulator: EmulatorServer) -> None:
    untrusting = boto3.client("neptunedata", endpoint_url=tls_emulator.endpoint, region_name="us-east-1")
    with pytest.raises(SSLError):
        untrusting.get_engine_status()
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://127.0.0.1:{tls_emulator.port}/status", timeout=10).read()


def test_the_ca_is_made_once_and_kept_beside_the_database(tmp_path: Path) -> None:
    first = server_tls(tmp_path)
    ca_pem = (tmp_path / CA_FILE).read_bytes()
    assert (tmp_path / "ca-key.pem").stat().st_mode & 0o077 == 0  # the CA key is its owner's only
    second = server_tls(tmp_path)
    assert (tmp_path / CA_FILE).read_bytes() == ca_pem and second.ca_file == first.ca_file
    assert second.client_variables() == dict.fromkeys(
        ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS"), str(first.ca_file)
    )


# -- 2. Sessions (g.tx()): one transaction between begin and commit


def test_a_session_commits_as_one_transaction_at_commit(g: Any, emulator: EmulatorServer, neptune: Any) -> None:
    """Everything between begin and commit is one transaction (access-graph-gremlin-transactions.html, "Requests
    bound to a session"); uncommitted data is seen by no one else (transactions-neptune.html: no dirty reads)."""
    tx = g.tx()
    gtx = tx.begin()
    gtx.add_v("person").property(T.id, "a").iterate()
    gtx.add_v("person").property(T.id, "b").iterate()
    gtx.V("a").add_e("knows").to(__.V("b")).iterate()
    assert gtx.V().count().next() == 2  # the session reads its own writes
    assert g.V().count().next() == 0  # no one else does before the commit (transactions-neptune.html: no dirty reads)
    assert records_of(neptune) == []
    tx.commit().all().result()  # gremlinpython hands back the answer: wait for it
    records = records_of(neptune)
    assert commits(records) == [1] and len(records) == 3 and records[-1]["isLastOp"] is True
    assert g.V().count().next() == 2 and g.E().count().next() == 1


def test_rollback_and_a_closed_session_leave_nothing(g: Any, emulator: EmulatorServer, neptune: Any) -> None:
    tx = g.tx()
    gtx = tx.begin()
    gtx.add_v("person").property(T.id, "gone").iterate()
    tx.rollback().all().result()
    tx = g.tx()
    gtx = tx.begin()
    gtx.add_v("person").property(T.id, "closed").iterate()
    tx.close()  # closed without a commit: rolled back
    assert g.V().count().next() == 0 and records_of(neptune) == []
    assert emulator.engine.writer_session is None and emulator.engine.sessions == {}


def test_a_connection_that_goes_away_rolls_its_session_back(emulator: EmulatorServer, g: Any, neptune: Any) -> None:
    """A session lives on its connection: one closed without a commit leaves nothing, and frees the graph."""
    serializer = GraphBinarySerializersV1()
    write = g.add_v("person").property(T.id, "dropped").bytecode

    async def session_then_hang_up() -> int:
        async with aiohttp.ClientSession() as http, http.ws_connect(emulator.gremlin_url) as ws:
            message = RequestMessage(
                "session", "bytecode", {"gremlin": write, "aliases": {"g": "g"}, "session": str(uuid.uuid4())}
            )
            await ws.send_bytes(serializer.serialize_message(str(uuid.uuid4()), message))
            answer = await ws.receive()
            return int(serializer.deserialize_message(answer.data)["status"]["code"])

    assert asyncio.run(session_then_hang_up()) == 200  # the close handshake ends once the server has rolled back
    g.add_v("person").property(T.id, "after").iterate()
    assert g.V().id_().to_list() == ["after"] and [r["data"]["id"] for r in records_of(neptune)] == ["after"]


def test_other_writers_get_a_concurrent_modification_while_a_session_holds_writes(g: Any, neptune: Any) -> None:
    """The emulator's choice where the guide describes locks and lock-wait timeouts (transactions-neptune.html,
    transactions-exceptions.html: a conflict ends in ConcurrentModificationException): its lock is the graph, and a
    writer does not wait for it."""
    tx = g.tx()
    gtx = tx.begin()
    gtx.add_v("person").property(T.id, "s").iterate()
    with pytest.raises(GremlinServerError) as refused:
        g.add_v("person").property(T.id, "other").iterate()
    body = json.loads(str(refused.value).split(": ", 1)[1])
    assert refused.value.status_code == 500 and body["code"] == "ConcurrentModificationException"
    assert g.V().has_label("person").count().next() == 0  # reads go on, and see only committed data
    tx.commit().all().result()  # gremlinpython hands back the answer: wait for it
    g.add_v("person").property(T.id, "other").iterate()  # free again
    assert [r["data"]["id"] for r in records_of(neptune)] == ["s", "other"]


def test_a_failed_request_rolls_the_whole_session_back_and_its_commit_says_so(g: Any, neptune: Any) -> None:
    """ "If a query fails ... the session transaction is not committed, and all the queries in it are rolled back"
    (access-graph-gremlin-sessions.html)."""
    tx = g.tx()
    gtx = tx.begin()
    gtx.add_v("person").property(T.id, "x").iterate()
    with pytest.raises(GremlinServerError, match="list cardinality"):
        gtx.V("x").property(Cardinality.list_, "k", 1).iterate()
    with pytest.raises(GremlinServerError, match="rolled back"):
        gtx.add_v("person").property(T.id, "y").iterate()
    with pytest.raises(GremlinServerError, match="nothing was committed"):
        tx.commit().all().result()  # gremlinpython's commit hands back the answer: read it to see the refusal
    assert records_of(neptune) == [] and g.V().count().next() == 0


def test_a_session_open_past_neptunes_limit_is_rolled_back(g: Any, neptune: Any, clock: Clock) -> None:
    """ "the longest time Neptune can keep a script-based session open is 10 minutes ... everything in it is rolled
    back" (access-graph-gremlin-sessions.html)."""
    tx = g.tx()
    gtx = tx.begin()
    gtx.add_v("person").property(T.id, "late").iterate()
    clock.t += 601
    with pytest.raises(GremlinServerError, match="longer than 600 seconds"):
        gtx.add_v("person").property(T.id, "later").iterate()
    g.add_v("person").property(T.id, "free").iterate()  # its writes no longer hold the graph
    with pytest.raises(GremlinServerError, match="nothing was committed"):
        tx.commit().all().result()
    assert [r["data"]["id"] for r in records_of(neptune)] == ["free"]


# -- 3. Serializers and enum tokens (access-graph-gremlin-differences.html#feature-gremlin-differences-serialization)


@pytest.mark.parametrize("name", sorted(SERIALIZERS))
def test_each_serializer_carries_every_enum_token(emulator: EmulatorServer, neptune: Any, name: str) -> None:
    connection = DriverRemoteConnection(emulator.gremlin_url, "g", message_serializer=SERIALIZERS[name]())
    g = traversal().with_(connection)
    try:
        g.add_v("person").property(T.id, "a").property(Cardinality.single, "age", 30).property(
            Cardinality.set_, "tag", "x"
        ).iterate()
        g.V("a").property(Cardinality.single, "age", 31).iterate()
        g.add_v("person").property(T.id, "b").iterate()
        g.V("a").add_e("knows").to(__.V("b")).iterate()
        assert g.V("a").values("age").to_list() == [31]
        assert g.V("a").out_e("knows").in_v().id_().to_list() == ["b"]
        assert g.E().has_label("knows").count().next() == 1
        assert g.V().has("age", P.gte(31).and_(P.lt(40))).id_().to_list() == ["a"]
        assert g.V().has("tag", TextP.starting_with("x")).id_().to_list() == ["a"]
        assert g.inject({"id": "m1", "label": "thing"}).unfold().as_("m").select(Pop.last, "m").select("label").to_list() == [
            "thing"
        ]
        if name != "graphson2":  # GraphSON 2.0 has no typed map keys: a client cannot send {T.id: ...} in it
            assert g.merge_v({T.id: "c"}).option(Merge.on_create, {T.label: "city"}).id_().to_list() == ["c"]
        # Tokens the emulator reads but has no step for are refused by name, never left unread.
        refused: tuple[Callable[[], Any], ...] = (
            lambda: g.V().order().by("age", Order.desc).to_list(),
            lambda: g.V().count(Scope.local).to_list(),
            lambda: g.V().group().by(T.label).select(Column.keys).to_list(),
            lambda: g.V().sack(Operator.sum_).to_list(),
            lambda: g.V().to_e(Direction.BOTH).to_list(),
        )
        for unsupported in refused:
            with pytest.raises(GremlinServerError, match="UnsupportedOperationException"):
                unsupported()
    finally:
        connection.close()
    assert len(commits(records_of(neptune))) == (4 if name == "graphson2" else 5)


def test_an_unreadable_or_unknown_serializer_frame_is_answered_at_once(emulator: EmulatorServer) -> None:
    """No request is left unanswered: a JSON request in a serializer the emulator does not speak gets Neptune's
    error naming it; a frame with no request id closes the connection with the reason."""

    async def exchange(frame: bytes) -> tuple[str, Any]:
        async with aiohttp.ClientSession() as http, http.ws_connect(emulator.gremlin_url) as ws:
            await ws.send_bytes(frame)
            msg = await ws.receive()
            return msg.type.name, (msg.data if msg.type == aiohttp.WSMsgType.TEXT else ws.close_code, msg.extra)

    mime = b"application/vnd.gremlin-v1.0+json"
    request = {"requestId": "6457c1b3-5a4f-4c40-9f7c-7ab1a2c9e6d1", "op": "bytecode", "processor": "traversal", "args": {}}
    kind, (text, _) = asyncio.run(exchange(bytes([len(mime)]) + mime + json.dumps(request).encode()))
    answer = json.loads(text)
    body = json.loads(answer["status"]["message"])
    assert kind == "TEXT" and answer["requestId"] == request["requestId"] and answer["status"]["code"] == 400
    assert body["code"] == "UnsupportedOperationException" and "application/vnd.gremlin-v1.0+json" in body["detailedMessage"]
    kind, (code, reason) = asyncio.run(exchange(bytes([3]) + b"abc" + b"\x00\x01"))
    assert kind == "CLOSE" and code == 1003 and "unsupported serializer 'abc'" in reason


# -- 4. Steps: as/select/by, sideEffect, and addE().to(Vertex) refused


def test_the_bulk_insert_idiom_from_a_list_of_maps(g: Any, neptune: Any) -> None:
    rows = [{"id": "v1", "label": "person", "name": "ann"}, {"id": "v2", "label": "city", "name": "Oslo"}]
    (
        g.inject(rows)
        .unfold()
        .as_("m")
        .add_v(__.select("m").select("label"))
        .property(T.id, __.select("m").select("id"))
        .property("name", __.select("m").by("name"))
        .iterate()
    )
    assert sorted(g.V().element_map().to_list(), key=lambda m: m[T.id]) == [
        {T.id: "v1", T.label: "person", "name": "ann"},
        {T.id: "v2", T.label: "city", "name": "Oslo"},
    ]
    assert commits(records_of(neptune)) == [1]  # one traversal, one transaction
    assert g.V("v1").as_("a").V("v2").as_("b").select("a", "b").by(T.id).next() == {"a": "v1", "b": "v2"}
    g.V("v1").as_("a").V("v2").add_e("lives_in").from_("a").iterate()  # from(step label)
    assert g.V("v1").out("lives_in").id_().to_list() == ["v2"]


def test_side_effect_runs_a_traversal_for_each_traverser(g: Any) -> None:
    g.add_v("person").property(T.id, "a").iterate()
    assert g.V("a").side_effect(__.property("seen", True)).id_().to_list() == ["a"]
    assert g.V("a").values("seen").to_list() == [True]


def test_add_e_to_a_vertex_object_is_refused_as_neptune_refuses_it(g: Any, neptune: Any) -> None:
    """GraphTraversal.from(Vertex) and to(Vertex) are among the "Unsupported Gremlin methods" of
    https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-differences.html."""
    a = g.add_v("person").property(T.id, "a").next()
    b = g.add_v("person").property(T.id, "b").next()
    attempts: tuple[Callable[[], Any], ...] = (
        lambda: g.V("a").add_e("knows").to(b).iterate(),
        lambda: g.add_e("knows").from_(a).to(__.V("b")).iterate(),
    )
    for attempt in attempts:
        with pytest.raises(GremlinServerError, match="UnsupportedOperationException") as refused:
            attempt()
        assert "__.V(" in str(refused.value)
    assert g.E().count().next() == 0 and len(records_of(neptune)) == 2


# -- 5. What is not served answers Neptune's JSON error (errors-engine-codes.html)


@pytest.mark.parametrize(
    ("method", "path", "what"),
    [
        ("POST", "/openCypher", "openCypher"),
        ("POST", "/gremlin", "Gremlin over HTTP"),
        ("GET", "/gremlin", "Gremlin over HTTP"),
        ("GET", "/gremlin/status", "query status"),
        ("POST", "/loader", "bulk loader"),
        ("DELETE", "/status", None),
        ("GET", "/no/such/path", None),
    ],
)
def test_every_unserved_path_answers_neptunes_json_error(
    emulator: EmulatorServer, method: str, path: str, what: str | None
) -> None:
    data = b'{"query": "MATCH (n) RETURN n"}' if method == "POST" else None
    request = urllib.request.Request(f"{emulator.endpoint}{path}", data=data, method=method)
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    body = _json_error(refused.value)
    assert refused.value.code == 400 and body["code"] == "UnsupportedOperationException"
    assert refused.value.headers["x-amzn-ErrorType"] == "UnsupportedOperationException"
    assert f"{method} {path}" in body["detailedMessage"] and (what is None or what in body["detailedMessage"])


def test_the_sdk_parses_the_error_and_status_advertises_only_what_is_served(emulator: EmulatorServer, neptune: Any) -> None:
    with pytest.raises(ClientError) as refused:
        neptune.execute_open_cypher_query(openCypherQuery="MATCH (n) RETURN n")
    assert refused.value.response["Error"]["Code"] == "UnsupportedOperationException"
    assert "openCypher" in refused.value.response["detailedMessage"]  # type: ignore[typeddict-item]  # the error shape's member (botocore's model)
    status = neptune.get_engine_status()
    assert "opencypher" not in status and status["gremlin"] and status["sparql"]


# -- 6. SPARQL 1.1 Protocol dataset parameters, with Neptune's default graph


def _sparql(emulator: EmulatorServer, **fields: Any) -> Any:
    data = urllib.parse.urlencode(fields, doseq=True).encode()
    request = urllib.request.Request(
        f"{emulator.endpoint}/sparql", data=data, headers={"Accept": "application/sparql-results+json"}
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        body = resp.read()
    return json.loads(body) if body else None


def _subjects(answer: Any) -> list[str]:
    return sorted(row["s"]["value"].rsplit("/", 1)[-1] for row in answer["results"]["bindings"])


def test_dataset_parameters_choose_the_graphs_a_query_reads(emulator: EmulatorServer) -> None:
    """default-graph-uri and named-graph-uri (https://www.w3.org/TR/sparql11-protocol/#dataset); with none, the
    default graph is the union of all graphs (https://docs.aws.amazon.com/neptune/latest/userguide/best-practices-sparql-query.html);
    with named graphs only, it is empty (https://docs.aws.amazon.com/neptune/latest/userguide/sparql-default-describe.html)."""
    _sparql(
        emulator,
        update="INSERT DATA { <http://e/a> <http://e/p> 1 . GRAPH <http://e/g1> { <http://e/b> <http://e/p> 2 } "
        "GRAPH <http://e/g2> { <http://e/c> <http://e/p> 3 } }",
    )
    select = "SELECT ?s WHERE { ?s ?p ?o }"
    assert _subjects(_sparql(emulator, query=select)) == ["a", "b", "c"]
    assert _subjects(_sparql(emulator, query=select, **{"default-graph-uri": ["http://e/g1", "http://e/g2"]})) == ["b", "c"]
    assert _subjects(_sparql(emulator, query=select, **{"named-graph-uri": "http://e/g1"})) == []
    named = "SELECT ?s WHERE { GRAPH ?g { ?s ?p ?o } }"
    assert _subjects(_sparql(emulator, query=named, **{"named-graph-uri": "http://e/g2"})) == ["c"]
    # The protocol's dataset replaces the query's own FROM.
    from_g1 = "SELECT ?s FROM <http://e/g1> WHERE { ?s ?p ?o }"
    assert _subjects(_sparql(emulator, query=from_g1, **{"default-graph-uri": "http://e/g2"})) == ["c"]


def test_using_graph_uri_chooses_what_an_update_reads(emulator: EmulatorServer, neptune: Any) -> None:
    """using-graph-uri (https://www.w3.org/TR/sparql11-protocol/#update-dataset): the WHERE reads g1 only."""
    _sparql(
        emulator,
        update="INSERT DATA { GRAPH <http://e/g1> { <http://e/b> <http://e/p> 2 } "
        "GRAPH <http://e/g2> { <http://e/c> <http://e/p> 3 } }",
    )
    _sparql(emulator, update="INSERT { ?s <http://e/seen> true } WHERE { ?s ?p ?o }", **{"using-graph-uri": "http://e/g1"})
    assert _subjects(_sparql(emulator, query="SELECT ?s WHERE { ?s <http://e/seen> true }")) == ["b"]
    with pytest.raises(urllib.error.HTTPError) as refused:
        _sparql(
            emulator,
            update="INSERT { ?s <http://e/x> 1 } USING <http://e/g2> WHERE { ?s ?p ?o }",
            **{"using-graph-uri": "http://e/g1"},
        )
    assert refused.value.code == 400 and "USING" in _json_error(refused.value)["detailedMessage"]
    with pytest.raises(urllib.error.HTTPError) as wrong:
        _sparql(emulator, query="SELECT * WHERE { ?s ?p ?o }", **{"using-graph-uri": "http://e/g1"})
    assert wrong.value.code == 400 and _json_error(wrong.value)["code"] == "InvalidParameterException"


def test_sparqlwrapper_queries_and_updates_the_emulator(emulator: EmulatorServer) -> None:
    """SPARQLWrapper as pointed at Neptune's /sparql (https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-sparql-http-rest.html)."""
    from SPARQLWrapper import JSON, POST, SPARQLWrapper

    endpoint = SPARQLWrapper(f"{emulator.endpoint}/sparql")
    endpoint.setMethod(POST)
    endpoint.setQuery("INSERT DATA { GRAPH <http://e/g1> { <http://e/b> <http://e/p> 2 } <http://e/a> <http://e/p> 1 }")
    endpoint.query()
    reader = SPARQLWrapper(f"{emulator.endpoint}/sparql", defaultGraph="http://e/g1", returnFormat=JSON)
    reader.setQuery("SELECT ?s WHERE { ?s ?p ?o }")
    assert _subjects(reader.queryAndConvert()) == ["b"]
    reader.addNamedGraph("http://e/g1")
    reader.setQuery("SELECT ?s WHERE { GRAPH <http://e/g1> { ?s ?p ?o } }")
    assert _subjects(reader.queryAndConvert()) == ["b"]


def test_tls_clients_of_sparql_trust_the_ca_through_an_ssl_context(tls_emulator: EmulatorServer, tmp_path: Path) -> None:
    context = client_context(tmp_path / CA_FILE)
    query = urllib.parse.urlencode({"query": "ASK { ?s ?p ?o }"}).encode()
    with urllib.request.urlopen(f"{tls_emulator.endpoint}/sparql", data=query, context=context, timeout=10) as resp:
        assert json.loads(resp.read())["boolean"] is False
    with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
        urllib.request.urlopen(f"{tls_emulator.endpoint}/status", context=ssl.create_default_context(), timeout=10)


def test_the_command_line_tls_switch_prints_the_ca_and_the_variables(tmp_path: Path) -> None:
    """`neptune-stream emulator --tls`: the CA beside --db, its path printed with what makes clients trust it."""
    db = tmp_path / "graph.db"
    command = [sys.executable, "-m", "neptune_emulator", "--tls", "--port", "0", "--db", str(db)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as server:
        try:
            assert server.stdout is not None
            lines = [server.stdout.readline() for _ in range(6)]  # the start banner: blocks until printed
            endpoint = lines[0].split(" on ", 1)[1].split(" ", 1)[0]
            assert endpoint.startswith("https://127.0.0.1:") and "wss://127.0.0.1:" in lines[0]
            ca = tmp_path / CA_FILE
            assert str(ca) in lines[1]
            assert [line.strip() for line in lines[2:5]] == [
                f"export {name}={ca}" for name in ("AWS_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "NODE_EXTRA_CA_CERTS")
            ]
            with urllib.request.urlopen(f"{endpoint}/status", context=client_context(ca), timeout=10) as resp:
                assert json.loads(resp.read())["status"] == "healthy"
        finally:
            server.send_signal(signal.SIGTERM)
        assert server.wait() == 0


def test_using_named_graph_uri_limits_the_graphs_a_graph_pattern_sees(emulator: EmulatorServer) -> None:
    """using-named-graph-uri alone: GRAPH patterns in the WHERE see those graphs only, and the default graph is empty
    (https://www.w3.org/TR/sparql11-update/#deleteInsert)."""
    _sparql(
        emulator,
        update="INSERT DATA { <http://e/a> <http://e/p> 1 . GRAPH <http://e/g1> { <http://e/b> <http://e/p> 2 } "
        "GRAPH <http://e/g2> { <http://e/c> <http://e/p> 3 } }",
    )
    marked = "INSERT { ?s <http://e/seen> true } WHERE { GRAPH ?g { ?s <http://e/p> ?o } }"
    _sparql(emulator, update=marked, **{"using-named-graph-uri": "http://e/g2"})
    assert _subjects(_sparql(emulator, query="SELECT ?s WHERE { ?s <http://e/seen> true }")) == ["c"]
    _sparql(
        emulator,
        update="DELETE { ?s <http://e/seen> true } WHERE { ?s <http://e/p> ?o }",
        **{"using-named-graph-uri": "http://e/g2"},
    )
    assert _subjects(_sparql(emulator, query="SELECT ?s WHERE { ?s <http://e/seen> true }")) == ["c"]  # default graph empty
    _sparql(emulator, update="DELETE { ?s <http://e/seen> true } WHERE { ?s ?p ?o }", **{"using-graph-uri": "http://e/g2"})
    assert _subjects(_sparql(emulator, query="SELECT ?s WHERE { ?s <http://e/seen> ?x }")) == []
