"""The emulated database: the property graph, the RDF graph, their streams and persistence behind one lock.
Each traversal that changes the property graph, and each SPARQL update that changes the RDF graph, commits as
one Neptune transaction: one commitNum, opNum from 1, the last op flagged. Commit numbers come from one
counter for the whole database, so each stream's numbers skip the other's transactions (the user guide does
not say how Neptune numbers them across its two streams)."""

from __future__ import annotations

import json
import random
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gremlin_python.process.traversal import Bytecode

from neptune_capture.contract import GraphModel
from neptune_emulator.errors import DOCUMENTED_MESSAGES, GREMLIN_FAULT_KINDS, GraphError
from neptune_emulator.graph import Graph, Transaction
from neptune_emulator.gremlin import Interpreter, to_wire
from neptune_emulator.persistence import Persistence
from neptune_emulator.sparql import RdfStore
from neptune_emulator.stream_log import StreamError, StreamLog, record_json

ENGINE_VERSION = "1.4.6.1.R1"
FORMATS = {GraphModel.PROPERTY_GRAPH: "PG_JSON", GraphModel.RDF: "NQUADS"}
TRIMMED_KEYS = {"PG_JSON": "trimmed_through", "NQUADS": "sparql_trimmed_through"}
FAULT_KINDS = ("ThrottlingException", "MemoryLimitExceededException", "InternalFailure", "slow", "malformed")
FAULT_APIS = {"stream": FAULT_KINDS, "gremlin": GREMLIN_FAULT_KINDS}
STREAMS_DISABLED = "Neptune Streams is not enabled on this cluster (its DB cluster parameter neptune_streams is 0)"


@dataclass
class Faults:
    """Fault injection for the Streams API or for Gremlin requests: a kind, at a rate, from a seed."""

    kind: str | None = None
    rate: float = 0.0
    delay_ms: int = 0
    limit: int | None = None  # at most this many, then none (a fault that clears up)
    rng: random.Random = field(default_factory=random.Random)
    injected: int = 0

    def pick(self) -> str | None:
        """The fault this call suffers, if any; the caller counts it once it has really been applied."""
        if self.kind is None or (self.limit is not None and self.injected >= self.limit) or self.rng.random() >= self.rate:
            return None
        return self.kind


