"""The DynamoDB model (dynamo_model.py) as an HTTP endpoint, as DynamoDB is one: boto3 clients reach it with
`endpoint_url`, exactly as the handler reaches moto's server in the local run (its DYNAMODB_ENDPOINT).

`make bench` runs it in a process of its own (`python -m neptune_local.dynamo_model_server`), so the
model's work (parsing requests, keeping the tables) is not done on the handler's interpreter, as
DynamoDB's is not done on a Lambda's; each request waits its modelled latency in the server's thread for
it. Beside the DynamoDB API it answers GET /_model/items?table=NAME (every item, for the exactly-once
verification) and GET /_model/stats."""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

from neptune_capture.clock import SystemClock
from neptune_local.dynamo_latency import DEFAULT_TABLE_WRITE_UNITS_PER_S, EXTRAPOLATED_P50_MS, EXTRAPOLATED_P99_MS, LatencyModel
from neptune_local.dynamo_model import ERROR_PREFIX, DynamoModel, ModelError

ITEMS_PATH = "/_model/items"
STATS_PATH = "/_model/stats"


class ModelServer:
    def __init__(self, model: DynamoModel, port: int = 0) -> None:
        self.model = model
        handler = type("Handler", (_Handler,), {"model": model})
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="dynamodb-model", daemon=True)

    @property
    def endpoint(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> ModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Handler(BaseHTTPRequestHandler):
    model: DynamoModel
    protocol_version = "HTTP/1.1"  # keep-alive: botocore reuses its pooled connections
    # Headers and body go out as two writes: with Nagle's algorithm the body would wait for the client's
    # delayed ACK of the headers (tens of milliseconds), which would read as DynamoDB latency.
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        data = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        operation = (self.headers.get("X-Amz-Target") or "").rsplit(".", 1)[-1]
        try:
            body = json.loads(data or b"{}")
            status, payload = HTTPStatus.OK, self.model.handle(operation, body, hashlib.sha256(data).hexdigest())
        except ModelError as error:
            status, payload = HTTPStatus.BAD_REQUEST, _error(error.code, error.message, **error.fields)
        except json.JSONDecodeError as error:
            status, payload = HTTPStatus.BAD_REQUEST, _error("SerializationException", str(error))
        self._send(status, payload, "application/x-amz-json-1.0")

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == ITEMS_PATH:
            table = parse_qs(url.query).get("table", [""])[0]
            try:
                self._send(HTTPStatus.OK, self.model.items(table))
            except ModelError as error:
                self._send(HTTPStatus.NOT_FOUND, {"message": error.message})
        elif url.path == STATS_PATH:
            # Not dataclasses.asdict: it rebuilds a Counter from (key, count) pairs, counting the pairs.
            self._send(HTTPStatus.OK, {k: dict(v) if isinstance(v, dict) else v for k, v in vars(self.model.stats).items()})
        else:
            self._send(HTTPStatus.NOT_FOUND, {"message": f"no {url.path} here: POST the DynamoDB API to /"})

    def _send(self, status: HTTPStatus, payload: Any, content_type: str = "application/json") -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # one line per request otherwise


def _error(code: str, message: str, **fields: Any) -> dict[str, Any]:
    return {"__type": ERROR_PREFIX + code, "message": message, **fields}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m neptune_local.dynamo_model_server", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0: any free port (printed on the first line)")
    parser.add_argument("--p50-ms", type=float, default=EXTRAPOLATED_P50_MS, help="p50 of a ~100-item transaction")
    parser.add_argument("--p99-ms", type=float, default=EXTRAPOLATED_P99_MS, help="p99 of a ~100-item transaction")
    parser.add_argument("--table-wcu", type=float, default=DEFAULT_TABLE_WRITE_UNITS_PER_S, help="write units/s per table")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    latency = LatencyModel(p50_ms=args.p50_ms, p99_ms=args.p99_ms, seed=args.seed)
    server = ModelServer(DynamoModel(clock=SystemClock(), latency=latency, write_units_per_s=args.table_wcu), args.port).start()
    print(server.endpoint, flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin (or goes away)
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
