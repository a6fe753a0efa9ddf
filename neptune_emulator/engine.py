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
from collections.abc import Callable, Sequence
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
# "the longest time Neptune can keep a script-based session open is 10 minutes. If you don't close a session
# before that, the session times out and everything in it is rolled back"
# (https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-sessions.html); the emulator
# holds bytecode sessions (g.tx()) to the same limit.
SESSION_LIMIT_SECONDS = 600.0
SESSION_CONFLICT = (
    "The request processing did not succeed due to a modification conflict. The client should retry the request. "
    "(neptune-stream emulator: session {session} holds uncommitted writes; its commit or rollback frees the graph)"
)


@dataclass(eq=False)
class Session:
    """A Gremlin session (gremlinpython's and gremlin-javascript's g.tx()): everything between its begin and its
    commit is one transaction ("When bound to a session, multiple requests can be applied within the context of a
    single transaction": https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-transactions.html).
    Its writes go to a private copy of the graph, made at its first write, so no other client reads them before
    the commit ("read-only queries in Neptune never see uncommitted data from concurrent transactions":
    https://docs.aws.amazon.com/neptune/latest/userguide/transactions-neptune.html); the commit swaps the copy in
    and logs one commit."""

    id: str
    owner: object  # the connection it was opened on: closing that connection closes it
    opened: float
    graph: Graph | None = None
    tx: Transaction | None = None
    failed: str | None = None  # why its transaction was rolled back: later requests are refused with it


