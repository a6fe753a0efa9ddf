"""The JavaScript clients users point at Neptune, against the emulator over TLS: TinkerPop's `gremlin` with each
of its serializers and a g.tx() session, and `@aws-sdk/client-neptunedata` (tests/e2e/neptune_clients.mjs, node
trusting the emulator's CA through NODE_EXTRA_CA_CERTS)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from neptune_emulator.engine import Engine
from neptune_emulator.server import EmulatorServer
from neptune_emulator.tls import server_tls

pytestmark = pytest.mark.e2e  # starts servers: not part of `make unit`

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("neptune_clients.mjs")
HANG_GUARD_SECONDS = 300  # not a synchronization: a hung client fails the test rather than the whole run


def node_run(endpoint: str, ca_file: Path | None) -> subprocess.CompletedProcess[str]:
    node = shutil.which("node")
    assert node, "node is needed (make env installs the project's Node packages with npm ci)"
    assert (ROOT / "node_modules" / "gremlin").is_dir(), "node_modules lacks gremlin: run make env (npm ci)"
    env = {k: v for k, v in os.environ.items() if k != "NODE_EXTRA_CA_CERTS"}
    if ca_file is not None:
        env["NODE_EXTRA_CA_CERTS"] = str(ca_file)
    return subprocess.run(
        [node, str(SCRIPT), endpoint], cwd=ROOT, env=env, capture_output=True, text=True, timeout=HANG_GUARD_SECONDS, check=False
    )


def run_clients(endpoint: str, ca_file: Path) -> dict[str, object]:
    run = node_run(endpoint, ca_file)
    assert run.returncode == 0, run.stderr
    result: dict[str, object] = json.loads(run.stdout.strip().splitlines()[-1])
    return result


def test_gremlin_javascript_and_the_neptunedata_sdk_work_over_tls(tmp_path: Path) -> None:
    """https:// and wss:// with certificate verification, as against Neptune
    (https://docs.aws.amazon.com/neptune/latest/userguide/security-ssl.html); a session is one transaction at its
    commit and a rollback leaves nothing (https://docs.aws.amazon.com/neptune/latest/userguide/access-graph-gremlin-transactions.html);
    what is not served is the SDK's UnsupportedOperationException
    (https://docs.aws.amazon.com/neptune/latest/userguide/errors-engine-codes.html)."""
    tls = server_tls(tmp_path)
    with EmulatorServer(Engine(), tls=tls) as server:
        out = run_clients(server.endpoint, tls.ca_file)
    serializers = out["serializers"]
    assert isinstance(serializers, dict) and sorted(serializers) == ["graphbinary", "graphson2", "graphson3"]
    for name, seen in serializers.items():
        merged = [] if name == "graphson2" else [f"js-{name}-merged"]
        assert seen == {"ages": [31], "ids": sorted([f"js-{name}", f"js-{name}-m", f"js-{name}-tx", *merged])}, name
    stream = out["stream"]
    assert isinstance(stream, list)
    # Each session committed as one transaction: its vertex's label and its edge share one commit number.
    by_commit: dict[int, list[tuple[str, str]]] = {}
    for commit, element, kind, _change in stream:
        by_commit.setdefault(commit, []).append((element, kind))
    for name in serializers:
        (commit,) = {c for c, changes in by_commit.items() if (f"js-{name}-tx", "vl") in changes}
        assert [kind for _, kind in by_commit[commit]] == ["vl", "e"]
        assert all(element != f"js-{name}-rolled-back" for changes in by_commit.values() for element, _ in changes)
    assert out["status"] == {"status": "healthy", "opencypher": None, "gremlin": "tinkerpop-3.7.3"}
    cypher = out["openCypher"]
    assert isinstance(cypher, dict)
    assert cypher["error"] == "UnsupportedOperationException" and cypher["unsupported"] is True and cypher["status"] == 400
    assert "openCypher" in str(cypher["detailedMessage"])  # the error shape's member, as the SDK models it


def test_the_node_clients_refuse_the_emulator_without_its_ca(tmp_path: Path) -> None:
    """The script verifies certificates, as a client configured for Neptune does: without the CA it fails."""
    with EmulatorServer(Engine(), tls=server_tls(tmp_path)) as server:
        run = node_run(server.endpoint, None)
        assert server.engine.next_commit == 1  # nothing reached the graph
    assert run.returncode != 0 and "certificate" in run.stderr.lower()
