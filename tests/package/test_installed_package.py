"""neptune-stream works from an installed package, outside this checkout: the wheel carries the handlers,
the layer's sources and the pins, and a CDK app of a user (examples/own-app) synthesizes with nothing but
the wheel installed in a fresh virtual environment.

How the wheel is installed, and why: into a new venv with `pip install <wheel> -c constraints.txt` from the
configured package index (pip's HTTP cache makes it quick on a warm machine). That is what a user does, and
it proves the wheel's own dependency metadata (aws-cdk-lib, neptune-alpha, constructs, cdk-nag) is enough.
The offline shortcut (`--no-deps` plus this venv's site-packages through a .pth file) would hide a missing
dependency, and `--no-index --find-links` over pip's cache is not reliable (the cache holds HTTP responses,
not a wheel house)."""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "own-app"
HANDLERS = ("reset", "status", "stream_handler")


def run(
    command: Sequence[str | Path], *, cwd: Path | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in command], capture_output=True, text=True, check=False, cwd=cwd, env=env)


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without what would point Python back at the checkout or this venv."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, **extra}


# What a source copy leaves out: environments, caches and build output (setuptools builds in the source's build/).
NOT_SOURCE = (".git", ".venv", "node_modules", "cdk.out", ".cache", ".local", "build", "*.egg-info", "__pycache__", ".*_cache")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    # Built from a copy of the sources, so the build leaves nothing in the checkout (links kept as links).
    source = tmp_path_factory.mktemp("source") / "neptune-stream"
    shutil.copytree(ROOT, source, symlinks=True, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    # An isolated build, as pip does for `pip install .`: setuptools at the version pyproject.toml pins.
    built = run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "--wheel-dir", dist, source], env=clean_env())
    assert built.returncode == 0, built.stderr
    (found,) = dist.glob("neptune_stream-*.whl")
    return found


def test_the_wheel_carries_the_handlers_the_layer_sources_and_the_pins(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for handler in HANDLERS:
        assert f"neptune_stream/handlers/{handler}/index.py" in names
    layer = sorted(p.name for p in (ROOT / "layer" / "python" / "neptune_capture").glob("*.py"))
    assert sorted(n.removeprefix("neptune_capture/") for n in names if n.startswith("neptune_capture/")) == layer
    # The pins as a file (the checkout links it to constraints.txt), with the same content.
    assert zipfile.ZipFile(wheel).read("neptune_stream/constraints.txt").decode() == (ROOT / "constraints.txt").read_text()
    # No top-level `lambdas` package: it would collide with a user's own folder of that name.
    assert not any(n.startswith("lambdas/") for n in names)


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel and its dependencies, nothing of the checkout."""
    venv = tmp_path_factory.mktemp("venv")
    created = run([sys.executable, "-m", "venv", venv], env=clean_env())
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    pip: list[str | Path] = [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    result = run([*pip, wheel, "-c", ROOT / "constraints.txt"], env=clean_env(), cwd=venv)
    assert result.returncode == 0, result.stderr[-3000:]
    return python


def synth_example(python: Path, workdir: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The example app copied to `workdir` (outside the checkout) and run as `cdk synth` runs it."""
    app = workdir / "app"
    shutil.copytree(EXAMPLE, app)
    out = workdir / "cdk.out"
    env = clean_env(
        CDK_OUTDIR=str(out),
        # A layer cache of its own: the installed package's pins drive pip here, not the checkout's cache.
        NEPTUNE_STREAM_CACHE=str(workdir / "cache"),
        JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION="20",
        # What `cdk synth` passes: asset metadata names each function's staged folder in the template.
        CDK_CONTEXT_JSON=json.dumps({"aws:cdk:enable-asset-metadata": True}),
    )
    return run([python, "app.py"], cwd=app, env=env), out


@pytest.mark.e2e
def test_the_example_app_synthesizes_from_the_installed_wheel(installed: Path, tmp_path: Path) -> None:
    where = run(
        [installed, "-c", "import neptune_stream, neptune_capture; print(neptune_stream.__file__, neptune_capture.__file__)"],
        cwd=tmp_path,
    )
    assert where.returncode == 0, where.stderr
    assert all(str(installed.parent.parent) in path for path in where.stdout.split()), where.stdout
    assert str(ROOT) not in where.stdout

    result, out = synth_example(installed, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    manifest = json.loads((out / "manifest.json").read_text())
    assert {"GraphWithCapture", "CaptureOfExistingGraph"} <= set(manifest["artifacts"])
    for stack in ("GraphWithCapture", "CaptureOfExistingGraph"):
        template = json.loads((out / f"{stack}.template.json").read_text())
        functions = {k: v for k, v in template["Resources"].items() if v["Type"] == "AWS::Lambda::Function"}
        assert len(functions) == 2, "status and stream handler; no reset function unless asked for"
        for function in functions.values():
            asset = out / function["Metadata"]["aws:asset:path"]
            folder = {"Reports the Neptune engine status": "status"}.get(function["Properties"]["Description"], "stream_handler")
            assert filecmp.cmp(asset / "index.py", ROOT / "lambdas" / folder / "index.py", shallow=False)
        (layer,) = [v for v in template["Resources"].values() if v["Type"] == "AWS::Lambda::LayerVersion"]
        shipped = out / layer["Metadata"]["aws:asset:path"] / "python"
        assert (shipped / "neptune_capture" / "contract.py").is_file()
        assert (shipped / "aws_lambda_powertools").is_dir(), "Powertools installed with the installed package's pins"


@pytest.mark.e2e
def test_an_install_without_its_pins_fails_the_synth_saying_so(installed: Path, tmp_path: Path) -> None:
    """The same run with the package data taken away: the synth stops and names the missing file."""
    # Run from the temporary folder: from the checkout, `python -c` would import the checkout's package.
    found = run([installed, "-c", "import neptune_stream; print(neptune_stream.__path__[0])"], cwd=tmp_path)
    site = Path(found.stdout.strip())
    assert site.is_relative_to(installed.parent.parent), site
    pins = site / "constraints.txt"
    kept = pins.read_bytes()
    pins.unlink()
    try:
        result, _ = synth_example(installed, tmp_path)
    finally:
        pins.write_bytes(kept)
    assert result.returncode != 0
    assert "neptune_stream/constraints.txt is missing from the installed package" in result.stderr
    assert "next: reinstall it" in result.stderr
