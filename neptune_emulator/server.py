"""The emulator's HTTP and WebSocket server (aiohttp): /gremlin, /propertygraph/stream (and /pg/stream),
/sparql (SPARQL 1.1 Query and Update) and /sparql/stream, /status, /system, plus /_emulator/faults for fault
injection. Runs in a thread for tests and the demo,
or in the foreground from the command line.

A Gremlin request Neptune would refuse gets Neptune's error: its JSON body ({"requestId", "code",
"detailedMessage"}) as the status message and the code's HTTP status as the status code (see errors.py). Every
HTTP path or method the emulator does not serve (openCypher, Gremlin scripts over HTTP, the loader, ...) answers
the same JSON body, with the x-amzn-ErrorType header and a 4xx status, which the AWS SDKs parse into their
UnsupportedOperationException ("Graph Engine Error Messages and Codes":
https://docs.aws.amazon.com/neptune/latest/userguide/errors-engine-codes.html).

With TLS (`EmulatorServer(..., tls=...)`) the same port serves https:// and wss:// only, as Neptune does."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.web_response import ContentCoding
from multidict import MultiDict

from neptune_capture.contract import GraphModel
from neptune_emulator import protocol
from neptune_emulator.engine import FAULT_APIS, Engine, Faults
from neptune_emulator.errors import STATUSES, GraphError, error_body
from neptune_emulator.sparql import SparqlError
from neptune_emulator.tls import ServerTls

log = logging.getLogger("neptune_stream.emulator")
SUCCESS, NO_CONTENT = 200, 204
# The dataset parameters that do not belong to a query (True) or to an update (False).
DATASET_PARAMETERS = {True: ("using-graph-uri", "using-named-graph-uri"), False: ("default-graph-uri", "named-graph-uri")}


# What each path the emulator does not serve is, for the message a client gets.
UNSERVED = {
    "/opencypher": "openCypher",
    "/gremlin": "Gremlin over HTTP (scripts): send bytecode over a WebSocket to /gremlin",
    "/gremlin/status": "the Gremlin query status API",
    "/gremlin/explain": "Gremlin explain",
    "/gremlin/profile": "Gremlin profile",
    "/sparql/status": "the SPARQL query status API",
    "/loader": "the bulk loader",
    "/ml": "Neptune ML",
    "/propertygraph/statistics": "graph statistics",
    "/pg/statistics": "graph statistics",
    "/rdf/statistics": "graph statistics",
    "/propertygraph/summary": "the graph summary API",
}
SERVED = (
    "Gremlin bytecode over WebSocket (/gremlin), SPARQL 1.1 (/sparql), the Streams API (/propertygraph/stream, "
    "/sparql/stream), /status and /system"
)


def unserved(request: web.Request, what: str | None = None) -> web.Response:
    path = request.path.rstrip("/") or "/"
    name = what or UNSERVED.get(path.lower()) or next((v for k, v in UNSERVED.items() if path.lower().startswith(k + "/")), None)
    detail = f"{request.method} {request.path}" + (f" ({name})" if name else "")
    message = f"neptune-stream emulator does not serve {detail}; it serves {SERVED}"
    code = "UnsupportedOperationException"
    body = json.loads(error_body(code, message, secrets.token_hex(8)))
    return web.json_response(body, status=STATUSES[code], headers={"x-amzn-ErrorType": code})


@web.middleware
async def neptune_errors(request: web.Request, handler: Any) -> web.StreamResponse:
    """No path answers in plain text: aiohttp's 404 and 405 become Neptune's JSON error."""
    try:
        response: web.StreamResponse = await handler(request)
    except web.HTTPException as error:
        if error.status in (404, 405):
            return unserved(request)
        raise
    return response


def build_app(engine: Engine) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[neptune_errors])

    async def gremlin(request: web.Request) -> web.StreamResponse:
        # autoclose off: a client's close is answered only once its sessions are rolled back, so the client knows.
        ws = web.WebSocketResponse(max_msg_size=64 * 1024 * 1024, autoclose=False)
        if not ws.can_prepare(request).ok:  # a plain GET: Neptune's HTTP endpoint takes Gremlin scripts
            return unserved(request, UNSERVED["/gremlin"])
        await ws.prepare(request)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.CLOSE:
                    engine.close_sessions_of(ws)
                    await ws.close()
                    break
                if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                    continue
                frame = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
                try:
                    reply = _handle(engine, frame, ws)
                except protocol.UnreadableFrameError as error:
                    # No request id to answer to: close with the reason rather than leave the client waiting.
                    log.warning("unreadable Gremlin request: %s", error)
                    await ws.close(code=1003, message=str(error)[:120].encode())
                    break
                await (ws.send_str(reply) if isinstance(reply, str) else ws.send_bytes(reply))
        finally:
            # A session lives as long as its connection: what it did not commit is rolled back.
            engine.close_sessions_of(ws)
        return ws

    async def stream(request: web.Request) -> web.Response:
        params = dict(request.query)
        model = GraphModel.RDF if request.path.startswith("/sparql") else GraphModel.PROPERTY_GRAPH
        if engine.faults.kind == "slow" and engine.faults.delay_ms:
            # Slow responses must not block other clients: wait off the event loop.
            status, body, headers = await asyncio.to_thread(engine.read_stream, params, model)
        else:
            status, body, headers = engine.read_stream(params, model)
        response = web.Response(status=status, text=body, content_type="application/json", headers=headers)
        if accepts_gzip(request.headers.get("Accept-Encoding", "")):
            # "Neptune supports gzip compression of the response, provided that the HTTP request includes an
            # Accept-Encoding header that specifies gzip" (streams-using-api-call.html).
            response.enable_compression(ContentCoding.gzip)
        return response

    async def sparql(request: web.Request) -> web.Response:
        """The SPARQL 1.1 Protocol as Neptune takes it (https://docs.aws.amazon.com/neptune/latest/userguide/
        access-graph-sparql-http-rest.html): `query=` or `update=` form-encoded in a POST (or a GET's `query`),
        or the text itself as application/sparql-query or application/sparql-update
        (https://www.w3.org/TR/sparql11-protocol/#query-operation), with the protocol's dataset parameters
        (default-graph-uri and named-graph-uri for a query, using-graph-uri and using-named-graph-uri for an update;
        each may be repeated), from the URL or the form."""
        fields: MultiDict[str] = MultiDict(request.query)
        if request.method == "POST":
            if request.content_type == "application/sparql-query":
                fields.add("query", await request.text())
            elif request.content_type == "application/sparql-update":
                fields.add("update", await request.text())
            else:
                for k, v in (await request.post()).items():
                    fields.add(k, str(v))
        query, update = fields.get("query"), fields.get("update")
        if (query is None) == (update is None) or (update is not None and request.method != "POST"):
            return _sparql_error(
                SparqlError("give one of query (GET or POST) or update (POST only)", "MissingParameterException")
            )
        wrong = [k for k in DATASET_PARAMETERS[update is None] if k in fields]
        if wrong:
            kind = "a query" if update is None else "an update"
            return _sparql_error(
                SparqlError(f"{', '.join(wrong)} does not apply to {kind} (SPARQL 1.1 Protocol)", "InvalidParameterException")
            )
        try:
            if update is not None:
                # The answer to an update is not documented: an empty 200, its effect being in the graph.
                await asyncio.to_thread(
                    engine.sparql_update, update, fields.getall("using-graph-uri", []), fields.getall("using-named-graph-uri", [])
                )
                return web.Response(status=SUCCESS)
            media, body = await asyncio.to_thread(
                engine.sparql_query,
                query or "",
                request.headers.get("Accept"),
                fields.getall("default-graph-uri", []),
                fields.getall("named-graph-uri", []),
            )
        except SparqlError as error:
            return _sparql_error(error)
        return web.Response(status=SUCCESS, body=body, content_type=media, charset="utf-8")

    async def status(_: web.Request) -> web.Response:
        return web.json_response(engine.status())

    async def system(request: web.Request) -> web.Response:
        if request.content_type == "application/json":
            form: dict[str, Any] = await request.json()
        else:
            form = dict(await request.post())
        code, body = engine.fast_reset(form.get("action"), form.get("token"))
        headers = {"x-amzn-ErrorType": body["code"]} if code >= 400 else {}
        return web.json_response(body, status=code, headers=headers)

    async def faults(request: web.Request) -> web.Response:
        body = await request.json() if request.can_read_body else {}
        api, kind = body.get("api", "stream"), body.get("kind")
        if api not in FAULT_APIS:
            return web.json_response({"error": f"api must be one of {tuple(FAULT_APIS)}, got {api!r}"}, status=400)
        if kind is not None and kind not in FAULT_APIS[api]:
            return web.json_response({"error": f"kind for api {api!r} must be one of {FAULT_APIS[api]} or null"}, status=400)
        limit = body.get("limit")
        faults = Faults(
            kind=kind,
            rate=float(body.get("rate", 1.0)),
            delay_ms=int(body.get("delay_ms", 0)),
            limit=None if limit is None else int(limit),
        )
        if "seed" in body:
            faults.rng.seed(body["seed"])
        if api == "gremlin":
            engine.gremlin_faults = faults
        else:
            engine.faults = faults
        return web.json_response({"api": api, "kind": kind, "rate": faults.rate, "delay_ms": faults.delay_ms, "limit": limit})

    async def stats(_: web.Request) -> web.Response:
        with engine.lock:
            keys = engine.stream.keys
            return web.json_response(
                {
                    "vertices": len(engine.graph.vertices),
                    "edges": len(engine.graph.edges),
                    "commits": engine.next_commit - 1,
                    "streamRecords": len(keys),
                    "quads": len(engine.rdf.dataset),
                    "sparqlStreamRecords": len(engine.sparql_stream.keys),
                    "firstEventId": list(keys[0]) if keys else None,
                    "lastEventId": list(keys[-1]) if keys else None,
                    "faultsInjected": engine.faults.injected,
                    "gremlinFaultsInjected": engine.gremlin_faults.injected,
                }
            )

    app.router.add_get("/gremlin", gremlin)
    for path in ("/propertygraph/stream", "/pg/stream", "/sparql/stream"):
        app.router.add_get(path, stream)
    app.router.add_route("GET", "/sparql", sparql)
    app.router.add_route("POST", "/sparql", sparql)
    app.router.add_get("/status", status)
    app.router.add_post("/system", system)
    app.router.add_post("/_emulator/faults", faults)
    app.router.add_get("/_emulator/stats", stats)
    return app


def accepts_gzip(header: str) -> bool:
    for part in header.split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and float(q[2:] or 0) == 0)
    return False


def _handle(engine: Engine, frame: bytes, owner: object = None) -> bytes | str:
    request = protocol.parse(frame)  # Unreadable: the caller closes the connection
    if request.error is not None:
        return _error(request, GraphError(request.error, request.error_code))
    session = request.args.get("session") if request.processor == "session" else None
    if session is not None:
        session = str(session)
    try:
        if request.op == "bytecode":
            result = engine.submit(request.args["gremlin"], session=session, owner=owner)
            return protocol.response(request, SUCCESS, "", result)
        if request.op == "close":
            if session is not None:
                engine.close_session(session)
            return protocol.response(request, NO_CONTENT, "", None)
        raise GraphError(
            f"neptune-stream emulator supports bytecode requests only, not op {request.op!r} (Gremlin scripts are not emulated)",
            "UnsupportedOperationException",
        )
    except GraphError as error:
        return _error(request, error)
    except Exception as error:
        log.exception("traversal failed")
        return _error(request, GraphError(f"{type(error).__name__}: {error}", "InternalFailureException"))


def _sparql_error(error: SparqlError) -> web.Response:
    body = json.loads(error_body(error.code, error.message, secrets.token_hex(8)))
    return web.json_response(body, status=STATUSES[error.code], headers={"x-amzn-ErrorType": error.code})


def _error(request: protocol.Request, error: GraphError) -> bytes | str:
    return protocol.response(request, STATUSES[error.code], error_body(error.code, error.message, str(request.request_id)), None)


class EmulatorServer:
    """Serves an Engine on 127.0.0.1 from a background thread."""

    def __init__(self, engine: Engine, port: int = 0, host: str = "127.0.0.1", *, tls: ServerTls | None = None) -> None:
        self.engine, self.host, self.port, self.tls = engine, host, port, tls
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="neptune-emulator", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}:{self.port}"

    @property
    def gremlin_url(self) -> str:
        return f"{'wss' if self.tls else 'ws'}://{self.host}:{self.port}/gremlin"

    def start(self) -> EmulatorServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(build_app(self.engine), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port, ssl_context=self.tls.context if self.tls else None)
        await site.start()
        server: Any = site._server  # aiohttp exposes the bound port only on the underlying server
        self.port = server.sockets[0].getsockname()[1]

    def stop(self) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(30)
        self.engine.close()

    def __enter__(self) -> EmulatorServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def set_faults(
    endpoint: str,
    kind: str | None,
    rate: float = 1.0,
    *,
    delay_ms: int = 0,
    seed: int | None = None,
    limit: int | None = None,
    api: str = "stream",
) -> dict[str, Any]:
    import urllib.request

    body: dict[str, Any] = {"api": api, "kind": kind, "rate": rate, "delay_ms": delay_ms, "limit": limit}
    if seed is not None:
        body["seed"] = seed
    req = urllib.request.Request(
        f"{endpoint}/_emulator/faults",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        result: dict[str, Any] = json.loads(resp.read())
        return result
