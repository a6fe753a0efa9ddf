"""The emulator's HTTP and WebSocket server (aiohttp): /gremlin, /propertygraph/stream (and /pg/stream),
/sparql (SPARQL 1.1 Query and Update) and /sparql/stream, /status, /system, plus /_emulator/faults for fault
injection. Runs in a thread for tests and the demo,
or in the foreground from the command line.

A Gremlin request Neptune would refuse gets Neptune's error: its JSON body ({"requestId", "code",
"detailedMessage"}) as the status message and the code's HTTP status as the status code (see errors.py)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import threading
from typing import Any

from aiohttp import WSMsgType, web
from aiohttp.web_response import ContentCoding

from neptune_capture.contract import GraphModel
from neptune_emulator import protocol
from neptune_emulator.engine import FAULT_APIS, Engine, Faults
from neptune_emulator.errors import STATUSES, GraphError, error_body
from neptune_emulator.sparql import SparqlError

log = logging.getLogger("neptune_stream.emulator")
SUCCESS, NO_CONTENT = 200, 204


def build_app(engine: Engine) -> web.Application:
    app = web.Application(client_max_size=64 * 1024 * 1024)

    async def gremlin(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(max_msg_size=64 * 1024 * 1024)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type not in (WSMsgType.BINARY, WSMsgType.TEXT):
                continue
            frame = msg.data if isinstance(msg.data, bytes) else msg.data.encode()
            reply = _handle(engine, frame)
            if reply is not None:
                await (ws.send_str(reply) if isinstance(reply, str) else ws.send_bytes(reply))
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
        (https://www.w3.org/TR/sparql11-protocol/#query-operation)."""
        fields: dict[str, str] = dict(request.query)
        if request.method == "POST":
            if request.content_type == "application/sparql-query":
                fields["query"] = await request.text()
            elif request.content_type == "application/sparql-update":
                fields["update"] = await request.text()
            else:
                fields.update({k: str(v) for k, v in (await request.post()).items()})
        query, update = fields.get("query"), fields.get("update")
        if (query is None) == (update is None) or (update is not None and request.method != "POST"):
            return _sparql_error(
                SparqlError("give one of query (GET or POST) or update (POST only)", "MissingParameterException")
            )
        try:
            if update is not None:
                # The answer to an update is not documented: an empty 200, its effect being in the graph.
                await asyncio.to_thread(engine.sparql_update, update)
                return web.Response(status=SUCCESS)
            media, body = await asyncio.to_thread(engine.sparql_query, query or "", request.headers.get("Accept"))
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


def _handle(engine: Engine, frame: bytes) -> bytes | str | None:
    try:
        request = protocol.parse(frame)
    except Exception as error:  # an unreadable frame has no request id to answer to
        log.warning("unreadable Gremlin request: %s", error)
        return None
    if request.error is not None:
        return _error(request, GraphError(request.error, "BadRequestException"))
    if request.op == "bytecode":
        try:
            result = engine.submit(request.args["gremlin"])
        except GraphError as error:
            return _error(request, error)
        except Exception as error:
            log.exception("traversal failed")
            return _error(request, GraphError(f"{type(error).__name__}: {error}", "InternalFailureException"))
        return protocol.response(request, SUCCESS, "", result)
    if request.op == "close":
        return protocol.response(request, NO_CONTENT, "", None)
    return _error(
        request,
        GraphError(
            f"neptune-stream emulator supports bytecode requests only, not op {request.op!r}", "UnsupportedOperationException"
        ),
    )


def _sparql_error(error: SparqlError) -> web.Response:
    body = json.loads(error_body(error.code, error.message, secrets.token_hex(8)))
    return web.json_response(body, status=STATUSES[error.code], headers={"x-amzn-ErrorType": error.code})


def _error(request: protocol.Request, error: GraphError) -> bytes | str:
    return protocol.response(request, STATUSES[error.code], error_body(error.code, error.message, str(request.request_id)), None)


class EmulatorServer:
    """Serves an Engine on 127.0.0.1 from a background thread."""

    def __init__(self, engine: Engine, port: int = 0, host: str = "127.0.0.1") -> None:
        self.engine, self.host, self.port = engine, host, port
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name="neptune-emulator", daemon=True)

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def gremlin_url(self) -> str:
        return f"ws://{self.host}:{self.port}/gremlin"

    def start(self) -> EmulatorServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(30)
        return self

    async def _start(self) -> None:
        self._runner = web.AppRunner(build_app(self.engine), access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
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