class Engine:
    def __init__(
        self,
        path: str = ":memory:",
        *,
        expiry_seconds: float = 7 * 86_400,
        clock: Callable[[], float] = time.time,
        streams_enabled: bool = True,
    ) -> None:
        self.lock = threading.RLock()
        self.path, self.expiry_seconds, self.clock = path, expiry_seconds, clock
        # A cluster whose parameter group has neptune_streams=0 (as its instances last booted): /status says
        # "Streams": "disabled", changes are not logged, and the Streams endpoint refuses to answer.
        self.streams_enabled = streams_enabled
        self.persistence = Persistence(path)
        self.graph = self.persistence.load_graph()
        self.rdf = RdfStore()
        self.rdf.load(self.persistence.load_quads())
        self.stream = self._load_stream(FORMATS[GraphModel.PROPERTY_GRAPH])
        self.sparql_stream = self._load_stream(FORMATS[GraphModel.RDF])
        self.next_commit = int(self.persistence.meta("next_commit", "1"))
        self.faults = Faults()  # the Streams API's
        self.gremlin_faults = Faults()
        self.reset_tokens: dict[str, float] = {}
        self.started = time.strftime("%a %b %d %H:%M:%S UTC %Y", time.gmtime())

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def _load_stream(self, fmt: str) -> StreamLog:
        log = StreamLog.empty(fmt)
        for commit, op, ts, body in self.persistence.load_stream(fmt):
            log.append((commit, op), ts, body)
        trimmed = self.persistence.meta(TRIMMED_KEYS[fmt], "")
        if trimmed:
            commit, op = json.loads(trimmed)
            log.trimmed_through = (commit, op)
        return log

    def log(self, model: GraphModel) -> StreamLog:
        """The stream of one graph: the property graph's (PG_JSON) or the RDF graph's (NQUADS)."""
        return self.sparql_stream if model == GraphModel.RDF else self.stream

    # -- Gremlin
    def submit(self, bytecode: Bytecode) -> list[Any]:
        fault = self.gremlin_faults.pick()
        if fault is not None:  # before anything runs: a refused traversal changes nothing, as in Neptune
            self.gremlin_faults.injected += 1
            raise GraphError(DOCUMENTED_MESSAGES.get(fault, f"injected {fault}"), fault)
        with self.lock:
            tx = Transaction(self.graph)
            try:
                result = Interpreter(self.graph, tx).run(bytecode)
                wire = to_wire(result)
                self._commit(tx)
            except BaseException:
                tx.rollback()
                raise
            return wire  # type: ignore[no-any-return]

    def _commit(self, tx: Transaction) -> None:
        records = tx.records()
        if not records:
            return
        commit, ts = self.next_commit, self.now_ms()
        rows = [
            (commit, op, ts, record_json(commit, op, ts, record, op == len(records)))
            for op, record in enumerate(records, start=1)
            if self.streams_enabled
        ]
        self.persistence.commit(rows, records, commit + 1)
        self.next_commit = commit + 1
        for c, op, t, body in rows:
            self.stream.append((c, op), t, body)

    # -- SPARQL
    def sparql_update(self, text: str) -> int:
        """One SPARQL Update request, one transaction: its changes (quads added and removed, as a diff) are the
        transaction's NQUADS records. Returns how many; a refused update (SparqlError) changes nothing."""
        with self.lock:
            changes = self.rdf.update(text)
            if not changes:
                return 0
            commit, ts = self.next_commit, self.now_ms()
            rows = [
                (commit, op, ts, record_json(commit, op, ts, {"data": {"stmt": c.statement}, "op": c.op}, op == len(changes)))
                for op, c in enumerate(changes, start=1)
                if self.streams_enabled
            ]
            self.persistence.commit_rdf(rows, [(c.op, c.quad) for c in changes], commit + 1)
            self.next_commit = commit + 1
            for c, op, t, body in rows:
                self.sparql_stream.append((c, op), t, body)
            return len(changes)

    def sparql_query(self, text: str, accept: str | None) -> tuple[str, bytes]:
        with self.lock:
            return self.rdf.query(text, accept)

    # -- Streams
    def read_stream(
        self, params: dict[str, str], model: GraphModel = GraphModel.PROPERTY_GRAPH
    ) -> tuple[int, str, dict[str, str]]:
        """(HTTP status, body, headers) for GET /propertygraph/stream, or /sparql/stream for the RDF model."""
        if not self.streams_enabled:
            # "As soon as Streams is turned off, you can't access the change-log data any more"
            # (https://docs.aws.amazon.com/neptune/latest/userguide/streams-using-disabling.html). What the endpoint
            # then answers is not documented: this error is the emulator's choice (docs/emulator.md).
            return _error(StreamError("UnsupportedOperationException", 400, STREAMS_DISABLED))
        fault = self.faults.pick()
        if fault == "slow":
            self.faults.injected += 1
            time.sleep(self.faults.delay_ms / 1000)
        elif fault is not None and fault != "malformed":
            self.faults.injected += 1
            status = 503 if fault == "InternalFailure" else 500
            return _error(StreamError(fault, status, f"injected {fault}"))
        with self.lock:
            self._expire()
            try:
                body = self.log(model).read(params)["body"]
            except StreamError as error:
                return _error(error)
        if fault == "malformed":  # only a page with records can be damaged
            self.faults.injected += 1
            body = self._corrupt(body)
        return 200, body, {}

    def _corrupt(self, body: str) -> str:
        """A damaged page, as a broken proxy or a bug would deliver it: cut short, a record without its
        element id, or a record repeated out of order."""
        variant = self.faults.rng.choice(("truncated", "no-element-id", "out-of-order"))
        if variant == "truncated":
            return body[: len(body) // 2]
        page = json.loads(body)
        records = page["records"]
        if variant == "no-element-id":  # a PG_JSON record's element id, an NQUADS record's statement
            data = self.faults.rng.choice(records)["data"]
            del data["stmt" if page["format"] == FORMATS[GraphModel.RDF] else "id"]
        else:
            records.append(records[0])
        return json.dumps(page)

    def advance_clock(self, seconds: float) -> None:
        """Moves the emulator's time forward (commit timestamps, retention), as if `seconds` had passed."""
        with self.lock:
            base = self.clock
            self.clock = lambda: base() + seconds

    def _expire(self) -> None:
        cutoff = self.now_ms() - int(self.expiry_seconds * 1000)
        for log in (self.stream, self.sparql_stream):
            if log.timestamps and log.timestamps[0] < cutoff and log.expire(cutoff):
                self.persistence.expire(cutoff, log.format)
                self.persistence.set_meta(TRIMMED_KEYS[log.format], json.dumps(log.trimmed_through))

    # -- status and fast reset
    def status(self) -> dict[str, Any]:
        return {
            "status": "healthy",
            "startTime": self.started,
            "dbEngineVersion": ENGINE_VERSION,
            "role": "writer",
            "dfeQueryEngine": "viaQueryHint",
            "gremlin": {"version": "tinkerpop-3.7.3"},
            "sparql": {"version": "sparql-1.1"},
            "opencypher": {"version": "Neptune-9.0.20190305-1.0"},
            "labMode": {"ObjectIndex": "disabled", "ReadWriteConflictDetection": "enabled"},
            "features": {
                "ResultCache": {"status": "disabled"},
                "IAMAuthentication": "disabled",
                "Streams": "enabled" if self.streams_enabled else "disabled",
                "AuditLog": "disabled",
            },
            "settings": {"clusterQueryTimeoutInMs": "120000"},
        }

    def fast_reset(self, action: str | None, token: str | None) -> tuple[int, dict[str, Any]]:
        with self.lock:
            if action == "initiateDatabaseReset":
                new = secrets.token_hex(16)
                self.reset_tokens = {new: self.clock() + 60}
                return 200, {"status": "200 OK", "payload": {"token": new}}
            if action == "performDatabaseReset":
                if not token or self.reset_tokens.get(token, 0) < self.clock():
                    return 400, {"code": "InvalidParameterException", "detailedMessage": "invalid or expired reset token"}
                self.reset_tokens.clear()
                self.persistence.reset()
                self.graph = Graph()
                self.rdf.clear()
                self.stream = StreamLog.empty(FORMATS[GraphModel.PROPERTY_GRAPH])
                self.sparql_stream = StreamLog.empty(FORMATS[GraphModel.RDF])
                self.next_commit = 1
                return 200, {"status": "200 OK"}
            return 400, {"code": "InvalidParameterException", "detailedMessage": f"unknown action {action!r}"}

    def close(self) -> None:
        with self.lock:
            self.persistence.close()


def _error(error: StreamError) -> tuple[int, str, dict[str, str]]:
    body = json.dumps(
        {"code": error.code, "requestId": secrets.token_hex(8), "detailedMessage": error.message, "message": error.message}
    )
    return error.status, body, {"x-amzn-ErrorType": error.code}


__all__ = ["FAULT_APIS", "FAULT_KINDS", "Engine", "GraphError"]
