"""SQLite persistence of the graph and its stream: each committed transaction is one SQLite
transaction, so a restart keeps every committed change and continues commit numbers."""

from __future__ import annotations

import json
import sqlite3
from typing import Any

from neptune_emulator import values
from neptune_emulator.graph import LABEL_SEPARATOR, Edge, Graph, Vertex

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS stream (
    commit_num INTEGER NOT NULL, op_num INTEGER NOT NULL, commit_ts INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (commit_num, op_num)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS vertices (id TEXT PRIMARY KEY, label TEXT NOT NULL) WITHOUT ROWID;  -- labels, '::'-joined
CREATE TABLE IF NOT EXISTS vertex_properties (vertex_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL);
CREATE INDEX IF NOT EXISTS vertex_properties_by_vertex ON vertex_properties (vertex_id, key);
CREATE TABLE IF NOT EXISTS edges (
    id TEXT PRIMARY KEY, label TEXT NOT NULL, out_v TEXT NOT NULL, in_v TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS edge_properties (edge_id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (edge_id, key)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sparql_stream (
    commit_num INTEGER NOT NULL, op_num INTEGER NOT NULL, commit_ts INTEGER NOT NULL, body TEXT NOT NULL,
    PRIMARY KEY (commit_num, op_num)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS quads (stmt TEXT PRIMARY KEY) WITHOUT ROWID;  -- one N-Quads statement each
"""
STREAM_TABLES = {"PG_JSON": "stream", "NQUADS": "sparql_stream"}


class Persistence:
    def __init__(self, path: str) -> None:
        # One connection used from the server's thread only; check_same_thread off because the server
        # may be started from another thread than the one that built it.
        self.db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        if path != ":memory:":
            self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)

    def meta(self, key: str, default: str) -> str:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else default

    def load_graph(self) -> Graph:
        graph = Graph()
        for vid, label in self.db.execute("SELECT id, label FROM vertices"):
            graph.vertices[vid] = Vertex(vid, label.split(LABEL_SEPARATOR))
        for vid, key, value in self.db.execute("SELECT vertex_id, key, value FROM vertex_properties ORDER BY rowid"):
            graph.vertices[vid].properties.setdefault(key, []).append(values.load(value))
        for eid, label, out_v, in_v in self.db.execute("SELECT id, label, out_v, in_v FROM edges"):
            e = Edge(eid, label, graph.vertices[out_v], graph.vertices[in_v])
            graph.edges[eid] = e
            e.out_v.out_edges[eid] = e
            e.in_v.in_edges[eid] = e
        for eid, key, value in self.db.execute("SELECT edge_id, key, value FROM edge_properties"):
            graph.edges[eid].properties[key] = values.load(value)
        return graph

    def load_stream(self, fmt: str = "PG_JSON") -> list[tuple[int, int, int, str]]:
        table = STREAM_TABLES[fmt]
        return list(self.db.execute(f"SELECT commit_num, op_num, commit_ts, body FROM {table} ORDER BY commit_num, op_num"))

    def load_quads(self) -> list[str]:
        return [row[0] for row in self.db.execute("SELECT stmt FROM quads")]

    def commit_rdf(self, rows: list[tuple[int, int, int, str]], changes: list[tuple[str, str]], next_commit: int) -> None:
        """One SPARQL update: its stream rows and its changes (op, N-Quads statement) in one SQLite transaction."""
        cur = self.db.cursor()
        cur.execute("BEGIN")
        try:
            cur.executemany("INSERT INTO sparql_stream VALUES (?, ?, ?, ?)", rows)
            cur.executemany("INSERT OR IGNORE INTO quads VALUES (?)", [(stmt,) for op, stmt in changes if op == "ADD"])
            cur.executemany("DELETE FROM quads WHERE stmt = ?", [(stmt,) for op, stmt in changes if op == "REMOVE"])
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('next_commit', ?)", (str(next_commit),))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def commit(self, rows: list[tuple[int, int, int, str]], records: list[dict[str, Any]], next_commit: int) -> None:
        cur = self.db.cursor()
        cur.execute("BEGIN")
        try:
            cur.executemany("INSERT INTO stream VALUES (?, ?, ?, ?)", rows)
            for record in records:
                _apply(cur, record)
            cur.execute("INSERT OR REPLACE INTO meta VALUES ('next_commit', ?)", (str(next_commit),))
            cur.execute("COMMIT")
        except BaseException:
            cur.execute("ROLLBACK")
            raise

    def expire(self, before_ts: int, fmt: str = "PG_JSON") -> None:
        self.db.execute(f"DELETE FROM {STREAM_TABLES[fmt]} WHERE commit_ts < ?", (before_ts,))

    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, value))

    def reset(self) -> None:
        cur = self.db.cursor()
        cur.execute("BEGIN")
        for table in ("stream", "vertices", "vertex_properties", "edges", "edge_properties", "meta", "sparql_stream", "quads"):
            cur.execute(f"DELETE FROM {table}")
        cur.execute("COMMIT")

    def close(self) -> None:
        self.db.close()


def _apply(cur: sqlite3.Cursor, record: dict[str, Any]) -> None:
    data, op = record["data"], record["op"]
    kind, element_id = data["type"], data["id"]
    value = json.dumps(data["value"], separators=(",", ":"))
    if kind == "vl":
        if op == "ADD":  # one record per label: a second one for the same vertex adds to its labels
            cur.execute(
                "INSERT INTO vertices VALUES (?, ?) ON CONFLICT (id) DO UPDATE SET label = label || ? || excluded.label",
                (element_id, data["value"]["value"], LABEL_SEPARATOR),
            )
        else:  # a label goes only when its vertex is dropped
            cur.execute("DELETE FROM vertices WHERE id = ?", (element_id,))
    elif kind == "vp":
        if op == "ADD":
            cur.execute("INSERT INTO vertex_properties VALUES (?, ?, ?)", (element_id, data["key"], value))
        else:
            cur.execute(
                "DELETE FROM vertex_properties WHERE rowid = (SELECT rowid FROM vertex_properties "
                "WHERE vertex_id = ? AND key = ? AND value = ? LIMIT 1)",
                (element_id, data["key"], value),
            )
    elif kind == "e":
        if op == "ADD":
            cur.execute("INSERT INTO edges VALUES (?, ?, ?, ?)", (element_id, data["value"]["value"], data["from"], data["to"]))
        else:
            cur.execute("DELETE FROM edges WHERE id = ?", (element_id,))
    elif op == "ADD":
        cur.execute("INSERT OR REPLACE INTO edge_properties VALUES (?, ?, ?)", (element_id, data["key"], value))
    else:
        cur.execute("DELETE FROM edge_properties WHERE edge_id = ? AND key = ?", (element_id, data["key"]))
