"""`python -m neptune_emulator --port 8182 --db .local/graph.db`: runs the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import signal
import threading

from neptune_emulator.engine import Engine
from neptune_emulator.server import EmulatorServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="neptune-stream emulator", description="Local Neptune emulator (Gremlin, Streams, status, fast reset)"
    )
    parser.add_argument("--port", type=int, default=8182)
    parser.add_argument("--db", default=":memory:", help="SQLite file that keeps the graph and its stream (default: memory)")
    parser.add_argument("--expiry-seconds", type=float, default=7 * 86_400, help="stream retention (Neptune: 1 to 90 days)")
    args = parser.parse_args(argv)
    server = EmulatorServer(Engine(args.db, expiry_seconds=args.expiry_seconds), port=args.port).start()
    print(f"Neptune emulator on {server.endpoint} (Gremlin: {server.gremlin_url}); Ctrl-C stops it", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
