"""Where the deployed code comes from: the Lambda handlers' folders, the layer's capture package and the
pins the layer's Powertools is installed with. All three are package data of the installed project, found
with importlib.resources (https://docs.python.org/3/library/importlib.resources.html), so a construct
imported from `pip install neptune-stream` finds them as one run from this checkout does:

- the handlers: the package `neptune_stream.handlers`, which pyproject.toml maps to the checkout's lambdas/;
- the layer: the package `neptune_capture` itself (layer/python/neptune_capture in the checkout);
- the pins: `neptune_stream/constraints.txt`, a link to the checkout's constraints.txt that the wheel holds
  as a file."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

# What the asset leaves out: bytecode caches the tests and the local run write beside the sources.
EXCLUDES = ["__pycache__", "*.pyc"]
# Where the layer's pip-installed Powertools is kept between synths (NEPTUNE_STREAM_CACHE overrides it).
CACHE_ENV = "NEPTUNE_STREAM_CACHE"


class MissingAssetError(RuntimeError):
    """The installed package lacks a file the synth needs; the message names it and how to get it back."""


def _folder(package: str, *parts: str) -> Path:
    """A package data folder as a real path: CDK's assets copy from the file system. A zipped install would
    give no path to copy from; it is refused with the way out."""
    found = resources.files(package).joinpath(*parts)
    where = "/".join([package.replace(".", "/"), *parts])
    if not isinstance(found, Path):
        raise MissingAssetError(
            f"{where} is not on the file system ({found!r}); next: install neptune-stream as files (pip install, not a zip)"
        )
    if not found.exists():
        raise MissingAssetError(
            f"{where} is missing from the installed package (looked in {found.parent}); "
            "next: reinstall it (pip install --force-reinstall neptune-stream, or `make env` in a checkout)"
        )
    return found


def handler_folder(name: str) -> Path:
    """The folder of one Lambda (status, reset, stream_handler): its index.py is the asset."""
    return _folder("neptune_stream.handlers", name)


def layer_package() -> Path:
    """The capture package the layer ships under python/ (the folder Lambda puts on sys.path)."""
    return _folder("neptune_capture")


def constraints() -> Path:
    """The project's pins, which the layer's Powertools and its dependencies are installed with."""
    return _folder("neptune_stream", "constraints.txt")


def cache_folder() -> Path:
    """The layer build cache: NEPTUNE_STREAM_CACHE if set; .cache/ beside pyproject.toml in a checkout
    (`make clean` empties it); otherwise the user's cache folder (XDG_CACHE_HOME, or ~/.cache)."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() and (checkout / "neptune_stream").is_dir():
        return checkout / ".cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "neptune-stream"