def graph_op(bytecode: Bytecode) -> str | None:
    """ "commit" or "rollback" for the bytecode of g.tx().commit() / .rollback() (a `tx` source instruction)."""
    source = bytecode.source_instructions
    if len(source) == 1 and source[0][0] == "tx" and not bytecode.step_instructions and len(source[0]) == 2:
        return str(source[0][1])
    return None


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
        self.sessions: dict[str, Session] = {}
        self.writer_session: Session | None = None  # the one session holding uncommitted writes
        self.session_limit_seconds = SESSION_LIMIT_SECONDS
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
    def submit(self, bytecode: Bytecode, session: str | None = None, owner: object = None) -> list[Any]:
        """Runs one traversal: sessionless, its own transaction; in a session (`session`, the id the client
        sent), part of that session's transaction."""
        fault = self.gremlin_faults.pick()
        if fault is not None:  # before anything runs: a refused traversal changes nothing, as in Neptune
            self.gremlin_faults.injected += 1
            raise GraphError(DOCUMENTED_MESSAGES.get(fault, f"injected {fault}"), fault)
        with self.lock:
            self._expire_sessions()
            if session is not None:
                return self._submit_in_session(bytecode, session, owner)
            op = graph_op(bytecode)
            if op is not None:
                raise GraphError(f"g.tx().{op}() needs a session (begin one with g.tx().begin())", "IllegalArgumentException")
            tx = Transaction(self.graph)
            try:
                result = Interpreter(self.graph, tx).run(bytecode)
                wire = to_wire(result)
                if tx.changes and self.writer_session is not None:
                    # In Neptune a mutation locks what it writes, and one in conflict with another transaction waits,
                    # then fails with this code (https://docs.aws.amazon.com/neptune/latest/userguide/transactions-neptune.html,
                    # transactions-exceptions.html). The emulator's lock is the whole graph and it does not wait:
                    # while a session holds uncommitted writes, every other write is refused at once (README).
                    raise GraphError(SESSION_CONFLICT.format(session=self.writer_session.id), "ConcurrentModificationException")
                self._commit(tx)
            except BaseException:
                tx.rollback()
                raise
            return wire  # type: ignore[no-any-return]

    def _submit_in_session(self, bytecode: Bytecode, sid: str, owner: object) -> list[Any]:
        s = self.sessions.get(sid)
        if s is None:
            s = self.sessions[sid] = Session(sid, owner, self.clock())
        op = graph_op(bytecode)
        if op == "commit":
            self._commit_session(s)
            return []
        if op == "rollback":
            self._reset_session(s)
            return []
        if s.failed is not None:
            raise GraphError(s.failed, "BadRequestException")
        try:
            if s.graph is None:
                # No writes yet: read the shared graph. A request that writes runs again on a private copy.
                probe = Transaction(self.graph)
                try:
                    wire = to_wire(Interpreter(self.graph, probe).run(bytecode))
                finally:
                    wrote = bool(probe.changes)
                    probe.rollback()
                if not wrote:
                    return wire  # type: ignore[no-any-return]
                if self.writer_session is not None and self.writer_session is not s:
                    raise GraphError(SESSION_CONFLICT.format(session=self.writer_session.id), "ConcurrentModificationException")
                s.graph = self.graph.copy()
                s.tx = Transaction(s.graph)
                self.writer_session = s
            assert s.tx is not None
            return to_wire(Interpreter(s.graph, s.tx).run(bytecode))  # type: ignore[no-any-return]
        except GraphError as error:
            # "If a query fails ... the session transaction is not committed, and all the queries in it are rolled
            # back" (access-graph-gremlin-sessions.html): later requests say so rather than commit a part of it.
            self._fail_session(
                s,
                f"session {sid}: its transaction was rolled back after an earlier request failed "
                f"({error.code}: {error.message}); roll back or close the session and retry the whole transaction",
            )
            raise
        except BaseException:
            self._fail_session(
                s, f"session {sid}: its transaction was rolled back after an internal failure; retry the whole transaction"
            )
            raise

    def _commit_session(self, s: Session) -> None:
        if s.failed is not None:
            message = s.failed
            self._reset_session(s)
            raise GraphError(f"nothing was committed: {message}", "BadRequestException")
        if s.tx is not None and s.graph is not None:
            self._commit(s.tx)  # one commit for the whole session, persisted before the graph changes
            self.graph = s.graph
        self._reset_session(s)

    def _reset_session(self, s: Session) -> None:
        """Ends the session's transaction without committing it: its private graph is dropped whole."""
        s.graph, s.tx, s.failed = None, None, None
        if self.writer_session is s:
            self.writer_session = None

    def _fail_session(self, s: Session, why: str) -> None:
        self._reset_session(s)
        s.failed = why

    def close_session(self, sid: str) -> None:
        """The client closed the session: what it did not commit is rolled back (the user guide describes the close
        of a script-based session only; a bytecode transaction is committed by its commit, never by a close)."""
        with self.lock:
            s = self.sessions.pop(sid, None)
            if s is not None:
                self._reset_session(s)

    def close_sessions_of(self, owner: object) -> None:
        """The connection went away: its sessions are closed, and what they did not commit is rolled back."""
        with self.lock:
            for sid in [sid for sid, s in self.sessions.items() if s.owner is owner]:
                self._reset_session(self.sessions.pop(sid))

    def _expire_sessions(self) -> None:
        now = self.clock()
        for s in self.sessions.values():
            if s.failed is None and now - s.opened > self.session_limit_seconds:
                self._fail_session(
                    s,
                    f"session {s.id} was open longer than {self.session_limit_seconds:g} seconds, Neptune's limit: "
                    "everything in it was rolled back; retry the whole transaction in a new session",
                )

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
    def sparql_update(self, text: str, using: Sequence[str] = (), using_named: Sequence[str] = ()) -> int:
        """One SPARQL Update request, one transaction: its changes (quads added and removed, as a diff) are the
        transaction's NQUADS records. Returns how many; a refused update (SparqlError) changes nothing."""
        with self.lock:
            changes = self.rdf.update(text, using, using_named)
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

    def sparql_query(
        self, text: str, accept: str | None, default_graphs: Sequence[str] = (), named_graphs: Sequence[str] = ()
    ) -> tuple[str, bytes]:
        with self.lock:
            return self.rdf.query(text, accept, default_graphs, named_graphs)

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
            # No "opencypher" entry: the emulator does not serve /openCypher, and /status says only what it serves.
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
                for s in self.sessions.values():
                    self._reset_session(s)
                self.sessions.clear()
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
