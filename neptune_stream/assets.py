"""Where the deployed code lives in this repository: the Lambda handlers' folders and the layer's folder
(its python/ subfolder is what Lambda mounts on /opt/python)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LAMBDAS = ROOT / "lambdas"
LAYER = ROOT / "layer"
# What the asset leaves out: bytecode caches the tests and the local run write beside the sources.
EXCLUDES = ["__pycache__", "*.pyc"]
