"""The exit codes every `neptune-stream` command can end with, and what each means: `--help` and the
docs/cli.md print this table. Standard library only (the emulator's and the demo's entry points use it)."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    CHECK_FAILED = 1
    USAGE = 2  # argparse's own code for a bad command line
    NO_TARGET = 3
    AWS = 4
    NEPTUNE = 5
    BUSY = 6
    NO_DATA = 7
    INTERNAL = 70  # EX_SOFTWARE in BSD's sysexits.h
    INTERRUPTED = 130  # what a shell reports for a command ended by SIGINT (128 + 2)


MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success (`watch` also ends with 0 on Ctrl-C, its normal end)",
    ExitCode.CHECK_FAILED: "the command ran but its check failed: `demo`'s exactly-once verification",
    ExitCode.USAGE: (
        "invalid arguments: a value out of range, a missing file, a malformed id or time, `reset` without `--yes`, "
        "`start --from` on a stream already started"
    ),
    ExitCode.NO_TARGET: (
        "nothing to act on: no local run up (endpoints file missing or stale), no such stack in that region, "
        "a stack without the expected outputs, `reset` on a stack without a reset function (an existing cluster's)"
    ),
    ExitCode.AWS: (
        "AWS refused or is out of reach: missing or expired credentials, unknown profile, no region, "
        "access denied, throttling, an endpoint that does not answer"
    ),
    ExitCode.NEPTUNE: (
        "Neptune failed: unreachable, or an error from its status or fast reset (the emulator's or the Lambda's); "
        "`start` on a cluster whose Neptune Streams is off"
    ),
    ExitCode.BUSY: (
        "busy: a port already in use, a local run already up in that data directory, an execution already running, "
        "`reset` while the stream holds changes capture has not stored"
    ),
    ExitCode.NO_DATA: (
        "no data: `history` found no captured change of that element (in the range asked), `export` refused a "
        "capture that does not hold the graph from its first change (without `--partial`)"
    ),
    ExitCode.INTERNAL: "internal error, a bug: rerun with `--debug` for the traceback",
    ExitCode.INTERRUPTED: "interrupted (Ctrl-C)",
}


def epilog() -> str:
    """The exit codes as `--help` shows them."""
    return "exit codes:\n" + "\n".join(f"  {code.value:>3}  {MEANINGS[code]}" for code in ExitCode)
