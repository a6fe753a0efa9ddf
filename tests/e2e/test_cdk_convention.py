"""The CDK Python convention (issue 25): in a copy of the checkout, `python -m venv .venv &&
.venv/bin/pip install -r requirements.txt && npx cdk synth` synthesizes the stack, as in any CDK Python
project; cdk.json's app command runs in that venv. Marked e2e: it installs the CDK libraries into a fresh
venv (a minute or more; pip's cache makes it faster)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from neptune_capture.contract import STACK_NAME

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.e2e


def _copy_checkout(to: Path) -> Path:
    """The files git tracks or would track (what a clone holds), not .venv, node_modules or cdk.out."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT, capture_output=True, check=True
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = ROOT / name
        if source.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, to / name)
    # The pinned CDK CLI that `npm ci` installs, and the layer's pip cache (else the synth pip-installs
    # Powertools for the Lambda platform once more), shared rather than installed again.
    (to / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    if (ROOT / ".cache").exists():
        (to / ".cache").symlink_to(ROOT / ".cache", target_is_directory=True)
    return to


def _cdk_synth(project: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env |= {
        "CDK_DISABLE_VERSION_CHECK": "1",
        "CDK_CLI_TELEMETRY_DISABLED": "1",
        "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
    }
    return subprocess.run(
        ["npx", "--no-install", "cdk", "synth", "--no-notices", "--no-version-reporting", "--quiet"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def checkout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (ROOT / "node_modules" / ".bin" / "cdk").exists():
        pytest.fail("node_modules/.bin/cdk is missing: run `make env` (npm ci) first")
    return _copy_checkout(tmp_path_factory.mktemp("checkout"))


def test_requirements_txt_then_cdk_synth_synthesizes_the_stack(checkout: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(checkout / ".venv")], check=True)
    pip = [str(checkout / ".venv" / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    installed = subprocess.run([*pip, "-r", "requirements.txt"], cwd=checkout, capture_output=True, text=True, check=False)
    assert installed.returncode == 0, installed.stderr[-3000:]
    done = _cdk_synth(checkout)
    assert done.returncode == 0, done.stderr[-3000:]
    # The engine's end-of-life warning is printed, without the jsii runtime's stack frame above it (app.py).
    assert "engineEndOfLife" in done.stderr and "lib/program.js" not in done.stdout + done.stderr, done.stderr[-3000:]
    template = json.loads((checkout / "cdk.out" / f"{STACK_NAME}.template.json").read_text())
    assert any(r["Type"] == "AWS::StepFunctions::StateMachine" for r in template["Resources"].values())
    # Every package at its pin, and only what deploying needs: not the local run's moto.
    frozen = subprocess.run(
        [str(checkout / ".venv" / "bin" / "python"), "-m", "pip", "freeze"], capture_output=True, text=True, check=True
    )
    pins = dict(_pin(line) for line in (ROOT / "constraints.txt").read_text().splitlines() if "==" in line)
    # (pip freeze names the editable project in a comment and an `-e` line: it is the checkout, not a pin.)
    installed_versions = dict(
        _pin(line) for line in frozen.stdout.splitlines() if "==" in line and not line.startswith(("#", "-e"))
    )
    assert "aws-cdk-lib" in installed_versions
    off_pin = {name: v for name, v in installed_versions.items() if pins.get(name) != v}
    assert not off_pin, f"installed but not at constraints.txt's pin (or not pinned there): {off_pin}"
    assert "moto" not in installed_versions


def _pin(line: str) -> tuple[str, str]:
    name, version = line.split("==", 1)
    return re.sub(r"[-_.]+", "-", name.strip()).lower(), version.strip()


def test_a_venv_without_the_requirements_cannot_synthesize(checkout: Path, tmp_path: Path) -> None:
    """The check above would notice a requirements.txt that does not install the CDK libraries."""
    bare = _copy_checkout(tmp_path / "bare")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(bare / ".venv")], check=True)
    done = _cdk_synth(bare)
    assert done.returncode != 0
    assert "aws_cdk" in done.stderr or "neptune_stream" in done.stderr or "No module named" in done.stderr
