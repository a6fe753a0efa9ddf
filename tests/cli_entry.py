"""Runs `./neptune-stream` as a person does (a subprocess through the project's wrapper) and checks how
it ends: the exit code, no traceback, at most two lines on stderr, the words of the message."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ENTRY = ROOT / "neptune-stream"
# A bound for a command that should end in seconds; its expiry fails the test with the command named.
COMMAND_TIMEOUT_SECONDS = 120


def run_cli(*args: str, env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(ENTRY), *args],
        capture_output=True,
        text=True,
        timeout=COMMAND_TIMEOUT_SECONDS,
        env=dict(os.environ if env is None else env),
        stdin=subprocess.DEVNULL,
        check=False,
    )


def assert_fails(result: subprocess.CompletedProcess[str], code: int, *words: str) -> None:
    shown = f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert result.returncode == code, shown
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, shown
    lines = result.stderr.strip().splitlines()
    assert 1 <= len(lines) <= 2 and lines[0].startswith("error: "), shown
    for word in words:
        assert word in result.stderr, f"{word!r} not in the message\n{shown}"


def refusal_of_module(module: str, *args: str) -> tuple[str, str]:
    """Runs `python -m module args` (a tool of the repository, as its Make target does) that must refuse its
    input: exit code 2 and exactly two lines on stderr, the problem and a next step. Returns both lines."""
    done = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        timeout=COMMAND_TIMEOUT_SECONDS,
    )
    assert done.returncode == 2, done
    problem, next_step = done.stderr.strip().splitlines()
    assert next_step.strip().startswith("next:"), done.stderr
    return problem, next_step


def closed_port() -> int:
    """A port nothing listens on (bound, then released: the kernel does not hand it out again at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def without_aws_credentials(tmp: Path, **extra: str) -> dict[str, str]:
    """The environment of someone with no AWS credentials anywhere boto3 looks."""
    empty = tmp / "empty-aws-file"
    empty.write_text("")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= {
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
        "AWS_EC2_METADATA_DISABLED": "true",  # no instance-metadata lookup (and its timeouts) on this machine
    }
    return env | extra
