"""Runs `python -m neptune_local.demo` as `make demo` does, small and quick (two polls per execution,
half-second invocations, a two-second schedule), and reads the summary line it ends with."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# A bound on a whole demo run; its expiry fails the test with the command named.
DEMO_TIMEOUT_SECONDS = 300


@dataclass(frozen=True)
class DemoRun:
    summary: dict[str, Any]  # the JSON line the demo prints last
    output: str  # stdout and stderr


def run_demo(cdk_out: Path, data_dir: Path, *args: str) -> DemoRun:
    """The demo with `args` on the synthesized app `cdk_out`, its files in `data_dir`; it must succeed."""
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "neptune_local.demo",
            *args,
            "--iterations-per-execution",
            "2",
            "--time-budget",
            "0.5",
            "--schedule-period",
            "2",
            "--cdk-out",
            str(cdk_out),
            "--data-dir",
            str(data_dir),
        ],
        capture_output=True,
        text=True,
        timeout=DEMO_TIMEOUT_SECONDS,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return DemoRun(json.loads(result.stdout.strip().splitlines()[-1]), result.stdout + result.stderr)
