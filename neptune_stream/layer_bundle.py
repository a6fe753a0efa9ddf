"""The project's Lambda layer, built at synth without Docker: the capture package (layer/python/
neptune_capture, unchanged) and Powertools with its dependencies, pip-installed as wheels for the Lambda
platform (Python 3.14, arm64) into the layer's python/ folder, the folder Lambda puts on sys.path
(https://docs.aws.amazon.com/lambda/latest/dg/packaging-layers.html#packaging-layers-paths).

Shipping Powertools ourselves works in every region that has Neptune, the China regions included, where
its publisher's layer does not exist; the pins are the ones constraints.txt holds, so the deployed
Powertools is the tested one. pip runs once per set of pins: its result is kept in the cache folder
(assets.cache_folder: .cache/layer/ in a checkout; a synth after that only copies), and the asset hash
covers the pins and the layer's sources, so changing either uploads a new layer version. Sources and pins
are the installed package's data (assets.py), so a construct installed with pip builds the same layer."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import jsii
from aws_cdk import AssetHashType, BundlingOptions, DockerImage, ILocalBundling
from aws_cdk import aws_lambda as lambda_

from neptune_capture.contract import ContextKey
from neptune_stream import assets
from neptune_stream.assets import EXCLUDES

POWERTOOLS_VERSION = "3.37.0"  # the version pyproject.toml pins, so what is tested is what runs
REQUIREMENTS = (f"aws-lambda-powertools=={POWERTOOLS_VERSION}",)
# Wheels for the functions' runtime and architecture, as the Lambda guide installs them for arm64
# (https://docs.aws.amazon.com/lambda/latest/dg/python-package.html); Powertools' are pure Python anyway.
PIP_PLATFORM = ("--platform", "manylinux2014_aarch64", "--implementation", "cp", "--python-version", "3.14")


class LayerBuildError(RuntimeError):
    """The layer could not be built; the message says which step failed and how to fix it."""


def _pins() -> str:
    """What decides the installed files: the requirements, the platform and every pin constraints.txt holds."""
    return "\n".join([*REQUIREMENTS, *PIP_PLATFORM, assets.constraints().read_text()])


def _sources_digest() -> str:
    digest = hashlib.sha256()
    package = assets.layer_package()
    for path in sorted(package.rglob("*.py")):
        digest.update(str(path.relative_to(package)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def asset_hash() -> str:
    return hashlib.sha256(f"{_sources_digest()}|{_pins()}".encode()).hexdigest()


def installed_dependencies() -> Path:
    """The pip-installed dependencies for the Lambda platform, from the cache or installed once into it.
    Installed into a temporary folder first and renamed into place, so a concurrent synth never sees half
    of it."""
    key = hashlib.sha256(_pins().encode()).hexdigest()[:16]
    cache = assets.cache_folder() / "layer"
    target = cache / key
    if (target / "aws_lambda_powertools").is_dir():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=cache))
    command = [
        sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-compile",
        "--only-binary=:all:", *PIP_PLATFORM, "--target", str(staging), "-c", str(assets.constraints()), *REQUIREMENTS,
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        shutil.rmtree(staging, ignore_errors=True)
        raise LayerBuildError(
            f"pip could not install {', '.join(REQUIREMENTS)} for the Lambda platform (needs the package index, once; "
            f"or use {ContextKey.POWERTOOLS.flag('public-layer')}): {result.stderr.strip()[-2000:]}"
        )
    try:
        os.rename(staging, target)
    except OSError:  # another synth finished first: its copy is the same
        shutil.rmtree(staging, ignore_errors=True)
    return target


@jsii.implements(ILocalBundling)
class LocalLayerBundling:
    """Builds the layer in the asset's output folder on this machine, instead of in a Docker container."""

    def __init__(self, with_powertools: bool) -> None:
        self.with_powertools = with_powertools

    def try_bundle(self, output_dir: str, *_: Any, **__: Any) -> bool:
        python = Path(output_dir) / "python"
        package = assets.layer_package()
        shutil.copytree(package, python / package.name, ignore=shutil.ignore_patterns(*EXCLUDES))
        if self.with_powertools:
            shutil.copytree(installed_dependencies(), python, dirs_exist_ok=True, ignore=shutil.ignore_patterns(*EXCLUDES))
            shutil.rmtree(python / "bin", ignore_errors=True)  # console scripts: nothing in Lambda runs them
        return True


def layer_code(*, with_powertools: bool) -> lambda_.Code:
    bundling = LocalLayerBundling(with_powertools)
    digest = asset_hash() if with_powertools else _sources_digest()
    # The source folder only anchors the asset: local bundling writes its output and the hash is our own.
    return lambda_.Code.from_asset(
        str(assets.layer_package()),
        asset_hash_type=AssetHashType.CUSTOM,
        asset_hash=f"{digest}-{'powertools' if with_powertools else 'core'}",
        # Never used: local bundling always succeeds or raises. CDK requires an image all the same.
        bundling=BundlingOptions(image=DockerImage.from_registry("local-bundling-only"), local=bundling),
    )
