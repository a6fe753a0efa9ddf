"""`python -m neptune_emulator --port 8182 --db .local/graph.db [--tls]`: runs the emulator until Ctrl-C."""

from __future__ import annotations

import argparse
import errno
import signal
import sqlite3
import sys
import threading

from neptune_entry.arguments import database_file, float_above, port
from neptune_entry.errors import BusyError, UsageError
from neptune_entry.runner import run_entry_point

DEFAULT_PORT = 8182  # Neptune's port


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--port", type=port, default=DEFAULT_PORT, help=f"TCP port on 127.0.0.1 (default {DEFAULT_PORT}; 0: any free one)"
    )
    parser.add_argument(
        "--db", type=database_file, default=":memory:", help="SQLite file that keeps the graph and its stream (default: memory)"
    )
    parser.add_argument(
        "--expiry-seconds",
        type=float_above(0),
        default=7 * 86_400,
        help="stream retention in seconds (default 7 days; Neptune allows 1 to 90 days)",
    )
    parser.add_argument(
        "--tls",
        action="store_true",
        help="serve https:// and wss:// (as Neptune does) with a certificate for localhost and 127.0.0.1 signed by a local "
        "CA kept beside --db as ca.pem (made on first use); without it, plain http:// and ws://",
    )
    parser.add_argument(
        "--streams-disabled",
        action="store_true",
        help="play a cluster with neptune_streams=0: /status says Streams is disabled, nothing is logged or served",
    )


def serve(args: argparse.Namespace) -> int:
    from neptune_emulator.engine import Engine
    from neptune_emulator.server import EmulatorServer
    from neptune_emulator.tls import ca_directory, server_tls

    tls = None
    if args.tls:
        directory = ca_directory(args.db)
        try:
            tls = server_tls(directory)
        except (OSError, ValueError) as error:
            raise UsageError(
                f"--tls: the local CA in {directory} cannot be made or read: {error}",
                "give --db a path in a folder you can write, or delete the damaged ca.pem and ca-key.pem there",
            ) from None
    try:
        engine = Engine(args.db, expiry_seconds=args.expiry_seconds, streams_enabled=not args.streams_disabled)
    except sqlite3.DatabaseError as error:
        raise UsageError(f"--db {args.db} cannot be used: {error}", "give a new path, or a file this emulator wrote") from None
    try:
        server = EmulatorServer(engine, port=args.port, tls=tls).start()
    except OSError as error:
        engine.close()
        if error.errno == errno.EADDRINUSE:
            raise BusyError(
                f"port {args.port} on 127.0.0.1 is already in use (another emulator or a local run?)",
                "pick another with --port, or --port 0 for any free one",
            ) from None
        if error.errno == errno.EACCES:
            raise UsageError(f"port {args.port} needs privileges this user does not have", "use a port above 1023") from None
        raise
    print(f"Neptune emulator on {server.endpoint} (Gremlin: {server.gremlin_url}); Ctrl-C stops it", flush=True)
    if tls is not None:
        print(f"TLS: its certificate is signed by the local CA {tls.ca_file}; clients trust it with", flush=True)
        for name, value in tls.client_variables().items():
            print(f"  export {name}={value}", flush=True)
        print("(the first two replace those clients' default trust: set them only where they talk to the emulator)", flush=True)
    done = threading.Event()
    signal.signal(signal.SIGINT, lambda *_: done.set())
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    done.wait()
    server.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    return run_entry_point(
        argv, "neptune-stream emulator", "Local Neptune emulator (Gremlin, Streams, status, fast reset)", add_arguments, serve
    )


if __name__ == "__main__":
    sys.exit(main())
